"""Reading order: a title, then each column top to bottom, never lines interleaved across
columns; paragraphs become separate blocks."""

from __future__ import annotations

from desktop_app.ocr import OcrLine, read_text
from desktop_app.ocr.layout import order_lines
from desktop_app.ocr.types import Box
from testkit.pictures import make_screenshot
from tests.ocr.conftest import char_accuracy


def _line(text: str, left: int, top: int, width: int = 300, height: int = 14) -> OcrLine:
    return OcrLine(text, Box(left, top, left + width, top + height), 0.9)


def test_columns_are_read_one_after_the_other_even_when_paragraph_gaps_line_up() -> None:
    lines = [_line("Title of the page", 20, 10, 500, 30)]
    for column, left in (("left", 20), ("right", 380)):
        for paragraph, top in ((1, 60), (2, 140)):
            lines += [_line(f"{column} {paragraph}.{n}", left, top + n * 20) for n in range(3)]
    blocks = order_lines(list(reversed(lines)))  # engines give lines in any order
    assert [b.text.split("\n")[0] for b in blocks] == [
        "Title of the page",
        "left 1.0",
        "left 2.0",
        "right 1.0",
        "right 2.0",
    ]
    assert blocks[1].text == "left 1.0\nleft 1.1\nleft 1.2"


def test_a_large_title_is_its_own_block_above_a_paragraph() -> None:
    blocks = order_lines(
        [_line("Big heading", 20, 10, 300, 34), _line("Body text", 20, 50), _line("More body", 20, 70)]
    )
    assert [b.text for b in blocks] == ["Big heading", "Body text\nMore body"]


def test_two_column_screenshot_reads_left_column_before_right() -> None:
    shot = make_screenshot("Two Column News", columns=2, size=13, width=1000, height=420)
    result = read_text(shot.image)
    left, right = shot.columns
    text = " ".join(result.text.split())
    assert text.startswith("Two Column News")
    assert text.index(left[-1]) < text.index(right[0]), result.text
    assert char_accuracy(shot.text, result.text) > 0.97, result.text
    # Title, left column, right column.
    assert [b.text.split("\n")[0] for b in result.blocks] == [shot.title, left[0], right[0]]
