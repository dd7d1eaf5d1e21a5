"""`lookaloud alt-text` end to end with the shipped demo model and the real exiftool, on a
folder of pictures drawn here (PNG, JPEG, text, a subfolder, awkward names, a damaged PNG and
a text file): sidecars by default with the originals untouched, embedding with the pixels
unchanged, alt text kept or replaced, the review CSV, Ctrl+C, and a missing exiftool."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from desktop_app.commands.alt_text import EXIT_NO_EXIFTOOL, WRITE_CHOICES
from tests.alttext.conftest import (
    NOT_PICTURES,
    PICTURES,
    digest,
    jpeg_scan,
    needs_exiftool,
    pixels,
    read_tags,
)

ALT, EXT = "XMP-iptcCore:AltTextAccessibility", "XMP-iptcCore:ExtDescrAccessibility"

pytestmark = needs_exiftool


def lookaloud(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "desktop_app", "alt-text", *args], capture_output=True, text=True,
                          timeout=600, env=env, check=False)


def hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): digest(p) for p in folder.rglob("*") if p.is_file()}


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_write_choices_are_the_modes():
    from desktop_app.alttext.batch import WriteMode

    assert WRITE_CHOICES == tuple(WriteMode.values())


def test_sidecars_by_default_originals_untouched_then_kept_then_replaced(drawn_folder, tmp_path):
    before = hashes(drawn_folder)
    review = tmp_path / "review.csv"
    result = lookaloud(str(drawn_folder), "--model", "shapes-demo", "--csv", str(review))
    assert result.returncode == 0, result.stderr
    assert hashes(drawn_folder).items() >= before.items()  # every original byte for byte
    made = sorted(p.relative_to(drawn_folder).as_posix() for p in drawn_folder.rglob("*.xmp"))
    assert made == sorted(name + ".xmp" for name in PICTURES)
    sheet = rows(review.read_text(encoding="utf-8"))
    assert [Path(r["file"]).relative_to(drawn_folder).as_posix() for r in sheet] == [
        "-dash.png", "circle.png", "garden.jpg", "receipt.png", "holiday/ünïcødé beach.jpg"]
    for row in sheet:
        tags = read_tags(Path(row["file"] + ".xmp"))
        assert tags[ALT] == row["alt_text"] and row["status"] == "new"
        assert row["alt_text"][0].isupper() and row["alt_text"].endswith(".")
        assert f"{row['file']}: {row['alt_text']}" in result.stdout.splitlines()
        if Path(row["file"]).name == "receipt.png":  # the text read is the extended description
            assert "garage receipt" in tags[EXT].lower() and tags[EXT].startswith(row["alt_text"] + "\n")
        else:
            assert EXT not in tags and row["extended_description"] == ""
    for name in NOT_PICTURES:  # one sentence each, naming the file
        said = [line for line in result.stderr.splitlines() if name in line and "skipped" in line]
        assert len(said) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "7 of 7" in result.stderr and "pictures a second" in result.stderr
    assert "Alt text was written in sidecar files for 5 pictures. 2 files were skipped." in result.stderr

    # Someone writes their own alt text for one picture; a second run keeps every alt text and
    # does not even load the model.
    own = drawn_folder / "circle.png.xmp"
    subprocess.run(["exiftool", "-q", "-overwrite_original", f"-{ALT}=Mein eigener Kreis ✓", str(own)], check=True)
    again = lookaloud(str(drawn_folder), "--model", "shapes-demo", "--csv", str(review))
    assert again.returncode == 0, again.stderr
    assert "Loading the model" not in again.stderr
    assert read_tags(own)[ALT] == "Mein eigener Kreis ✓"
    sheet = rows(review.read_text(encoding="utf-8"))
    assert {r["status"] for r in sheet} == {"kept"}
    assert next(r["alt_text"] for r in sheet if r["file"].endswith("circle.png")) == "Mein eigener Kreis ✓"
    assert "5 pictures kept the alt text they had." in again.stderr

    replaced = lookaloud(str(drawn_folder), "--model", "shapes-demo", "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert read_tags(own)[ALT] != "Mein eigener Kreis ✓" and read_tags(own)[ALT].endswith(".")
    assert "5 of them replaced alt text that was there." in replaced.stderr
    assert hashes(drawn_folder).items() >= before.items()
    assert not list(drawn_folder.rglob(".lookaloud-*"))


def test_embedded_alt_text_with_every_pixel_the_same(drawn_folder):
    pictures = [drawn_folder / name for name in PICTURES]
    before = {p: (pixels(p), p.read_bytes()) for p in pictures}
    garden_exif = read_tags(drawn_folder / "garden.jpg", "-IFD0:Make")
    result = lookaloud(str(drawn_folder), "--model", "shapes-demo", "--write", "xmp")
    assert result.returncode == 0, result.stderr
    for picture in pictures:
        tags = read_tags(picture)
        assert tags[ALT].endswith("."), picture
        assert pixels(picture) == before[picture][0]
        assert picture.read_bytes() != before[picture][1]
        if picture.suffix == ".jpg":  # exiftool added metadata; the coded picture is the same bytes
            assert jpeg_scan(picture) == before[picture][1][before[picture][1].index(b"\xff\xda"):]
    assert read_tags(drawn_folder / "garden.jpg", "-IFD0:Make") == garden_exif == {"IFD0:Make": "Camera maker"}
    assert not list(drawn_folder.rglob("*.xmp")) and not list(drawn_folder.rglob(".lookaloud-*"))
    assert "Alt text was written into the pictures for 5 pictures." in result.stderr

    kept = lookaloud(str(drawn_folder), "--model", "shapes-demo", "--write", "csv")  # embedded counts as existing
    assert kept.returncode == 0, kept.stderr
    assert {r["status"] for r in rows(kept.stdout)} == {"kept"}


def test_csv_only_goes_to_standard_output_and_writes_nothing(drawn_folder):
    before = hashes(drawn_folder)
    result = lookaloud(str(drawn_folder / "receipt.png"), str(drawn_folder / "holiday"), "--model", "shapes-demo",
                       "--write", "csv")
    assert result.returncode == 0, result.stderr
    sheet = rows(result.stdout)
    assert list(sheet[0]) == ["file", "alt_text", "extended_description", "status"]
    assert [Path(r["file"]).name for r in sheet] == ["receipt.png", "ünïcødé beach.jpg"]
    assert "Total 42 euros" in sheet[0]["extended_description"]
    assert all(r["status"] == "new" and r["alt_text"].endswith(".") for r in sheet)
    assert hashes(drawn_folder) == before
    assert "listed for review" in result.stderr


def test_without_exiftool_one_sentence_and_nothing_written(drawn_folder, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    before = hashes(drawn_folder)
    result = lookaloud(str(drawn_folder), "--model", "shapes-demo", "--csv", str(tmp_path / "r.csv"),
                       env={"PATH": str(empty)})
    assert result.returncode == EXIT_NO_EXIFTOOL == 4
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "needs exiftool" in result.stderr and "libimage-exiftool-perl" in result.stderr
    assert "Nothing was written." in result.stderr
    assert hashes(drawn_folder) == before and not (tmp_path / "r.csv").exists()


def test_an_exiftool_too_old_for_the_accessibility_tags_is_refused(drawn_folder, tmp_path):
    old = tmp_path / "bin"
    old.mkdir()
    fake = old / "exiftool"  # what exiftool 11.88 (Ubuntu 20.04) answers: no accessibility tags
    fake.write_text("#!/bin/sh\ncase \"$*\" in *-ver*) echo 11.88;; *) echo 'Location Scene';; esac\n")
    fake.chmod(0o755)
    before = hashes(drawn_folder)
    result = lookaloud(str(drawn_folder), "--model", "shapes-demo", env={"PATH": f"{old}:{os.environ['PATH']}"})
    assert result.returncode == 4
    assert "exiftool 11.88 is too old" in result.stderr and "12.33" in result.stderr
    assert hashes(drawn_folder) == before


def test_bad_arguments_get_a_sentence(tmp_path):
    result = lookaloud(str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "There is no folder or file called" in result.stderr
    (tmp_path / "only.txt").write_text("text")
    result = lookaloud(str(tmp_path), "--model", "shapes-demo")
    assert result.returncode == 2 and "None of the files is a picture" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_model_that_is_not_installed_stops_the_run_with_its_sentence(drawn_folder):
    before = hashes(drawn_folder)
    result = lookaloud(str(drawn_folder), "--model", "blip2-flan-t5-xl")
    assert result.returncode == 3
    assert "lookaloud models download blip2-flan-t5-xl" in result.stderr and "Traceback" not in result.stderr
    assert hashes(drawn_folder) == before


def test_ctrl_c_stops_with_every_file_whole(tmp_path):
    from tests.alttext.conftest import shapes_picture

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(40):
        shapes_picture(colour=("red", "green", "blue")[i % 3]).save(folder / f"p{i:02}.jpg", quality=90)
    review = tmp_path / "review.csv"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "desktop_app", "alt-text", str(folder), "--model", "shapes-demo",
                             "--write", "xmp", "--csv", str(review)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if line.startswith("4 of 40"):
            break
    time.sleep(0.3)  # somewhere in the middle of a picture: any moment must be safe
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    err = "".join(lines) + err
    assert proc.returncode == 130, err
    assert "Stopped after" in err and "no file was left half-written" in err and "Traceback" not in err
    # Nothing left behind: not Lookaloud's temporary files, not exiftool's own.
    assert sorted(p.name for p in folder.iterdir()) == [f"p{i:02}.jpg" for i in range(40)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["many", "review.csv"]
    sheet = rows(review.read_text(encoding="utf-8"))
    assert 3 <= len(sheet) < 40
    done = {Path(r["file"]).name for r in sheet}
    for picture in sorted(folder.iterdir()):  # each picture whole: with its alt text, or as it was
        tags = read_tags(picture)
        if picture.name in done:
            assert tags[ALT] == next(r["alt_text"] for r in sheet if r["file"].endswith(picture.name))
        else:
            assert ALT not in tags or picture.name == sorted(folder.iterdir())[len(sheet)].name
        assert pixels(picture)[1] == (256, 256)


def test_help_names_the_command():
    result = subprocess.run([sys.executable, "-m", "desktop_app", "--help"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert "alt-text" in result.stdout
