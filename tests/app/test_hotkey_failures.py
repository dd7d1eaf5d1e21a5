"""A shortcut that cannot be set up when Lookaloud starts (another program holds it on the real
X server, or settings.json has a combination that is not valid) is said aloud in one sentence
that names the action and the key, and Settings shows it on that shortcut's field."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from Xlib import XK, X
from Xlib import display as xdisplay

from desktop_app.app import LookaloudApp
from desktop_app.settings import Settings
from desktop_app.speech.audio_out import NullAudioOut
from desktop_app.speech.output import SpeechOutput, SpeechSettings

pytestmark = pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs the test X server")


class HeardSpeech(SpeechOutput):
    """The real speech output without a sound device; it keeps what it was asked to say."""

    def __init__(self) -> None:
        super().__init__(SpeechSettings(earcons=False), audio_out=NullAudioOut(), screen_reader=None,
                         own_voice=lambda: None)
        self.heard: list[str] = []

    def speak(self, text: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.heard.append(text)
        return super().speak(text, *args, **kwargs)


@pytest.fixture
def other_program() -> Iterator[xdisplay.Display]:
    """Another program's connection to the test X server, holding Ctrl+Alt+Shift+R."""
    disp = xdisplay.Display()
    keycode = disp.keysym_to_keycode(XK.string_to_keysym("r"))
    disp.screen().root.grab_key(keycode, X.ControlMask | X.Mod1Mask | X.ShiftMask, True,
                                X.GrabModeAsync, X.GrabModeAsync)
    disp.sync()
    yield disp
    disp.close()


@pytest.fixture
def start_app(qtbot, tiny_opt):
    """The app as it starts for a user: real X11 hotkeys from these settings."""
    apps: list[LookaloudApp] = []

    def start(**changes) -> LookaloudApp:  # type: ignore[no-untyped-def]
        settings = Settings(model=str(tiny_opt), include_text=False, precision="fp32", **changes)
        app = LookaloudApp(QApplication.instance(), settings, speech=HeardSpeech())
        apps.append(app)
        qtbot.addWidget(app.window)
        return app

    yield start
    for app in apps:
        app.shutdown()


def _spoken_about_shortcuts(qtbot, app: LookaloudApp) -> list[str]:
    qtbot.waitUntil(lambda: any("shortcut" in s.lower() for s in app.speech.heard), timeout=10000)
    qtbot.wait(200)  # anything said right after it
    return [s for s in app.speech.heard if "shortcut" in s.lower()]


def _settings_as_shown(qtbot, app: LookaloudApp) -> dict[str, str]:
    """Open Settings as the user does and read the Hotkeys tab: the message and the
    description of each shortcut field."""
    seen: dict[str, str] = {}

    def look() -> None:
        dialog = QApplication.activeModalWidget()
        # Its pages are added once it is active (settings_dialog.py says why).
        if dialog is None or not hasattr(dialog, "hotkey_fields") or not dialog.tabs.count():
            QTimer.singleShot(50, look)
            return
        seen["message"] = dialog.hotkey_message.text() if dialog.hotkey_message.isVisible() else ""
        seen["focus"] = next((a for a, f in dialog.hotkey_fields.items() if dialog.focusWidget() is f), "")
        for action, field in dialog.hotkey_fields.items():
            seen[action] = field.accessibleDescription()
        dialog.reject()

    QTimer.singleShot(0, look)
    app.open_settings()
    return seen


def test_a_shortcut_another_program_holds_at_start_is_said_and_shown(qtbot, start_app, other_program) -> None:
    app = start_app()
    spoken = _spoken_about_shortcuts(qtbot, app)
    assert len(spoken) == 1
    assert "Describe region" in spoken[0] and "Ctrl+Alt+Shift+R" in spoken[0] and "another program" in spoken[0]
    assert spoken[0].count(". ") == 0 and spoken[0].endswith(".")  # one sentence
    shown = _settings_as_shown(qtbot, app)
    assert "Ctrl+Alt+Shift+R" in shown["message"] and "another program" in shown["message"]
    assert shown["describe-region"] == shown["message"] and shown["focus"] == "describe-region"
    assert shown["describe-screen"] != shown["message"]


def test_an_invalid_shortcut_in_the_settings_file_is_said_and_shown(qtbot, start_app) -> None:
    hotkeys = {**Settings().hotkeys, "ask": "Shift+A"}
    app = start_app(hotkeys=hotkeys)
    spoken = _spoken_about_shortcuts(qtbot, app)
    assert len(spoken) == 1
    assert "Ask a question" in spoken[0] and "Shift+A" in spoken[0] and "Ctrl, Alt or Meta" in spoken[0]
    assert spoken[0].count(". ") == 0 and spoken[0].endswith(".")
    shown = _settings_as_shown(qtbot, app)
    assert "Ctrl, Alt or Meta" in shown["message"] and shown["ask"] == shown["message"]


def test_several_failures_at_start_are_one_sentence_and_all_shown(qtbot, start_app, other_program) -> None:
    hotkeys = {**Settings().hotkeys, "ask": "Shift+A"}
    app = start_app(hotkeys=hotkeys)
    spoken = _spoken_about_shortcuts(qtbot, app)
    assert len(spoken) == 1 and spoken[0].count(". ") == 0
    assert all(word in spoken[0] for word in ("Describe region", "Ctrl+Alt+Shift+R", "Ask a question", "Shift+A"))
    shown = _settings_as_shown(qtbot, app)
    assert "Ctrl+Alt+Shift+R" in shown["message"] and "Ctrl, Alt or Meta" in shown["message"]
    assert "another program" in shown["describe-region"] and "Ctrl, Alt or Meta" in shown["ask"]


def test_a_shortcut_fixed_in_settings_is_no_longer_shown_as_failed(qtbot, start_app, other_program, tmp_path,
                                                                  monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # Apply saves: not in the session's folder
    app = start_app()
    _spoken_about_shortcuts(qtbot, app)
    app.apply_settings(app.settings.update(hotkeys={**app.settings.hotkeys, "describe-region": "Ctrl+Alt+Shift+G"}))
    shown = _settings_as_shown(qtbot, app)
    assert shown["message"] == "" and shown["describe-region"] != "" and "another" not in shown["describe-region"]
