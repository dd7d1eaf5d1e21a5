"""The caption streamed phrase by phrase is worded as the finished description begins: on a
screen, "A screenshot of a settings window" is heard as "Probably a settings window", the same
words the description then shows, never the model's filler first and a different sentence after."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from desktop_app.core import DESCRIBE, Request
from desktop_app.ocr import PictureKind, compose_description
from desktop_app.ocr.compose import HedgedPhrases
from desktop_app.vision.phrases import PhraseSplitter
from desktop_app.workers.inference import InferenceWorker


def _stream(caption: str, hedge: bool = True) -> list[str]:
    """The phrases a user hears for `caption` written a word at a time, as the app cuts them."""
    heard: list[str] = []
    shaper = HedgedPhrases(heard.append, hedge=hedge)
    splitter = PhraseSplitter(shaper)
    words = caption.split()
    for n in range(1, len(words) + 1):
        splitter.feed(" ".join(words[:n]))
    splitter.finish(caption)
    assert bool(shaper.passed) == bool(heard)
    return heard


def _words(text: str) -> str:
    return " ".join(text.replace(",", " ").split()).rstrip(".").lower()


@pytest.mark.parametrize("caption", [
    "A screenshot of a settings window with a search box and a list of options.",
    "A screen shot of a computer screen showing a login form.",
    "An image of a page with a table of numbers, a chart and two buttons.",
])
def test_a_screen_caption_is_heard_as_the_description_begins(caption):
    heard = _stream(caption)
    assert heard[0].startswith("Probably ")
    opening = compose_description(caption, PictureKind.SCREENSHOT, None).split(". ")[0]
    assert _words(" ".join(heard)) == _words(opening)
    assert "screenshot" not in " ".join(heard).lower() and "screen shot" not in " ".join(heard).lower()


def test_other_captions_are_heard_as_written():
    caption = "A red circle, a blue square and a sign that says stop on a white background."
    heard = _stream(caption)
    assert " ".join(heard) == caption and len(heard) > 1


def test_without_the_kind_said_the_caption_is_heard_as_written():
    caption = "A screenshot of a settings window with a search box."
    assert " ".join(_stream(caption, hedge=False)) == caption


def test_a_caption_of_filler_alone_is_not_streamed():
    assert _stream("A screenshot of a computer screen.") == []


class _Session:
    """Stands in for ImageSession: writes a screen caption phrase by phrase."""

    def __init__(self, caption: str) -> None:
        self.text = caption
        self.timings_ms: dict[str, float] = {}

    def caption_stream(self, on_phrase):
        splitter = PhraseSplitter(on_phrase)
        words = self.text.split()
        for n in range(1, len(words) + 1):
            splitter.feed(" ".join(words[:n]))
        splitter.finish(self.text)
        return self.text


def _screenshot() -> Image.Image:
    image = Image.new("RGB", (640, 400), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 639, 30), fill=(40, 60, 120))
    draw.rectangle((40, 80, 300, 110), outline="black")
    return image


@pytest.mark.parametrize("include_text", [True, False])
def test_the_worker_streams_what_the_description_then_says(qapp, monkeypatch, include_text):
    caption = "A screenshot of a settings window with a search box and a list of options."
    worker = InferenceWorker()
    worker._loaded = object()
    monkeypatch.setattr(worker, "_session", lambda request: _Session(caption))
    heard: list[str] = []
    results = []
    worker.phrase_ready.connect(lambda _id, phrase: heard.append(phrase))
    worker.result_ready.connect(results.append)
    worker.failed.connect(lambda _id, message: pytest.fail(message))
    worker.run(Request(1, DESCRIBE, 1, _screenshot(), include_text=include_text))
    (result,) = results
    if include_text:  # the description is hedged, and so are the phrases heard before it
        assert " ".join(heard).startswith("Probably a settings window")
        assert result.text.startswith("Probably a settings window")
    else:  # no text read, no kind said: the caption as the model wrote it, both ways
        assert " ".join(heard).startswith("A screenshot of a settings window")
        assert result.text == caption
    assert _words(" ".join(heard)) == _words(result.text.split(". ")[0])
