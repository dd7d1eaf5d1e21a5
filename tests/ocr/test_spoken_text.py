"""What the user hears of a picture's text: never a word cut in half, never a sentence broken
where its line wrapped, "There is more text" when some is left unsaid; no "title" for a region
or a photo; and no "No text was found" after a caption that read a sign's word.

Pictures are drawn with Pillow from DejaVu Sans and read by the real text reader (Tesseract for
these screens), as Describe region and Describe window do.
"""

from __future__ import annotations

import re

import pytest
from PIL import Image, ImageDraw, ImageFont

from desktop_app.ocr import OcrBlock, OcrLine, OcrResult, PictureKind, compose_description, read_text
from desktop_app.ocr.compose import MORE_TEXT
from desktop_app.ocr.types import Box
from testkit.pictures import font_path

FONT = font_path("DejaVu Sans")
pytestmark = pytest.mark.skipif(FONT is None, reason="needs fonts-dejavu-core")


def _draw(lines: list[str], width: int, size: int = 20, left: int = 16, heading: int = 0) -> Image.Image:
    """Lines 1.25 line heights apart (as a text box sets them); the first `heading` pixels high."""
    font = ImageFont.truetype(str(FONT), size)
    top = 12
    image = Image.new("RGB", (width, 24 + heading + len(lines) * int(size * 1.25)), "white")
    draw = ImageDraw.Draw(image)
    for row, text in enumerate(lines):
        first = row == 0 and heading
        draw.text((left, top), text, fill="black", font=ImageFont.truetype(str(FONT), heading) if first else font)
        top += int((heading if first else size) * 1.25)
    return image


def _said_text(spoken: str) -> str:
    """What follows "It says:" up to the pointer to Read text."""
    said = spoken.split("It says: ", 1)[1]
    return said.replace(MORE_TEXT, "").strip()


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9']+", text)


def test_a_word_cut_by_the_regions_edge_is_not_said() -> None:
    # A region drawn through "window": the picture holds "The active win" and a cut "d".
    full = _draw(["The active window is: Sound Settings", "Open one with Control O."], 560)
    cut_at = 16 + int(ImageFont.truetype(str(FONT), 20).getlength("The active win")) + 3
    region = full.crop((0, 0, cut_at, full.height))
    ocr = read_text(region)
    assert any(line.text.lower().startswith("the active") for line in ocr.lines), [line.text for line in ocr.lines]
    spoken = compose_description("a screenshot of a computer screen", PictureKind.SCREENSHOT, ocr)
    said = _said_text(spoken)
    whole_words = set(_words("The active window is: Sound Settings Open one with Control O."))
    assert set(_words(said)) <= whole_words, spoken  # no "win", no "Contr"
    assert "The active…" in said, spoken  # says that the line goes on


def test_a_label_wrapped_over_two_lines_is_said_whole() -> None:
    # The Lookaloud window's own hint, wrapped by its width, as its screenshot showed it.
    picture = _draw(["Open picture", "Paste picture",
                     "Drop a picture here, paste one with Control V, or open one with Control",
                     "O. Nothing leaves the computer."], 820)
    ocr = read_text(picture)
    assert len(ocr.lines) == 4, [line.text for line in ocr.lines]
    spoken = compose_description("a screenshot of a computer screen", PictureKind.SCREENSHOT, ocr)
    assert "open one with Control." not in spoken, spoken  # was: "... or open one with Control."
    assert "open one with Control O." in spoken, spoken


def test_long_text_is_shortened_at_a_sentence_end_and_says_more_follows() -> None:
    paragraph = ("Lookaloud describes pictures for people who cannot see them. It reads the text in "
                 "them and answers questions about them. Everything runs on this computer, so "
                 "nothing is sent anywhere. The first start asks which model to use and downloads "
                 "it only when you press Download.")
    words = paragraph.split()
    rows, row = [], ""
    for word in words:  # wrapped at about 46 characters, as a text box wraps it
        if len(row) + len(word) > 46:
            rows.append(row.strip())
            row = ""
        row += word + " "
    rows.append(row.strip())
    ocr = read_text(_draw(rows, 620))
    spoken = compose_description("a screenshot of a computer screen", PictureKind.SCREENSHOT, ocr)
    said = _said_text(spoken)
    assert spoken.endswith(MORE_TEXT), spoken
    assert said.endswith((".", "…")), spoken
    # What is said is the paragraph's beginning, word for word: no line end turned into a full
    # stop inside a sentence, no half word.
    said_words = _words(said)
    assert said_words == _words(paragraph)[: len(said_words)], spoken
    assert said.count(".") == paragraph[: len(said) + 20].count(".") or said.endswith("…"), spoken
    for sentence in re.split(r"(?<=[.…])\s+", said):
        assert sentence in paragraph or sentence.rstrip("…") in paragraph, (sentence, spoken)


def test_a_region_or_a_photo_is_never_given_a_title() -> None:
    region = _draw(["Sound Settings", "Output device: Speakers"], 420, heading=34)
    ocr = read_text(region)
    spoken = compose_description("a screenshot of a computer screen", PictureKind.SCREENSHOT, ocr)
    assert "title" not in spoken.lower(), spoken
    assert "Sound Settings" in spoken and "Output device" in spoken, spoken
    photo = compose_description("a cat on a sofa", PictureKind.PHOTO, None, window_title="cat.jpg - Image Viewer")
    assert "title" not in photo.lower(), photo
    # A captured window keeps its real title from the window system.
    window = compose_description("a screenshot of a computer screen", PictureKind.SCREENSHOT, ocr,
                                 window_title="Sound Settings")
    assert window.startswith("A screenshot. The title is: Sound Settings. It says: Output device"), window


def test_no_text_found_never_follows_a_caption_that_read_a_sign() -> None:
    empty = OcrResult([], "test", "en", (640, 480))
    for caption in ("a red sign that says stop", "a stop sign on a white background",
                    "a board with the word open written on it"):
        spoken = compose_description(caption, PictureKind.SCREENSHOT, empty)
        assert "no text" not in spoken.lower(), spoken
        assert spoken.startswith("Probably a"), spoken
    assert compose_description("a red circle and a blue square", PictureKind.SCREENSHOT, empty) == (
        "Probably a red circle and a blue square. No text was found in it.")


def test_one_word_longer_than_the_limit_is_kept_whole() -> None:
    address = "https://example.org/" + "a" * 300
    ocr = OcrResult([OcrBlock([OcrLine(address, Box(10, 10, 500, 30), 0.9)])], "test", "en", (800, 600))
    spoken = compose_description("a web page", PictureKind.SCREENSHOT, ocr)
    assert address in spoken, spoken


def test_a_region_drawn_tight_around_a_paragraph_reads_whole_sentences() -> None:
    rows = ["Your changes have been saved to the", "documents folder. Open the settings to",
            "choose a different voice and speed."]
    picture = _draw(rows, 620)
    font = ImageFont.truetype(str(FONT), 20)
    right = 16 + int(max(font.getlength(row) for row in rows)) + 3  # the region's edge just past the text
    ocr = read_text(picture.crop((0, 0, right, picture.height)))
    spoken = compose_description("a screenshot of a computer screen", PictureKind.SCREENSHOT, ocr)
    assert spoken == ("A screenshot. It says: Your changes have been saved to the documents folder. "
                      "Open the settings to choose a different voice and speed."), spoken
