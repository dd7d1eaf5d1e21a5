"""Asking aloud end to end: a question spoken by espeak-ng comes in through the same audio-source
interface as the microphone, voice activity detection cuts it, the bundled Whisper tiny.en
transcribes it, the question reaches the model (a tiny BLIP-2), and the answer is said.
Spoken commands do what they say instead of being asked as questions."""

from __future__ import annotations

import pytest
from PIL import Image

from desktop_app.controller import State
from desktop_app.speech.microphone import NoMicrophoneError, WavSource
from testkit.speech_audio import shared_transcriber, speak, surround


@pytest.fixture(scope="module")
def transcriber():
    return shared_transcriber()


def _ready(qtbot, app, transcriber, text: str):
    app.transcriber = transcriber
    clip = surround(speak(text), before=0.5, after=1.5)
    app.audio_source_factory = lambda: WavSource(samples=clip)
    qtbot.waitUntil(lambda: app.controller.state == State.IDLE, timeout=60000)


def test_a_spoken_question_is_answered_about_the_current_picture(qtbot, make_app, transcriber):
    app = make_app()
    _ready(qtbot, app, transcriber, "What colour is the circle?")
    picture = app.controller.describe_image(Image.new("RGB", (48, 40), (220, 20, 20)), "test")
    qtbot.waitUntil(lambda: bool(picture.description), timeout=60000)
    app.window.question.clear()
    app.window.ask_button.click()  # the window's Ask button with no typed question: ask aloud
    qtbot.waitUntil(lambda: bool(picture.conversation), timeout=90000)
    question, answer = picture.conversation[0]
    assert "colo" in question.lower() and "circle" in question.lower()
    assert app.heard[-1] == answer  # the answer is what the user hears last


def test_a_spoken_command_is_obeyed_not_asked(qtbot, make_app, transcriber):
    app = make_app()
    _ready(qtbot, app, transcriber, "Describe it again.")
    picture = app.controller.describe_image(Image.new("RGB", (48, 40), (20, 20, 220)), "test")
    qtbot.waitUntil(lambda: bool(picture.description), timeout=60000)
    heard_before = len(app.heard)
    app.trigger("ask")
    qtbot.waitUntil(lambda: len(app.heard) > heard_before, timeout=90000)
    assert app.heard[-1] == picture.description
    assert picture.conversation == []


def test_no_microphone_is_said_plainly(qtbot, make_app, transcriber):
    app = make_app()
    app.transcriber = transcriber

    class Missing(WavSource):
        def open(self):
            raise NoMicrophoneError("No microphone was found. Plug one in, or choose one in Settings.")

    app.audio_source_factory = lambda: Missing(samples=surround(speak("hello")))
    qtbot.waitUntil(lambda: app.controller.state == State.IDLE, timeout=60000)
    app.controller.describe_image(Image.new("RGB", (48, 40)), "test")
    app.trigger("ask")
    qtbot.waitUntil(lambda: any("microphone" in m.lower() for m in app.heard), timeout=60000)
