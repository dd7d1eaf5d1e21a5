"""'Say the kind of picture' off: a screen's description neither guesses ("Probably ...") nor
names the kind ("A screenshot."); the text still leads the same way, and photos are unchanged."""

from __future__ import annotations

from desktop_app.ocr import OcrResult, PictureKind, compose_description
from desktop_app.ocr.compose import MORE_TEXT
from tests.ocr.test_compose import SETTINGS, _result

KINDS = (PictureKind.SCREENSHOT, PictureKind.DOCUMENT)


def test_the_caption_is_said_as_the_model_said_it_without_a_guess() -> None:
    text = compose_description("a screenshot of a settings window", PictureKind.SCREENSHOT, SETTINGS,
                               say_kind=False)
    assert text == (
        "A settings window. "
        "It says: Sound Settings. Output device: Speakers. Volume: 70 percent. " + MORE_TEXT
    )


def test_a_caption_that_says_nothing_leaves_the_text_to_lead() -> None:
    for kind in KINDS:
        text = compose_description("a screenshot of a computer screen", kind, SETTINGS, say_kind=False)
        assert text.startswith("It says: Sound Settings. Output device"), text
        empty = compose_description("", kind, OcrResult([], "test", "en", (800, 600)), say_kind=False)
        assert empty == "No text was found in the picture."


def test_the_window_title_still_leads_without_the_kind() -> None:
    captured = _result(("Sound Settings)", 2, 10), ("Output device: Speakers", 80, 14))
    screen = compose_description("a screenshot of a computer screen", PictureKind.SCREENSHOT, captured,
                                 window_title="Sound Settings", whole_screen=True, say_kind=False)
    assert screen == "The active window is: Sound Settings. It says: Output device: Speakers."


def test_photos_read_the_same_either_way() -> None:
    sign = _result(("STOP", 200, 40))
    for say_kind in (True, False):
        assert compose_description("a red stop sign", PictureKind.PHOTO, sign, say_kind=say_kind) == (
            "A red stop sign. There is text: STOP.")
