"""`lookaloud read-text PICTURE [--json]`: prints the text in reading order, JSON with boxes
and the picture's kind, and one plain line with exit code 2 for a bad picture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop_app.cli import EXIT_BAD_INPUT, EXIT_OK, main
from testkit.pictures import make_screenshot
from tests.ocr.conftest import char_accuracy


@pytest.fixture(scope="module")
def screenshot_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    shot = make_screenshot("Calendar - Today", size=13, width=700, height=260, lines_per_column=3)
    path = tmp_path_factory.mktemp("read-text") / "calendar.png"
    shot.image.save(path)
    return path, shot.text


def test_prints_the_text_in_reading_order(screenshot_file, capsys) -> None:  # type: ignore[no-untyped-def]
    path, expected = screenshot_file
    assert main(["read-text", str(path)]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith("Calendar - Today\n")
    assert char_accuracy(expected, out) > 0.97, out


def test_json_has_text_boxes_kind_and_timings(screenshot_file, capsys) -> None:  # type: ignore[no-untyped-def]
    path, expected = screenshot_file
    assert main(["read-text", "--json", "--language", "en", str(path)]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["picture"]["kind"] == "screenshot"
    assert data["blocks"][0]["lines"][0]["text"] == "Calendar - Today"
    assert len(data["blocks"][0]["lines"][0]["box"]) == 4
    assert data["seconds"]["total"] > 0 and data["engine"] in ("tesseract", "rapidocr")
    assert char_accuracy(expected, data["text"]) > 0.97


def test_a_bad_picture_is_one_plain_line_and_exit_2(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture")
    assert main(["read-text", str(bad)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err and err.endswith(".")


def test_an_unreadable_language_is_one_plain_line(screenshot_file, capsys) -> None:  # type: ignore[no-untyped-def]
    path, _ = screenshot_file
    assert main(["read-text", "--language", "xx", str(path)]) not in (EXIT_OK, EXIT_BAD_INPUT)
    err = capsys.readouterr().err.strip()
    assert err.startswith("Lookaloud cannot read") and "\n" not in err
