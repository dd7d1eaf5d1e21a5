"""What the running app says when nothing else would be heard: that setup is open on the first
start, how far loading the model has come (at least every three seconds, never over other
speech), and "Lookaloud closed." when it quits. The real app and speech output; the only fake
is a loader that waits (a model that loads slowly), and a speech output that records what it
was asked to say."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from desktop_app import app as app_module
from desktop_app.controller import State
from desktop_app.speech.audio_out import NullAudioOut
from desktop_app.speech.output import SpeechOutput, SpeechSettings
from desktop_app.speech.speaker import Priority
from desktop_app.vision import loader


class RecordedSpeech(SpeechOutput):
    """The app's real speech output (silent here), recording what it is asked to say."""

    def __init__(self) -> None:
        super().__init__(SpeechSettings(earcons=False), audio_out=NullAudioOut(), screen_reader=None,
                         own_voice=lambda: None)
        self.said: list[tuple[str, Priority]] = []
        self.busy = False
        self.reaches_user = False  # as if a voice or a screen reader said it
        self.waited: list[float | None] = []

    def speak(self, text: str, priority: Priority = Priority.NOW) -> None:
        self.said.append((text, priority))
        super().speak(text, priority)

    @property
    def is_speaking(self) -> bool:
        return self.busy

    def is_heard(self) -> bool:
        return self.reaches_user or super().is_heard()

    def wait_until_done(self, timeout: float | None = None) -> bool:
        self.waited.append(timeout)
        return super().wait_until_done(timeout)

    def texts(self) -> list[str]:
        return [t for t, _ in self.said]


def _progress(speech: RecordedSpeech) -> list[str]:
    return [t for t in speech.texts() if t.startswith("Still loading the model")]


def test_a_slow_model_load_says_its_progress_every_three_seconds(qtbot, make_app, monkeypatch) -> None:
    """After "Try the demo model" the user heard nothing for 10-12 s while it loaded."""
    release = threading.Event()
    real_load = loader.load_model

    def slow_load(*args, **kwargs):  # a model that takes a while (the real one loads after)
        release.wait(60)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(loader, "load_model", slow_load)
    speech = RecordedSpeech()
    app = make_app(speech=speech)
    try:
        assert app.controller.state == State.LOADING
        assert speech.texts()[0] == "Loading the model."
        # Two progress sentences while the load still runs: the silence never lasts.
        qtbot.waitUntil(lambda: len(_progress(speech)) >= 2, timeout=30_000)
        assert app.controller.state == State.LOADING
    finally:
        release.set()
    assert app.loading_timer.interval() <= 3000
    assert all(t.endswith(" percent.") for t in _progress(speech))
    # Progress never cuts off other speech: it goes after it.
    assert {p for t, p in speech.said if t.startswith(("Loading", "Still loading"))} == {Priority.NORMAL}
    qtbot.waitUntil(lambda: app.controller.state == State.IDLE, timeout=60_000)
    assert not app.loading_timer.isActive()
    said = len(speech.said)
    qtbot.wait(3500)
    assert not any(t.startswith("Still loading") for t in speech.texts()[said:])


def test_progress_waits_while_something_else_is_being_said(qtbot, make_app, monkeypatch) -> None:
    """No flood: a tick that finds speech still going only shows the progress."""
    release = threading.Event()
    real_load = loader.load_model
    monkeypatch.setattr(loader, "load_model", lambda *a, **k: (release.wait(60), real_load(*a, **k))[1])
    speech = RecordedSpeech()
    app = make_app(speech=speech)
    try:
        speech.busy = True
        before = len(speech.said)
        app.loading_timer.timeout.emit()
        assert len(speech.said) == before
        assert app.window.status.text().startswith("Still loading the model")
        speech.busy = False
        app.loading_timer.timeout.emit()
        assert len(speech.said) == before + 1
    finally:
        release.set()
    qtbot.waitUntil(lambda: app.controller.state == State.IDLE, timeout=60_000)


def test_quitting_says_lookaloud_closed_and_waits_until_it_is_said(qtbot, make_app) -> None:
    speech = RecordedSpeech()
    app = make_app(speech=speech)
    qtbot.waitUntil(lambda: app.controller.state == State.IDLE, timeout=60_000)
    speech.reaches_user = True
    app.shutdown()
    assert speech.texts()[-1] == "Lookaloud closed."
    assert speech.said[-1][1] == Priority.NOW  # cuts off whatever was being said
    assert speech.waited and 0 < speech.waited[-1] <= 5  # waits for it, but not for ever


def test_quitting_with_no_voice_announces_lookaloud_closed_at_once(qtbot, make_app, monkeypatch) -> None:
    """No voice reaches the user (no sound device, no screen reader speech): the goodbye is an
    accessibility announcement, raised at once since the event loop has already ended."""
    speech = RecordedSpeech()
    app = make_app(speech=speech)
    announced: list[str] = []
    monkeypatch.setattr(app.announcer, "_on_requested", lambda text, _assertive: announced.append(text))
    app.shutdown()
    assert speech.texts()[-1] == "Lookaloud closed." and announced == ["Lookaloud closed."]


def test_first_start_says_that_setup_is_open(qtbot, make_app) -> None:
    """With the own voice (the default) and no model yet, setup opens: the user hears so, and
    what setup then says reaches the same speech."""
    speech = RecordedSpeech()
    seen: dict[str, object] = {}

    def look() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None or not hasattr(dialog, "model_list"):
            QTimer.singleShot(50, look)
            return
        seen["said when it opened"] = list(speech.texts())
        dialog.model_list.setFocus()
        qtbot.keyClick(dialog.model_list, Qt.Key.Key_Return)
        seen["after Enter"] = speech.texts()[len(seen["said when it opened"]):]
        dialog.reject()

    QTimer.singleShot(0, look)
    make_app(model="", speech=speech)
    qtbot.waitUntil(lambda: "after Enter" in seen, timeout=30_000)
    assert app_module.SETUP_OPEN in seen["said when it opened"]
    assert app_module.SETUP_OPEN.startswith("Lookaloud setup is open.")
    assert seen["after Enter"] and seen["after Enter"][0].startswith("To download ")
    qtbot.waitUntil(lambda: "No model is set up yet" in speech.texts()[-1], timeout=10_000)


def test_the_description_field_gives_a_screen_reader_the_whole_text(qtbot, make_app) -> None:
    """On focus a screen reader reads the line at the caret of a text box: Orca 43 read
    "... The title is: Trains." where the description went on. The field's accessible
    description holds the whole text (tests/a11y/test_orca_dialogs.py hears it with Orca)."""
    from PIL import Image

    app = make_app()
    qtbot.waitUntil(lambda: app.controller.state == State.IDLE, timeout=60_000)
    assert app.window.description.accessibleDescription() == "What Lookaloud found in the current picture."
    picture = app.controller.describe_image(Image.new("RGB", (64, 48), (220, 30, 30)), "red.png")
    qtbot.waitUntil(lambda: bool(picture.description), timeout=60_000)
    assert app.window.description.toPlainText() == picture.description
    assert app.window.description.accessibleDescription() == picture.description
