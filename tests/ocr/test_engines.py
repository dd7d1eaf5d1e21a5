"""Every OCR engine keeps the same contract: lines of known text come back with boxes where
they were drawn, a blank picture gives no lines, and languages it cannot read are refused with
a sentence, never a crash."""

from __future__ import annotations

import threading

import pytest
from PIL import Image, ImageDraw, ImageFont

from desktop_app.ocr import OcrCancelled, OcrError, read_text, reader
from desktop_app.ocr.engines import tesseract
from desktop_app.ocr.engines.tesseract import TesseractEngine
from desktop_app.ocr.prepare import prepare
from desktop_app.ocr.reader import choose_engine
from testkit.pictures import font_path, make_document, make_screenshot
from tests.ocr.conftest import char_accuracy


def _two_lines() -> tuple[Image.Image, list[str]]:
    image = Image.new("RGB", (560, 120), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(font_path("DejaVu Sans")), 16)
    texts = ["Your changes have been saved.", "Press Enter to close this window."]
    draw.text((20, 20), texts[0], font=font, fill="black")
    draw.text((20, 70), texts[1], font=font, fill="black")
    return image, texts


def test_engine_reads_lines_with_their_boxes(engine) -> None:  # type: ignore[no-untyped-def]
    image, texts = _two_lines()
    result = read_text(image, engine=engine.name)
    assert result.engine == engine.name
    assert [line.box.top < 60 for line in result.lines] == [True, False]
    for line, expected in zip(result.lines, texts):
        assert char_accuracy(expected, line.text) > 0.9, line.text
        assert 0 <= line.box.left < 40 and line.box.right <= 560
        assert 0 < line.confidence <= 1


def test_engine_finds_no_text_in_a_blank_picture(engine) -> None:  # type: ignore[no-untyped-def]
    result = read_text(Image.new("RGB", (300, 200), (240, 240, 240)), engine=engine.name)
    assert result.blocks == [] and result.text == ""


def test_engine_refuses_a_language_it_cannot_read(engine) -> None:  # type: ignore[no-untyped-def]
    assert not engine.supports("xx")
    with pytest.raises(OcrError, match=r"\.$"):
        engine.recognize(Image.new("L", (50, 50), 255), "xx")


def test_unknown_language_is_one_spoken_sentence() -> None:
    with pytest.raises(OcrError) as caught:
        choose_engine("xx")
    message = str(caught.value)
    assert message.endswith(".") and "\n" not in message


def test_small_dark_interface_text_is_enlarged_and_read() -> None:
    shot = make_screenshot("Mail - Inbox", size=10, dark=True, width=700, height=300, lines_per_column=4)
    prepared, scale = prepare(shot.image, line_height=32)
    assert scale >= 2
    # Dark mode is turned into dark text on light before recognition.
    assert prepared.getpixel((prepared.width - 1, prepared.height - 1)) > 200
    result = read_text(shot.image)
    assert char_accuracy(shot.text, result.text) > 0.95, result.text
    # Boxes are in the caller's pixels, not the enlarged picture's.
    assert max(line.box.right for line in result.lines) <= 700


def test_a_cancelled_read_stops_instead_of_blocking_the_worker(engine) -> None:  # type: ignore[no-untyped-def]
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(OcrCancelled, match="stopped"):
        read_text(_two_lines()[0], engine=engine.name, cancel=cancel)


def test_tesseract_is_stopped_mid_read_when_cancelled() -> None:
    # A full page takes Tesseract seconds; the cancel arrives while it runs.
    page = make_screenshot(size=12, columns=2, width=1600, height=900, lines_per_column=None).image
    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    try:
        with pytest.raises(OcrCancelled):
            read_text(page, engine="tesseract", cancel=cancel)
    finally:
        timer.cancel()


def test_without_tesseract_screens_are_read_by_the_bundled_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    # Windows and macOS usually have no Tesseract; RapidOCR comes from the package index.
    monkeypatch.setitem(
        reader._engines, "tesseract", TesseractEngine(command="lookaloud-no-such-tesseract")
    )
    image, texts = _two_lines()
    result = read_text(image)
    assert result.engine == "rapidocr"
    assert char_accuracy(" ".join(texts), result.text) > 0.9, result.text


def test_a_big_page_is_read_in_parallel_strips_without_losing_or_reordering_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = make_document(width=850, height=1100)
    monkeypatch.setattr(TesseractEngine, "STRIP_PIXELS", 100_000)
    monkeypatch.setattr(tesseract.os, "cpu_count", lambda: 4)
    prepared, _ = prepare(page.image, TesseractEngine.line_height)
    strips = TesseractEngine._strips(prepared)
    assert len(strips) == 4 and strips[0][0] == 0 and strips[-1][1] == prepared.height
    result = read_text(page.image, engine="tesseract")
    assert result.lines[0].text == page.title
    assert char_accuracy(page.text, result.text) > 0.98, result.text


def test_borders_read_as_bars_and_brackets_are_not_spoken() -> None:
    """Button and frame borders come out of Tesseract as "|" words and stray brackets; a
    listener would hear "bar bar" and a title made tall by them."""
    header = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    words = [("Open", 10, 50, 13), ("picture...", 60, 70, 13), ("|", 140, 4, 22), ("|", 150, 4, 22),
             ("Paste", 160, 40, 13), ("picture", 205, 50, 13)]
    rows = [f"5\t1\t1\t1\t1\t{i}\t{x}\t20\t{w}\t{h}\t95\t{t}" for i, (t, x, w, h) in enumerate(words)]
    rows.append("5\t1\t2\t1\t1\t1\t300\t0\t70\t10\t90\tLookaloud)")
    lines = TesseractEngine._parse_tsv("\n".join([header, *rows]))
    assert [line.text for line in lines] == ["Open picture... Paste picture", "Lookaloud"]
    assert lines[0].box.height == 13  # the bars' taller boxes are gone with them


def test_picture_strips_never_touch_the_shared_temporary_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    """A strip of the user's screen is a file only while Tesseract reads it: in the private
    folder (0700, the file 0600), deleted at once, never in $TMPDIR where a crash would leave it."""
    import os
    import stat
    import subprocess
    import tempfile
    from pathlib import Path

    from desktop_app import private_files

    seen: list[tuple[Path, int, int]] = []
    real_popen = subprocess.Popen

    def recording_popen(args, *rest, **kwargs):  # type: ignore[no-untyped-def]
        if "tsv" not in args:
            return real_popen(args, *rest, **kwargs)  # e.g. --list-langs
        path = Path(args[1])
        seen.append((path, stat.S_IMODE(os.stat(path).st_mode), stat.S_IMODE(os.stat(path.parent).st_mode)))
        return real_popen(args, *rest, **kwargs)

    monkeypatch.setattr(TesseractEngine, "STRIP_PIXELS", 100_000)
    monkeypatch.setattr(tesseract.subprocess, "Popen", recording_popen)
    before = set(os.listdir(tempfile.gettempdir()))
    monkeypatch.setattr(tesseract.os, "cpu_count", lambda: 4)
    page = make_document(width=850, height=1100)
    prepared, _ = prepare(page.image, TesseractEngine.line_height)
    lines = TesseractEngine().recognize(prepared, "en")
    assert char_accuracy(page.title, lines[0].text) > 0.9
    assert len(seen) >= 2, "the page should be read in more than one strip"
    folder = private_files.private_folder().path
    for path, file_mode, folder_mode in seen:
        assert path.parent == folder and (file_mode, folder_mode) == (0o600, 0o700), path
        assert not path.exists(), f"{path} was left behind after reading"
    assert set(os.listdir(tempfile.gettempdir())) == before
