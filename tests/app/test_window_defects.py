"""The main window's and the controller's defects from the issue 13 walkthrough, as the user
meets them: Escape stops speech and Stop is there while Lookaloud speaks; Control V in the
Question box describes a pictured clipboard and still pastes text; ten quick presses of
Describe give one description and one history entry; an answer about an earlier picture never
cuts off the new one's description; a cancelled region is said once.

The real app around a tiny BLIP-2 on its real inference thread, real widgets and a real
clipboard under Xvfb, real key presses; speech through the real SpeechOutput: the own voice
(espeak-ng into the paced null output) where speech must be interrupted, else one that keeps
what it was asked to say."""

from __future__ import annotations

import subprocess
import threading

import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, Qt
from PySide6.QtGui import QAccessible, QImage
from PySide6.QtWidgets import QApplication

from desktop_app.controller import State
from desktop_app.speech.audio_out import NullAudioOut
from desktop_app.speech.output import SpeechOutput, SpeechSettings
from desktop_app.speech.own_voice import OwnVoiceSpeaker
from desktop_app.speech.speaker import SpeechEvent
from desktop_app.ui.window import SPEECH_POLL_MS
from tests.app.keyboard import show_active


class HeardSpeech(SpeechOutput):
    """The real speech output without a sound device; it keeps what it was asked to say and
    what its own voice did with it. With `own_voice=None` it has no voice (nothing to hear but
    the list); by default it speaks with the real own voice into the paced null output, which
    takes as long as the sound lasts, so it can be interrupted."""

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.heard: list[str] = []
        self.events: list[tuple[SpeechEvent, str]] = []
        self._lock = threading.Lock()
        super().__init__(SpeechSettings(earcons=False), audio_out=NullAudioOut(), screen_reader=None,
                         listener=self._on_event, **kwargs)

    def _on_event(self, event: SpeechEvent, text: str) -> None:  # on the voice's thread
        with self._lock:
            self.events.append((event, text))

    def said(self, event: SpeechEvent) -> list[str]:
        with self._lock:
            return [t for e, t in self.events if e is event]

    def speak(self, text: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.heard.append(text)
        return super().speak(text, *args, **kwargs)


def _wait_idle(qtbot, app, timeout=60000):
    qtbot.waitUntil(lambda: app.controller.state == State.IDLE and not app.controller._outstanding, timeout=timeout)


def _picture(colour=(200, 30, 30)) -> Image.Image:
    return Image.new("RGB", (48, 40), colour)


def _qimage(colour) -> QImage:
    image = QImage(48, 40, QImage.Format.Format_RGB888)
    image.fill(colour)
    return image


# ---- Escape stops speech; Stop is enabled while Lookaloud speaks -------------------------------


@pytest.mark.skipif(not OwnVoiceSpeaker.check(), reason="no speech engine (espeak-ng) is installed")
def test_escape_in_the_window_stops_speech_and_stop_is_there_while_it_speaks(qtbot, make_app):
    speech = HeardSpeech()
    app = make_app(speech=speech)
    show_active(qtbot, app.window)
    _wait_idle(qtbot, app)
    qtbot.waitUntil(lambda: not speech.is_speaking, timeout=60000)  # "The model is ready" said
    stop = app.window.stop_button
    qtbot.waitUntil(lambda: not stop.isEnabled())  # quiet and idle: nothing to stop
    long_text = " ".join(f"This is sentence number {i} of a long description." for i in range(1, 40))
    app.controller.say(long_text)
    qtbot.waitUntil(lambda: long_text in speech.said(SpeechEvent.STARTED), timeout=30000)
    qtbot.waitUntil(stop.isEnabled, timeout=5000)
    reader_view = QAccessible.queryAccessibleInterface(stop)
    assert reader_view.text(QAccessible.Text.Name) == "Stop"
    assert not reader_view.state().disabled and reader_view.role() == QAccessible.Role.Button
    app.window.question.setFocus()
    qtbot.keyClick(app.window.question, Qt.Key.Key_Escape)  # where the user is when it talks
    qtbot.waitUntil(lambda: long_text in speech.said(SpeechEvent.INTERRUPTED), timeout=20000)
    assert long_text not in speech.said(SpeechEvent.FINISHED)
    qtbot.waitUntil(lambda: not stop.isEnabled(), timeout=5000)  # quiet again
    assert QAccessible.queryAccessibleInterface(stop).state().disabled

    # Pressed with the keyboard, Stop keeps the focus (a disabled button would hand it on, and
    # the screen reader would read the next control aloud), and is disabled once focus leaves.
    again = long_text.replace("sentence", "line")
    app.controller.say(again)
    qtbot.waitUntil(stop.isEnabled, timeout=30000)
    stop.setFocus()
    qtbot.waitUntil(stop.hasFocus)
    qtbot.keyClick(stop, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: again in speech.said(SpeechEvent.INTERRUPTED), timeout=20000)
    qtbot.wait(3 * SPEECH_POLL_MS)  # the Stop button looks at the speech again meanwhile
    assert stop.hasFocus() and stop.isEnabled()
    app.window.question.setFocus()
    qtbot.waitUntil(lambda: not stop.isEnabled(), timeout=5000)


# ---- Control V in the Question box -------------------------------------------------------------


def test_control_v_in_the_question_box_describes_a_picture_and_pastes_text(qtbot, make_app):
    app = make_app()
    show_active(qtbot, app.window)
    _wait_idle(qtbot, app)
    question = app.window.question
    question.setFocus()
    qtbot.waitUntil(question.hasFocus)
    clipboard = QApplication.clipboard()

    clipboard.setImage(_qimage(Qt.GlobalColor.red))
    qtbot.keyClick(question, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: app.controller.current is not None, timeout=5000)
    picture = app.controller.current
    assert picture.source == "pasted picture" and picture.image.getpixel((5, 5)) == (255, 0, 0)
    qtbot.waitUntil(lambda: bool(picture.description), timeout=60000)
    assert picture.description in app.heard and question.text() == "" and question.hasFocus()

    clipboard.setText("what colour is it?")
    qtbot.keyClick(question, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert question.text() == "what colour is it?"
    assert app.controller.pictures == [picture]

    question.clear()
    clipboard.setMimeData(QMimeData())  # neither a picture nor text
    heard_before = len(app.heard)
    qtbot.keyClick(question, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    (said,) = app.heard[heard_before:]  # one sentence, not silence
    assert "clipboard" in said and said.endswith(".")
    assert question.text() == "" and app.controller.pictures == [picture]


# ---- ten quick presses of Describe -------------------------------------------------------------


def _history_texts(app) -> list[str]:
    return [app.window.history.item(row).text() for row in range(app.window.history.count())]


def test_ten_quick_presses_of_describe_give_one_description_and_one_entry(qtbot, make_app):
    app = make_app()
    show_active(qtbot, app.window)
    _wait_idle(qtbot, app)
    heard_before = len(app.heard)
    for _ in range(10):
        app.trigger("describe-screen")  # faster than a description: before any of them is done
    _wait_idle(qtbot, app)
    (picture,) = app.controller.pictures
    assert picture.description and app.heard[heard_before:] == [picture.description]
    assert _history_texts(app) == [f"screen: {picture.description}"]

    # A screen that changes between the presses (a clock, the window itself): one entry still.
    heard_before = len(app.heard)
    for i in range(10):
        app.describe(_picture((20 * i, 100, 100)), "screen")
    _wait_idle(qtbot, app)
    newest = app.controller.current
    assert app.controller.pictures == [newest, picture] and newest.description
    assert app.heard[heard_before:] == [newest.description]
    assert len(_history_texts(app)) == 2 and not any("looking" in t for t in _history_texts(app))


def test_the_same_picture_again_adds_no_duplicate_entry(qtbot, make_app, tmp_path):
    app = make_app()
    _wait_idle(qtbot, app)
    path = tmp_path / "cat.png"
    _picture().save(path)
    app.window.open_path(str(path))
    _wait_idle(qtbot, app)
    picture = app.controller.current
    other = app.controller.describe_image(_picture((0, 0, 200)), "other")
    _wait_idle(qtbot, app)
    app.window.open_path(str(path))  # the same pixels again
    _wait_idle(qtbot, app)
    assert app.controller.pictures == [picture, other] and app.controller.current is picture
    assert app.window.history.count() == 2
    assert app.heard[-1] == picture.description  # said again, not made again


# ---- an answer about an earlier picture ---------------------------------------------------------


def test_a_spoken_answer_about_an_earlier_picture_never_cuts_off_the_new_description(qtbot, make_app):
    from desktop_app.speech.microphone import WavSource
    from testkit.speech_audio import shared_transcriber, speak, surround

    speech = HeardSpeech()  # the real own voice: what cuts off what can be heard
    app = make_app(speech=speech)
    app.transcriber = shared_transcriber()
    clip = surround(speak("How many circles are there?"), before=0.5, after=1.5)
    app.audio_source_factory = lambda: WavSource(samples=clip)
    _wait_idle(qtbot, app)
    first = app.controller.describe_image(_picture((220, 20, 20)), "screen")
    _wait_idle(qtbot, app)
    app.trigger("ask")  # the user begins to ask about the red picture...
    app.describe(_picture((20, 20, 220)), "window")  # ...and takes another before the question is heard
    second = app.controller.current
    qtbot.waitUntil(lambda: bool(first.conversation or second.conversation), timeout=120000)
    _wait_idle(qtbot, app)
    assert second.conversation == []  # not filed under the new picture
    ((question, answer),) = first.conversation  # but under its own
    assert "circle" in question.lower()
    assert second.description in app.heard
    after_description = app.heard[app.heard.index(second.description):]
    assert answer not in after_description  # never said over (or after) the new description
    # Nor does "You asked: ..." cut it off: it waits its turn, and says whose answer that is.
    qtbot.waitUntil(lambda: not speech.is_speaking, timeout=60000)
    # (both tiny-model captions may read alike: the new description, said last, ends whole)
    ends = [event for event, text in speech.events if event is not SpeechEvent.STARTED and text
            and text in second.description]
    assert ends[-1] is SpeechEvent.FINISHED
    (asked,) = [text for text in speech.heard if text.startswith("You asked")]
    assert "picture before" in asked


# ---- a cancelled region ------------------------------------------------------------------------


def test_a_cancelled_region_is_said_once(qtbot, make_app):
    speech = HeardSpeech(own_voice=lambda: None)
    app = make_app(speech=speech)
    _wait_idle(qtbot, app)
    app.trigger("describe-region")
    overlay = app._overlay
    qtbot.waitExposed(overlay)
    qtbot.waitUntil(overlay.isActiveWindow)
    heard_before = len(speech.heard)  # the help, which says that Escape cancels
    with qtbot.waitSignal(overlay.cancelled, timeout=5000):
        subprocess.run(["xdotool", "key", "Escape"], check=True)
    cancelled = [s for s in speech.heard[heard_before:] if "cancel" in s.lower()]
    assert len(cancelled) == 1, cancelled
    assert app.controller.pictures == [] and not overlay.isVisible()
