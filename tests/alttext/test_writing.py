"""Writing alt text with the real exiftool, without a model: sidecars, embedding, the pixel
proof, read-back, Ctrl+C in the middle of a write, awkward names and unicode text."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from desktop_app.alttext import exiftool as et
from desktop_app.alttext.batch import Progress, Tally, WriteMode, run_batch, summary
from desktop_app.alttext.caption import Caption, caption_for
from desktop_app.alttext.files import files_in, sidecar_path
from desktop_app.alttext.pixels import fingerprint
from desktop_app.alttext.review import ReviewSheet
from desktop_app.alttext.writing import TEMP_PREFIX, WriteError, embed, write_sidecar
from tests.alttext.conftest import digest, jpeg_scan, needs_exiftool, pixels, read_tags, shapes_picture

UNICODE = Caption("Ein grüner Kreis — «вечер» 夕方 🌅, \"quoted\" & <tagged>",
                  "Ein grüner Kreis.\nThe text in the picture reads:\n=SUM(A1) Größe 42 €")

pytestmark = needs_exiftool


@pytest.fixture(scope="module")
def tool() -> et.Exiftool:
    with et.Exiftool.find() as found:
        yield found


@pytest.fixture(scope="module", params=["kept open", "one per command"])
def either_tool(request) -> et.Exiftool:
    """exiftool both ways it runs: kept open (the usual way) and started for each command."""
    with et.Exiftool.find() as found:
        found._keep_open = request.param == "kept open"
        yield found
        assert (found._kept is not None) == found._keep_open


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(f"{TEMP_PREFIX}*"))


def test_the_installed_exiftool_knows_the_accessibility_properties(tool):
    assert tool.version and float(tool.version) >= 12.33


@pytest.mark.parametrize("name", ["photo.jpg", "-dash.jpg", "ünï cødé.jpg", "--help.jpg", "a;b$(x).jpg",
                                  "two\nlines -execute.jpg", "#[CSTR]back\\slash\\n.jpg", " spaced .jpg"])
def test_sidecar_beside_an_untouched_picture_and_exiftool_reads_it(either_tool, tmp_path, monkeypatch, name):
    tool = either_tool
    monkeypatch.chdir(tmp_path)
    picture = Path(name)  # relative, as typed: "-dash.jpg" must still not be an option
    shapes_picture().save(picture, "JPEG", quality=90)
    before = digest(picture)
    written = write_sidecar(tool, picture, UNICODE)
    assert written == Path(name + ".xmp") == sidecar_path(picture)
    tags = read_tags(written)
    assert tags["XMP-iptcCore:AltTextAccessibility"] == UNICODE.alt_text
    assert tags["XMP-iptcCore:ExtDescrAccessibility"] == UNICODE.extended
    assert digest(picture) == before
    assert "x-default" in written.read_text(encoding="utf-8")
    assert leftovers(tmp_path) == []


def test_a_new_sidecar_holds_only_the_alt_text_not_the_pictures_other_metadata(tool, tmp_path):
    picture = tmp_path / "private.jpg"
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    shapes_picture().save(picture, exif=exif)
    text = write_sidecar(tool, picture, Caption("A red circle.")).read_text(encoding="utf-8")
    assert "Camera maker" not in text and "ExtDescrAccessibility" not in text


def test_another_tools_sidecar_keeps_what_it_holds(tool, tmp_path):
    picture = tmp_path / "photo.jpg"
    shapes_picture().save(picture)
    sidecar = sidecar_path(picture)
    subprocess.run(["exiftool", "-q", "-o", str(sidecar), "-XMP-dc:Title=My holiday", "-XMP-xmp:Rating=4"], check=True)
    os.chmod(sidecar, 0o640)
    write_sidecar(tool, picture, Caption("A red circle."))
    tags = read_tags(sidecar, "-XMP:all")
    assert tags["XMP-dc:Title"] == "My holiday" and tags["XMP-xmp:Rating"] == 4
    assert tags["XMP-iptcCore:AltTextAccessibility"] == "A red circle."
    assert oct(sidecar.stat().st_mode & 0o777) == oct(0o640)


@pytest.mark.parametrize("fmt", ["jpg", "png", "tif", "gif"])
def test_embedding_keeps_every_pixel_and_jpeg_data_byte_for_byte(either_tool, tmp_path, fmt):
    tool = either_tool
    picture = tmp_path / f"-photo ü.{fmt}"
    image = shapes_picture((300, 200))
    image.save(picture, **({"quality": 87} if fmt == "jpg" else {}))
    os.chmod(picture, 0o604)
    before_pixels, before_bytes = pixels(picture), picture.read_bytes()
    embed(tool, picture, UNICODE)
    tags = read_tags(picture)
    assert tags["XMP-iptcCore:AltTextAccessibility"] == UNICODE.alt_text
    assert tags["XMP-iptcCore:ExtDescrAccessibility"] == UNICODE.extended
    assert picture.read_bytes() != before_bytes  # the metadata is inside it now
    assert pixels(picture) == before_pixels
    if fmt == "jpg":
        assert jpeg_scan(picture) == before_bytes[before_bytes.index(b"\xff\xda"):]
    assert oct(picture.stat().st_mode & 0o777) == oct(0o604)
    assert not sidecar_path(picture).exists() and leftovers(tmp_path) == []


def test_the_pixel_proof_sees_a_reencoded_jpeg_and_changed_pixels(tmp_path):
    first, second = tmp_path / "a.jpg", tmp_path / "b.jpg"
    shapes_picture().save(first, quality=90)
    with Image.open(first) as image:
        image.save(second, quality=90)  # same settings, decoded and encoded again
    assert fingerprint(first) != fingerprint(second)
    png, changed = tmp_path / "a.png", tmp_path / "b.png"
    shapes_picture().save(png)
    image = shapes_picture()
    image.putpixel((0, 0), (0, 0, 0))
    image.save(changed)
    assert fingerprint(png) != fingerprint(changed)
    metadata_only = tmp_path / "c.png"
    subprocess.run(["exiftool", "-q", "-o", str(metadata_only), "-XMP-dc:Title=x", str(png)], check=True)
    assert fingerprint(metadata_only) == fingerprint(png)


def test_a_write_that_would_change_the_pixels_is_refused_and_the_picture_left(tool, tmp_path, monkeypatch):
    picture = tmp_path / "photo.png"
    shapes_picture().save(picture)
    before = digest(picture)
    real_write = et.Exiftool.write

    def write_then_repaint(self, source, output, alt_text, extended):
        real_write(self, source, output, alt_text, extended)
        with Image.open(output) as image:
            image.load()
            image.putpixel((1, 1), (1, 2, 3))
            image.save(output)
        subprocess.run(["exiftool", "-q", "-overwrite_original", f"-XMP-iptcCore:AltTextAccessibility={alt_text}",
                        str(output)], check=True)

    monkeypatch.setattr(et.Exiftool, "write", write_then_repaint)
    with pytest.raises(WriteError, match="would have changed its pixels"):
        embed(tool, picture, Caption("A red circle."))
    assert digest(picture) == before and leftovers(tmp_path) == []


def test_a_wrong_read_back_leaves_the_target_as_it_was(tool, tmp_path, monkeypatch):
    picture = tmp_path / "photo.jpg"
    shapes_picture().save(picture)
    monkeypatch.setattr(et.Exiftool, "read", lambda self, path: et.AltText("something else"))
    with pytest.raises(WriteError, match="not what was written"):
        write_sidecar(tool, picture, Caption("A red circle."))
    with pytest.raises(WriteError, match="not what was written"):
        embed(tool, picture, Caption("A red circle."))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.jpg"]


def test_ctrl_c_while_exiftool_writes_leaves_no_half_written_file(tool, tmp_path, monkeypatch):
    picture = tmp_path / "photo.jpg"
    shapes_picture().save(picture)
    write_sidecar(tool, picture, Caption("The first alt text."))
    before_picture, before_sidecar = digest(picture), digest(sidecar_path(picture))
    real_run = et.Exiftool._run

    def interrupted(self, args, *, what):
        result = real_run(self, args, what=what)
        if "-o" in args:  # exiftool has written the temporary file: the user presses Ctrl+C now
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(et.Exiftool, "_run", interrupted)
    for write in (write_sidecar, embed):
        with pytest.raises(KeyboardInterrupt):
            write(tool, picture, Caption("The second alt text."))
        assert leftovers(tmp_path) == []
    assert digest(picture) == before_picture and digest(sidecar_path(picture)) == before_sidecar


def test_a_picture_changed_while_it_was_described_is_left_alone(tool, tmp_path):
    from desktop_app.alttext.writing import file_state

    picture = tmp_path / "photo.png"
    shapes_picture().save(picture)
    state = file_state(picture)
    shapes_picture(colour="green").save(picture)  # the user saved an edit meanwhile
    os.utime(picture, ns=(state[2] + 10**9, state[2] + 10**9))
    after_edit = digest(picture)
    with pytest.raises(WriteError, match="changed while"):
        embed(tool, picture, Caption("A red circle."), state)
    assert digest(picture) == after_edit


def test_a_format_exiftool_cannot_write_gets_a_sentence(either_tool, tmp_path):
    tool = either_tool
    picture = tmp_path / "old.bmp"
    shapes_picture().save(picture)
    with pytest.raises(WriteError) as caught:
        embed(tool, picture, Caption("A red circle."))
    message = str(caught.value)
    assert message.startswith("The file old.bmp cannot hold alt text inside it") and "--write sidecar" in message
    assert message.endswith(".") and "\n" not in message
    assert leftovers(tmp_path) == []


def test_caption_text_is_made_safe_for_exiftool_and_one_line_for_alt_text():
    made = caption_for("  A red\ncircle\x00 on\ta  sign.\r\n", "STOP\r\nexit\x07")
    assert made.alt_text == "A red circle on a sign."
    assert made.extended == "A red circle on a sign.\nThe text in the picture reads:\nSTOP\nexit"
    assert caption_for("A red circle.").extended == ""  # nothing to add: IPTC says leave it out


def test_overwriting_without_text_removes_the_old_extended_description(tool, tmp_path):
    picture = tmp_path / "photo.png"
    shapes_picture().save(picture)
    write_sidecar(tool, picture, Caption("Old caption.", "Old caption.\nThe text in the picture reads:\nSALE"))
    write_sidecar(tool, picture, Caption("New caption."))
    assert read_tags(sidecar_path(picture)) == {"XMP-iptcCore:AltTextAccessibility": "New caption."}


def test_numbers_come_back_as_written(either_tool, tmp_path):
    tool = either_tool
    picture = tmp_path / "n.png"
    shapes_picture().save(picture)
    write_sidecar(tool, picture, Caption("1.50", "007"))
    assert tool.read(sidecar_path(picture)) == et.AltText("1.50", "007")


def test_files_in_a_folder_in_order_without_sidecars_hidden_files_or_the_csv(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("z.png", "a.jpg", "a.jpg.xmp", ".lookaloud-1234.tmp.jpg", "b/c.png", ".hidden/d.png", "review.csv"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "loop").symlink_to(tmp_path)
    names = [p.relative_to(tmp_path).as_posix() for p in files_in([tmp_path], leave_out=[tmp_path / "review.csv"])]
    assert names == ["a.jpg", "z.png", "b/c.png"]


def test_a_batch_stopped_by_ctrl_c_leaves_a_csv_of_whole_rows(tool, tmp_path):
    for i in range(4):
        shapes_picture().save(tmp_path / f"p{i}.png")
    calls = []

    def captioner(image):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return Caption(f"Picture number {len(calls)}, \"quoted\".", "Line one\nline two")

    csv_path = tmp_path / "review.csv"
    sheet, tally, said = ReviewSheet(csv_path), Tally(), []
    with pytest.raises(KeyboardInterrupt):
        run_batch(files_in([tmp_path]), tool, captioner, WriteMode.SIDECAR, False, sheet, said.append, tally=tally)
    sheet.close()
    import csv

    with open(csv_path, newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["file", "alt_text", "extended_description", "status"]
    assert [r[1] for r in rows[1:]] == ['Picture number 1, "quoted".', 'Picture number 2, "quoted".']
    assert rows[1][2] == "Line one\nline two"
    assert tally.done == 2 and leftovers(tmp_path) == []
    assert summary(tally, WriteMode.SIDECAR, stopped=True).startswith("Stopped after 2 of 4 files")
    assert sorted(p.name for p in tmp_path.glob("*.xmp")) == ["p0.png.xmp", "p1.png.xmp"]


def test_a_kept_open_exiftool_that_stops_is_replaced_by_one_per_command(tmp_path):
    picture = tmp_path / "photo.png"
    shapes_picture().save(picture)
    with et.Exiftool.find() as tool:
        write_sidecar(tool, picture, Caption("First."))
        assert tool._kept is not None
        tool._kept.proc.kill()  # exiftool crashed, or was killed by the user
        tool._kept.proc.wait()
        write_sidecar(tool, picture, Caption("Second."))
        assert tool.read(sidecar_path(picture)).alt_text == "Second."


def test_non_pictures_damaged_and_huge_files_get_one_sentence_each_and_are_skipped(tool, tmp_path):
    shapes_picture().save(tmp_path / "good.png")
    Image.new("1", (10_000, 9_000)).save(tmp_path / "huge.png")  # 90 M pixels, a small file
    (tmp_path / "broken.jpg").write_bytes((tmp_path / "good.png").read_bytes()[:100])
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("hello")
    os.mkfifo(tmp_path / "pipe.png")  # would block a plain open() forever
    said: list[str] = []
    tally = run_batch(files_in([tmp_path]), tool, lambda image: Caption("A red circle."), WriteMode.SIDECAR, False,
                      None, said.append)
    assert (tally.written, tally.skipped, tally.failed) == (1, 5, 0)
    sentences = [line for line in said if "skipped" in line]
    assert len(sentences) == 5
    for name in ("huge.png", "broken.jpg", "empty.png", "notes.txt", "pipe.png"):
        (line,) = [s for s in sentences if name in s]
        assert line.endswith("It was skipped.") and "\n" not in line
    assert "too large" in next(s for s in sentences if "huge.png" in s)
    assert sorted(p.name for p in tmp_path.glob("*.xmp")) == ["good.png.xmp"]


def test_progress_counts_and_rates_without_the_model_loading_time():
    said, now = [], [0.0]
    progress = Progress(5, said.append, clock=lambda: now[0])
    progress.starting(1, Path("a.png"))
    now[0] = 60.0  # the model took a minute to load
    progress.starting(2, Path("b.png"))
    now[0] = 62.0
    progress.starting(3, Path("c.png"))
    assert said == ["1 of 5: a.png", "2 of 5: b.png", "3 of 5, 0.5 pictures a second, about 6 seconds left: c.png"]
