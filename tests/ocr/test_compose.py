"""The spoken description: screens lead with the window's title (when the window system gave
one) and their first pieces of text under a hedged caption; photos lead with the caption and
then say what text is in them. What the user hears is never cut inside a word."""

from __future__ import annotations

from desktop_app.ocr import OcrBlock, OcrLine, OcrResult, PictureKind, compose_description
from desktop_app.ocr.compose import MORE_TEXT, hedge_caption
from desktop_app.ocr.types import Box


def _result(*lines: tuple[str, int, int]) -> OcrResult:
    """Lines as (text, top, height), one block each, in the order given."""
    blocks = [OcrBlock([OcrLine(t, Box(10, top, 400, top + h), 0.9)]) for t, top, h in lines]
    return OcrResult(blocks, engine="test", language="en", image_size=(800, 600))


SETTINGS = _result(
    ("Sound Settings", 10, 30),
    ("Output device: Speakers", 80, 14),
    ("Volume: 70 percent", 100, 14),
    ("Mute when locked", 120, 14),
    ("Reset to defaults", 140, 14),
)


def test_screenshot_says_its_first_lines_then_that_more_text_follows() -> None:
    text = compose_description("a screenshot of a settings window", PictureKind.SCREENSHOT, SETTINGS)
    assert text == (
        "Probably a settings window. "
        "It says: Sound Settings. Output device: Speakers. Volume: 70 percent. " + MORE_TEXT
    )


def test_the_window_systems_title_leads_and_its_title_bar_is_not_read_twice() -> None:
    captured = _result(("Sound Settings)", 2, 10), ("Output device: Speakers", 80, 14), ("Volume: 70 percent", 100, 14))
    window = compose_description("a screenshot of a settings window", PictureKind.SCREENSHOT, captured,
                                 window_title="Sound Settings")
    assert window == ("Probably a settings window. The title is: Sound Settings. "
                      "It says: Output device: Speakers. Volume: 70 percent.")
    screen = compose_description("a screenshot of a computer screen", PictureKind.SCREENSHOT, captured,
                                 window_title="Sound Settings", whole_screen=True)
    assert screen.startswith("A screenshot. The active window is: Sound Settings. It says: Output device")
    photo = compose_description("a cat on a sofa", PictureKind.PHOTO, None, window_title="cat.jpg - Image Viewer")
    assert photo == "A cat on a sofa. The window is: cat.jpg - Image Viewer."


def test_an_empty_screen_caption_is_replaced_by_the_kind() -> None:
    text = compose_description("a screenshot of a computer screen", PictureKind.DOCUMENT, SETTINGS)
    assert text.startswith("A document. It says: Sound Settings.")


def test_short_screen_text_does_not_point_to_read_text() -> None:
    text = compose_description(
        "a dialog box", PictureKind.SCREENSHOT, _result(("Saved", 10, 20), ("OK", 50, 14))
    )
    assert text == "Probably a dialog box. It says: Saved. OK."


def test_screenshot_without_text_says_so() -> None:
    empty = OcrResult([], "test", "en", (800, 600))
    assert compose_description("", PictureKind.SCREENSHOT, empty) == "A screenshot. No text was found in it."


def test_photo_keeps_its_caption_and_adds_the_text_found() -> None:
    text = compose_description(
        "a red stop sign on a street corner", PictureKind.PHOTO, _result(("STOP", 200, 40))
    )
    assert text == "A red stop sign on a street corner. There is text: STOP."
    assert compose_description("a dog on a beach", PictureKind.PHOTO, None) == "A dog on a beach."


def test_hedging_strips_what_blip2_says_about_every_screen() -> None:
    assert (
        hedge_caption("a screenshot of the login page", PictureKind.SCREENSHOT) == "Probably the login page."
    )
    assert (
        hedge_caption("a computer screen showing a spreadsheet", PictureKind.SCREENSHOT)
        == "Probably a spreadsheet."
    )
    assert hedge_caption("a screenshot of a website", PictureKind.SCREENSHOT) == ""
