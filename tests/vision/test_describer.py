"""describer.describe, the one description pipeline (the app's worker and `lookaloud describe`
both use it), on a real tiny model and the real text reader: what each option changes."""

from __future__ import annotations

import threading

import pytest

from desktop_app.capture.types import WHOLE_SCREEN, WINDOW_TITLE
from desktop_app.describer import DescribeOptions, describe
from desktop_app.models import vision_catalog as catalog
from desktop_app.ocr import OcrCancelled
from desktop_app.vision.loader import load_model
from desktop_app.vision.session import ImageSession
from testkit.pictures import make_screenshot

GUESSES = ("Probably", "A screenshot", "A document")


@pytest.fixture(scope="module")
def loaded(tiny_model_dirs):
    return load_model(catalog.resolve(str(tiny_model_dirs["blip2-opt"])), device="cpu", precision="fp32")


def _window(title: str | None = None, whole_screen: bool = False):
    image = make_screenshot("Printer Settings").image
    if title:
        image.info[WINDOW_TITLE] = title
        image.info[WHOLE_SCREEN] = whole_screen
    return image


def test_without_the_text_the_description_is_the_caption(loaded):
    image = _window()
    found = describe(ImageSession(loaded, image), image, DescribeOptions(include_text=False))
    assert found.spoken == found.caption and found.caption.endswith(".")
    assert found.kind == "" and found.found_text == ""


def test_a_screenshot_leads_with_its_text_and_the_window_systems_title(loaded):
    image = _window("Printer Settings - Setup")
    found = describe(ImageSession(loaded, image), image)
    assert found.kind == "screenshot" and found.window_title == "Printer Settings - Setup"
    first_line = make_screenshot("Printer Settings").columns[0][0]
    assert "Printer Settings" in found.found_text and first_line in found.found_text
    assert found.spoken.startswith(GUESSES)
    assert "The title is: Printer Settings - Setup." in found.spoken and "It says:" in found.spoken
    screen = _window("Printer Settings - Setup", whole_screen=True)
    assert "The active window is: Printer Settings - Setup." in describe(ImageSession(loaded, screen), screen).spoken


def test_without_the_kind_the_same_text_leads_without_a_guess(loaded):
    image = _window()
    with_kind = describe(ImageSession(loaded, image), image)
    without = describe(ImageSession(loaded, image), image, DescribeOptions(include_kind=False))
    assert without.caption == with_kind.caption and without.found_text == with_kind.found_text
    assert without.kind == "screenshot"
    assert not without.spoken.startswith(GUESSES), without.spoken
    assert without.spoken.endswith(with_kind.spoken.split(" It says:", 1)[1])


def test_a_cancelled_request_stops_at_the_text(loaded):
    image = _window()
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(OcrCancelled):
        describe(ImageSession(loaded, image), image, cancel=cancel)
