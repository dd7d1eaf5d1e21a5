"""describer.describe with a streamed caption: the caption's phrases are out before the text
reader starts, the composed description is the same as without streaming, and
`after_caption` is exactly what is left to say once the caption has been said."""

from __future__ import annotations

import pytest

from desktop_app import describer
from desktop_app.capture.types import WHOLE_SCREEN, WINDOW_TITLE
from desktop_app.describer import DescribeOptions, compose, describe
from desktop_app.models import vision_catalog as catalog
from desktop_app.ocr import reader
from desktop_app.vision.loader import load_model
from desktop_app.vision.session import ImageSession
from testkit import demo_scenes
from testkit.pictures import make_photo, make_screenshot

DEMO = "desktop_app/resources/models/shapes-demo"


@pytest.fixture(scope="module")
def demo():
    return load_model(catalog.resolve(DEMO), device="cpu", precision="fp32")


def test_the_caption_is_out_before_the_text_is_read(demo, monkeypatch):
    events: list[str] = []
    real_choose = reader.choose_engine

    def choose(language="en", photo=False):
        events.append("reading")
        return real_choose(language, photo)

    monkeypatch.setattr(reader, "choose_engine", choose)
    scene = demo_scenes.compose([("blue", "star"), ("red", "circle")], sign="open")
    image = scene.render()
    found = describe(ImageSession(demo, image), image, DescribeOptions(), on_phrase=lambda p: events.append(p))
    assert events[-1] == "reading" and events.count("reading") == 1
    phrases = events[:-1]
    assert len(phrases) >= 2 and " ".join(phrases) == found.caption
    assert found.caption.lower().rstrip(".") == scene.caption()
    # The same description as without streaming.
    assert found == compose(found.caption, image, DescribeOptions())
    assert found.spoken.startswith(found.caption.rstrip(".")) or found.spoken.startswith("Probably")


@pytest.mark.parametrize("title, whole", [(None, False), ("Printer Settings - Setup", False),
                                          ("Printer Settings - Setup", True)])
@pytest.mark.parametrize("say_kind", [True, False])
def test_after_caption_is_the_description_less_its_caption(title, whole, say_kind):
    image = make_screenshot("Printer Settings").image
    if title:
        image.info[WINDOW_TITLE] = title
        image.info[WHOLE_SCREEN] = whole
    caption = "A screenshot of a printer settings window."
    found = compose(caption, image, DescribeOptions(include_kind=say_kind))
    assert found.kind == "screenshot"
    assert found.after_caption and found.spoken.endswith(found.after_caption)
    opening = found.spoken[: len(found.spoken) - len(found.after_caption)].strip()
    # The opening is the caption's one sentence (hedged or not), and nothing of the text read.
    assert opening.count(". ") == 0 and "printer settings window" in opening.lower()
    assert found.after_caption.startswith(("The title is:", "The active window is:", "It says:"))


def test_after_caption_of_a_photo_with_and_without_text():
    caption = "A street with a sign that says open. It is sunny."
    found = compose(caption, make_photo(sign="OPEN"), DescribeOptions())
    assert found.kind == "photo"
    assert found.spoken.startswith(caption)
    assert found.after_caption == found.spoken[len(caption):].strip()
    plain = compose("A street.", make_photo(seed=3), DescribeOptions())
    assert plain.kind == "photo"
    assert plain.after_caption == plain.spoken[len("A street."):].strip()
    assert compose(caption, make_photo(), DescribeOptions(include_text=False)).after_caption == ""


def test_after_caption_is_everything_when_the_caption_does_not_lead():
    spoken = "The active window is: Mail. Probably a mail window. It says: Inbox."
    alone = "Probably a mail window. No text was found in it."
    assert describer._after_caption(spoken, alone, "A screenshot of a mail window.") == spoken
    # Never more sentences than the caption has: "No text was found" is still to be said.
    alone_only = "Probably a mail window. No text was found in it."
    assert describer._after_caption(alone_only, alone_only, "A mail window.") == "No text was found in it."
