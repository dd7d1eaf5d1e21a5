"""Describe speaks the caption phrase by phrase as the model writes it, and the text found in
the picture after it: the first words never wait for the text reader. The history keeps the
whole description, the same as without streaming."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from PIL import Image

from desktop_app.controller import State
from desktop_app.describer import DescribeOptions, compose
from desktop_app.ocr import OcrCancelled, reader
from desktop_app.ocr.engines.tesseract import TesseractEngine
from desktop_app.ocr.types import OcrLine
from desktop_app.speech.audio_out import NullAudioOut
from desktop_app.speech.output import SpeechOutput, SpeechSettings
from desktop_app.speech.speaker import Priority
from testkit import demo_scenes

pytestmark = pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs the test X server")

DEMO = Path(__file__).resolve().parents[2] / "desktop_app" / "resources" / "models" / "shapes-demo"


class GatedOcrEngine:
    """The real Tesseract engine (the OcrEngine protocol, ocr/engines/protocol.py), held back
    until the test opens the gate: a whole screen that takes seconds to read."""

    def __init__(self) -> None:
        self.inner = TesseractEngine()
        self.name = self.inner.name
        self.line_height = self.inner.line_height
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.finished = threading.Event()

    def supports(self, language: str) -> bool:
        return self.inner.supports(language)

    def recognize(self, image: Image.Image, language: str, cancel: threading.Event | None = None) -> list[OcrLine]:
        self.entered.set()
        while not self.gate.wait(0.05):
            if cancel is not None and cancel.is_set():
                raise OcrCancelled()
        try:
            return self.inner.recognize(image, language, cancel)
        finally:
            self.finished.set()


class RecordedSpeech(SpeechOutput):
    """The real speech output without a sound device; it keeps what it was asked to say, and how."""

    def __init__(self, ocr: GatedOcrEngine) -> None:
        super().__init__(SpeechSettings(earcons=False), audio_out=NullAudioOut(), screen_reader=None,
                         own_voice=lambda: None)
        self.ocr = ocr
        self.said: list[tuple[str, Priority, bool]] = []  # text, priority, whether the text was read by then

    def speak(self, text: str, priority: Priority = Priority.NOW) -> None:  # type: ignore[override]
        self.said.append((text, priority, self.ocr.finished.is_set()))
        super().speak(text, priority)


@pytest.fixture
def gated_ocr(monkeypatch):
    engine = GatedOcrEngine()
    if not engine.supports("en"):
        pytest.skip("Tesseract with English is not installed here.")
    monkeypatch.setattr(reader, "choose_engine", lambda language="en", photo=False: engine)
    yield engine
    engine.gate.set()


def test_the_caption_is_heard_before_the_text_is_read(qtbot, make_app, gated_ocr):
    speech = RecordedSpeech(gated_ocr)
    app = make_app(model=str(DEMO), speech=speech, include_text=True)
    qtbot.waitUntil(lambda: app.controller.state == State.IDLE, timeout=60000)
    scene = demo_scenes.compose([("red", "circle"), ("blue", "square"), ("green", "triangle")], sign="stop")
    image = scene.render()
    before = len(speech.said)
    picture = app.controller.describe_image(image, "shapes.png")
    # The caption's phrases are said while the text reader is still held back.
    qtbot.waitUntil(lambda: len(speech.said) - before >= 3, timeout=60000)
    assert not gated_ocr.finished.is_set() and not picture.description
    caption_said = speech.said[before:]
    assert caption_said[0][0] == "A red circle,"
    assert caption_said[0][1] is Priority.NOW  # a new description cuts off what was being said
    assert all(priority is Priority.NORMAL for _, priority, _ in caption_said[1:])  # the rest follows it
    assert not any(read for _, _, read in caption_said)
    qtbot.waitUntil(gated_ocr.entered.is_set, timeout=60000)
    gated_ocr.gate.set()
    qtbot.waitUntil(lambda: bool(picture.description), timeout=60000)
    qtbot.waitUntil(lambda: app.controller.state == State.IDLE, timeout=60000)
    # The history has the whole description, composed exactly as without streaming.
    expected = compose(scene.caption(), image, DescribeOptions(include_text=True))
    assert picture.description == expected.spoken
    said = [text for text, _, _ in speech.said[before:]]
    caption = " ".join(said[:-1]) if expected.after_caption else " ".join(said)
    assert caption.lower().rstrip(".") == scene.caption()
    if expected.after_caption:
        assert said[-1] == expected.after_caption and speech.said[-1][1] is Priority.NORMAL
    # Said once: nothing of the caption is repeated after the text, and "repeat" says it whole.
    assert sum(text.startswith("A red circle") for text in said) == 1
    assert app.controller.last_spoken == picture.description
    assert app.window.status.text() == " ".join(said)


def test_stop_while_the_caption_is_heard_says_stopped_and_files_nothing(qtbot, make_app, gated_ocr):
    speech = RecordedSpeech(gated_ocr)
    app = make_app(model=str(DEMO), speech=speech, include_text=True)
    qtbot.waitUntil(lambda: app.controller.state == State.IDLE, timeout=60000)
    image = demo_scenes.compose([("yellow", "star"), ("red", "square")], sign="exit").render()
    picture = app.controller.describe_image(image, "shapes.png")
    qtbot.waitUntil(gated_ocr.entered.is_set, timeout=60000)  # the caption is out, the text being read
    app.controller.stop()
    qtbot.waitUntil(lambda: "Stopped." in app.heard, timeout=60000)
    assert picture.description == ""
    assert not gated_ocr.finished.is_set()



def test_text_that_cannot_be_read_is_said_after_the_caption_without_cutting_it_off(qtbot, make_app):
    """A language no engine here can read (the real text reader refuses it): the caption has
    been heard, so it stays the description and the reason follows it, instead of an error
    that would cut the caption off."""
    engine = GatedOcrEngine()  # not used to read: only its `finished` flag for the recording
    speech = RecordedSpeech(engine)
    app = make_app(model=str(DEMO), speech=speech, include_text=True, language="xx")
    qtbot.waitUntil(lambda: app.controller.state == State.IDLE, timeout=60000)
    scene = demo_scenes.compose([("red", "circle"), ("blue", "square")])
    before = len(speech.said)
    picture = app.controller.describe_image(scene.render(), "shapes.png")
    qtbot.waitUntil(lambda: bool(picture.description), timeout=60000)
    qtbot.waitUntil(lambda: app.controller.state == State.IDLE, timeout=60000)
    said = speech.said[before:]
    assert picture.description.lower().rstrip(".") == scene.caption()
    assert said[0][1] is Priority.NOW and all(priority is Priority.NORMAL for _, priority, _ in said[1:])
    assert said[-1][0].startswith("Lookaloud cannot read") and said[-1][0].endswith("without the text.")
    assert " ".join(text for text, _, _ in said[:-1]) == picture.description
