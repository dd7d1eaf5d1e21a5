"""Fixtures for the app's tests: the real app around a tiny model, without global hotkeys."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from desktop_app.app import LookaloudApp
from desktop_app.settings import Settings
from desktop_app.speech.audio_out import NullAudioOut
from desktop_app.speech.output import SpeechOutput, SpeechSettings
from testkit import tiny_models


@pytest.fixture(scope="module")
def tiny_opt(tmp_path_factory):
    return tiny_models.build_blip2(tmp_path_factory.mktemp("app-model") / "opt", "opt")


class NoHotkeys:
    """The app without global hotkeys (tests/hotkeys covers them against real X grabs)."""

    def apply(self, old, new):
        pass

    def stop(self):
        pass


def _continue(heard: list[str], text: str) -> None:
    heard.append(f"{heard.pop()} {text}" if heard else text)


@pytest.fixture
def make_app(qtbot, tiny_opt):
    apps = []

    def make(model: str | None = None, speech=None, **changes):
        changes = {"include_text": False, "precision": "fp32", **changes}
        settings = Settings(model=str(tiny_opt) if model is None else model, **changes)
        speech = speech or SpeechOutput(SpeechSettings(earcons=False), audio_out=NullAudioOut(), screen_reader=None,
                              own_voice=lambda: None)
        app = LookaloudApp(QApplication.instance(), settings, speech=speech, hotkeys=NoHotkeys())
        app.heard = []
        app.controller.message.connect(app.heard.append)
        # A caption heard phrase by phrase, then the text found, is one message heard in parts.
        app.controller.message_continued.connect(lambda text: _continue(app.heard, text))
        apps.append(app)
        qtbot.addWidget(app.window)
        return app

    yield make
    for app in apps:
        app.shutdown()


