"""Settings changed while Lookaloud runs take effect at once, through the real app: after a
question has been asked aloud, a new speech model, language or microphone is what the next
question uses (they used to be built once, at the first question, and kept)."""

from __future__ import annotations

import shutil

import pytest
from PIL import Image

from desktop_app.controller import State
from desktop_app.models.store import bundled_tiny_en
from desktop_app.speech.microphone import WavSource
from testkit.speech_audio import shared_transcriber, speak, surround

pytestmark = pytest.mark.skipif(bundled_tiny_en() is None, reason="needs the bundled Whisper tiny.en")


@pytest.fixture(scope="module")
def transcriber():
    return shared_transcriber()


def _question() -> WavSource:
    return WavSource(samples=surround(speak("What colour is the circle?"), before=0.5, after=1.5))


def _asked_once(qtbot, make_app, transcriber, microphone=None):
    """The app after one question asked aloud and answered, as a user has it; the question
    comes from `microphone(name)` where given, else from recorded speech."""
    app = make_app(stt_model="tiny.en")  # the model of the shared transcriber handed in below
    app.transcriber = transcriber
    if microphone is None:
        app.audio_source_factory = _question
    else:
        app.microphone_factory = microphone
    qtbot.waitUntil(lambda: app.controller.state == State.IDLE, timeout=60000)
    picture = app.controller.describe_image(Image.new("RGB", (48, 40), (220, 20, 20)), "test")
    qtbot.waitUntil(lambda: bool(picture.description), timeout=60000)
    app.trigger("ask")
    qtbot.waitUntil(lambda: len(picture.conversation) == 1, timeout=90000)
    qtbot.waitUntil(lambda: app.controller.state == State.IDLE, timeout=60000)
    return app, picture


@pytest.fixture
def saved_nowhere(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # applying saves


def test_a_speech_model_chosen_after_the_first_question_is_used(qtbot, make_app, transcriber, saved_nowhere):
    app, picture = _asked_once(qtbot, make_app, transcriber)
    heard_before = len(app.heard)
    app.apply_settings(app.settings.update(stt_model="base.en"))  # not downloaded here
    app.trigger("ask")
    qtbot.waitUntil(lambda: any("base.en" in m for m in app.heard[heard_before:]), timeout=60000)
    assert len(picture.conversation) == 1  # not asked with the old model


def test_a_speech_model_folder_chosen_later_transcribes_the_next_question(qtbot, make_app, transcriber,
                                                                         saved_nowhere, tmp_path):
    app, picture = _asked_once(qtbot, make_app, transcriber)
    folder = tmp_path / "my-whisper"
    shutil.copytree(bundled_tiny_en(), folder)
    app.apply_settings(app.settings.update(stt_model=str(folder)))
    app.trigger("ask")
    qtbot.waitUntil(lambda: len(picture.conversation) == 2, timeout=90000)
    assert "circle" in picture.conversation[1][0].lower()
    assert app.transcriber.model_name == str(folder)


def test_a_language_chosen_after_the_first_question_is_used(qtbot, make_app, transcriber, saved_nowhere):
    app, picture = _asked_once(qtbot, make_app, transcriber)
    heard_before = len(app.heard)
    app.apply_settings(app.settings.update(language="de"))  # tiny.en understands only English
    app.trigger("ask")
    qtbot.waitUntil(lambda: any("only English" in m for m in app.heard[heard_before:]), timeout=60000)
    assert len(picture.conversation) == 1


def test_a_microphone_chosen_after_the_first_question_is_used(qtbot, make_app, transcriber, saved_nowhere):
    opened: list[str | None] = []

    def microphone(name: str | None) -> WavSource:  # stands in for the sound device
        opened.append(name)
        return _question()

    app, picture = _asked_once(qtbot, make_app, transcriber, microphone)
    app.apply_settings(app.settings.update(microphone="USB headset"))
    app.trigger("ask")
    qtbot.waitUntil(lambda: len(picture.conversation) == 2, timeout=90000)
    assert opened == [None, "USB headset"]


def test_settings_that_do_not_touch_listening_keep_the_loaded_speech_model(qtbot, make_app, transcriber,
                                                                           saved_nowhere):
    app, picture = _asked_once(qtbot, make_app, transcriber)
    app.apply_settings(app.settings.update(rate=220))
    assert app.transcriber is transcriber  # no second load of Whisper for an unrelated change
    app.trigger("ask")
    qtbot.waitUntil(lambda: len(picture.conversation) == 2, timeout=90000)
