"""The composition root: builds the app's parts, wires them, and runs the Qt event loop.

trigger (hotkey | tray | window | IPC) -> capture -> controller -> inference thread -> result
-> speech output + window. The capture happens and is acknowledged with a sound before any
model work starts.

Besides results, the app says what it is doing when nothing else would be heard: that setup
is open (first start), how far loading the model has come (every LOAD_PROGRESS_INTERVAL_MS,
never over other speech), and "Lookaloud closed." as it quits (waiting, at most GOODBYE_WAIT_S,
until that has been said). The dialogs say their sentences through the same path (`_say_now`).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QApplication

from desktop_app import settings as settings_store
from desktop_app.applying import (
    AutostartSettings,
    SettingsPart,
    SpeechOutSettings,
    speech_settings,
)
from desktop_app.controller import Controller, State
from desktop_app.gc_guard import GarbageCollector
from desktop_app.hotkeys.base import Action

# A blind user waiting for the model hears how far it has come at least this often (a 10 s
# silence reads as a hang); a tick that finds speech still going says nothing.
LOAD_PROGRESS_INTERVAL_MS = 3000
LOADING_STARTED = "Loading the model."
SETUP_OPEN = ("Lookaloud setup is open. Choose a picture description model in the list, then press Download; "
              "or press Escape to choose one later.")
CLOSED = "Lookaloud closed."
# After "You asked: ..." when another picture was taken while the user spoke.
ASKED_ABOUT_EARLIER = "That is about the picture before this one; its answer is in the history."
GOODBYE_WAIT_S = 3.0
GOODBYE_SAID_S = 1.5  # about how long "Lookaloud closed." takes at a usual rate


def loading_progress_sentence(percent: int) -> str:
    return f"Still loading the model, {percent} percent."


class SpeechOut(Protocol):
    """What the app uses of speech output (speech/output.py's SpeechOutput)."""

    def speak(self, text: str, priority: Any = ...) -> None: ...  # a speech.speaker.Priority; NOW by default
    def stop(self) -> None: ...
    @property
    def is_speaking(self) -> bool: ...
    def is_heard(self) -> bool: ...
    def wait_until_done(self, timeout: float | None = None) -> bool: ...
    def voices(self) -> Sequence[Any]: ...
    def play(self, earcon: Any) -> None: ...
    def apply(self, settings: Any) -> None: ...
    def start_working(self) -> None: ...
    def stop_working(self) -> None: ...
    def close(self) -> None: ...


class Hotkeys(SettingsPart, Protocol):
    """What the app uses of global hotkeys (hotkeys/manager.py's HotkeyManager)."""

    def stop(self) -> None: ...


class LookaloudApp(QObject):
    """Everything the running app holds. Build with `create()`; GUI thread only."""

    def __init__(self, qapp: QApplication, settings: settings_store.Settings, speech: SpeechOut | None = None,
                 hotkeys: Hotkeys | None = None, open_window: bool = True) -> None:
        super().__init__()
        from desktop_app.ui.announce import Announcer
        from desktop_app.ui.tray import Tray, build_menu
        from desktop_app.ui.window import MainWindow
        from desktop_app.workers.listening import Listening

        self.qapp = qapp
        self.settings = settings
        # The model thread runs Python between math kernels; hand the GIL back to the window
        # every millisecond instead of every five, so keys and speech never wait on it.
        sys.setswitchinterval(0.001)
        self.controller = Controller(settings)
        self.window = MainWindow(self.controller)
        self.announcer = Announcer(self.window)  # the app says each message once (_say_now)
        self.garbage = GarbageCollector(self)  # cycles are collected here, on the GUI thread
        self.speech: SpeechOut = speech if speech is not None else self._make_speech()
        self.menu = build_menu(settings.hotkeys, self.trigger, self.window)
        self.tray = Tray(self.menu, self.trigger) if Tray.isSystemTrayAvailable() else None
        if self.tray:
            self.tray.show()
        self.listening = Listening(settings, self)
        self._overlay: Any = None
        self._asking_about: int | None = None  # the picture current when the user began to ask aloud
        # action -> why its shortcut does not work (Settings shows it); the ones not said yet.
        self._hotkey_failures: dict[str, str] = {}
        self._unsaid_hotkey_failures: dict[str, str] = {}

        self.controller.message.connect(self._on_message)
        self.controller.message_continued.connect(self._on_message_continued)
        self.controller.state_changed.connect(self._on_state_changed)
        self.controller.model_ready.connect(self._on_model_ready)
        self.controller.error.connect(lambda _m: self._play("ERROR"))
        self.listening.listening_started.connect(self._on_listening_started)
        self.listening.listening_finished.connect(lambda: self._play("DONE"))
        self.listening.transcribed.connect(self.on_transcribed)
        self.listening.failed.connect(self._on_listen_failed)
        self.window.picture_opened.connect(self.describe)
        self.window.ask_aloud_requested.connect(self.ask_aloud)
        self.window.stop_requested.connect(self.stop_speaking)  # Escape and Stop in the window
        self.window.watch_speech(lambda: self.speech.is_speaking)  # Stop is enabled while it speaks
        self.window.open_settings_requested.connect(self.open_settings)
        self.find_picture = self._make_find_picture()
        self.window.find_requested.connect(self.open_find)
        self.loading_timer = QTimer(self)  # says how far loading the model has come
        self.loading_timer.setInterval(LOAD_PROGRESS_INTERVAL_MS)
        self.loading_timer.timeout.connect(self._on_loading_tick)
        # After the wiring above: a shortcut that fails now is said and shown like any other.
        self.hotkeys: Hotkeys = hotkeys if hotkeys is not None else self._make_hotkeys()
        if self.tray is None or open_window:
            self.window.present()
        if settings.model:
            self.controller.load_model()
            self._loading_started()  # LOADING from the start: no state change tells of it
        else:
            QTimer.singleShot(0, self.open_setup)

    # ---- where spoken questions come from (tests hand in recorded speech here) -------------

    @property
    def transcriber(self) -> Any:
        return self.listening.transcriber

    @transcriber.setter
    def transcriber(self, transcriber: Any) -> None:
        self.listening.transcriber = transcriber

    @property
    def audio_source_factory(self) -> Callable[[], Any] | None:
        return self.listening.audio_source_factory

    @audio_source_factory.setter
    def audio_source_factory(self, factory: Callable[[], Any] | None) -> None:
        self.listening.audio_source_factory = factory

    @property
    def microphone_factory(self) -> Callable[[str | None], Any]:
        return self.listening.microphone_factory

    @microphone_factory.setter
    def microphone_factory(self, factory: Callable[[str | None], Any]) -> None:
        self.listening.microphone_factory = factory

    # ---- building parts ---------------------------------------------------------------------

    def _make_speech(self) -> SpeechOut:
        from desktop_app.speech.output import SpeechOutput

        return SpeechOutput(speech_settings(self.settings), announce=self.announcer.announce, notify=None)

    def _make_hotkeys(self) -> Hotkeys:
        from desktop_app.hotkeys.manager import HotkeyManager

        manager = HotkeyManager(parent=self)
        manager.activated.connect(self.trigger)
        manager.rebinding.connect(self._on_hotkeys_rebinding)
        manager.registration_failed.connect(self._on_hotkey_failed)
        if manager.start():
            manager.register(self.settings.hotkeys)
        else:
            self.window.show_status(manager.fallback_instructions())
        return manager

    # ---- actions ----------------------------------------------------------------------------

    @Slot(str)
    def trigger(self, action: str) -> None:
        """Do one action by name (hotkey, tray, IPC). GUI thread."""
        handlers = {
            Action.DESCRIBE_SCREEN.value: lambda: self._capture("screen"),
            Action.DESCRIBE_WINDOW.value: lambda: self._capture("window"),
            Action.DESCRIBE_REGION.value: self.describe_region,
            Action.DESCRIBE_CLIPBOARD.value: lambda: self._capture("clipboard"),
            Action.ASK.value: self.ask_aloud,
            Action.READ_TEXT.value: self.read_text,
            Action.STOP_SPEAKING.value: self.stop_speaking,
            Action.REPEAT_LAST.value: self.controller.repeat_last,
            "show": self.window.present,
            "settings": self.open_settings,
            "find": self.open_find,
            "quit": self.quit,
        }
        handler = handlers.get(action)
        if handler:
            handler()

    def _capture(self, what: str) -> None:
        from desktop_app.capture.types import CaptureError

        try:
            if what == "screen":
                from desktop_app.capture.screen import capture_screen

                image = capture_screen("all" if self.settings.all_monitors else "focused")
            elif what == "window":
                from desktop_app.capture.window import capture_active_window

                image = capture_active_window()
            else:
                from desktop_app.capture.clipboard import capture_clipboard_image

                image = capture_clipboard_image()
                if image is None:
                    self._play("ERROR")
                    self.controller.say("There is no picture on the clipboard.")
                    return
        except CaptureError as exc:
            self._play("ERROR")
            self.controller.say(str(exc))
            return
        self.describe(image, what)

    @Slot(object, str)
    def describe(self, image: Any, source: str) -> None:
        self._play("ACCEPTED")  # the picture is taken: say so before the model starts
        self.controller.describe_image(image, source)

    def describe_region(self) -> None:
        """Open the region overlay; the screen is frozen when it opens, so the overlay is never in the picture."""
        from desktop_app.capture.types import CaptureError
        from desktop_app.ui.region_overlay import RegionOverlay

        try:
            overlay = RegionOverlay()
        except CaptureError as exc:
            self._play("ERROR")
            self.controller.say(str(exc))
            return
        self._overlay = overlay
        overlay.spoken.connect(self._say_now)

        def accepted(_rect: Any) -> None:
            self._overlay = None
            if overlay.selected_image is not None:
                self.describe(overlay.selected_image, "region")

        def cancelled() -> None:
            self._overlay = None
            self.controller.say("Region cancelled.")

        overlay.accepted.connect(accepted)
        overlay.cancelled.connect(cancelled)
        overlay.open()

    def read_text(self) -> None:
        if self.controller.current is None:
            self._capture("screen")
        self.controller.read_text()

    def stop_speaking(self) -> None:
        self.speech.stop()
        self.controller.stop()

    def ask_aloud(self) -> None:
        """Listen for a spoken question (a second press stops listening)."""
        if self.listening.is_listening:
            self.listening.stop()
            return
        problem = self.listening.listen()  # first: its listening sound comes at the key press
        if problem:
            self.controller.say(problem)
            return
        if self.controller.current is None:
            self._capture("screen")  # nothing to ask about yet: the screen, taken while listening
        self._asking_about = self.controller.current.id if self.controller.current else None

    def _on_listening_started(self) -> None:
        self._play("ACCEPTED")
        self.window.show_status("Listening. Ask your question.")

    def _on_listen_failed(self, message: str) -> None:
        self._play("ERROR")
        self.controller.say(message)

    @Slot(str)
    def on_transcribed(self, text: str) -> None:
        """A spoken question or command arrived."""
        from desktop_app.speech.voice_commands import VoiceCommand, recognise_command

        command = recognise_command(text)
        if command == VoiceCommand.STOP:
            self.stop_speaking()
        elif command == VoiceCommand.DESCRIBE_SCREEN:
            self._capture("screen")
        elif command == VoiceCommand.READ_TEXT:
            self.read_text()
        elif command == VoiceCommand.DESCRIBE_AGAIN:
            current = self.controller.current
            self.controller.say(current.description if current and current.description else
                                "There is no description yet.")
        elif text.strip():
            from desktop_app.speech.speaker import Priority
            from desktop_app.speech.stt import heard_sentence

            self.window.question.setText(text)
            current = self.controller.current
            if self._asking_about is not None and (current is None or current.id != self._asking_about):
                # Another picture was taken while the user spoke: its description is not cut
                # off; the answer is filed under the picture asked about (the history has it).
                self.speech.speak(f"{heard_sentence(text)} {ASKED_ABOUT_EARLIER}", Priority.NORMAL)
            else:
                # What was heard comes first, so a misheard question is noticed before its answer.
                self.controller.say(heard_sentence(text))
            # About the picture of when the user began to ask, even if another was taken since.
            if self.controller.ask(text, self._asking_about):
                self.window.question.clear()
        else:
            self.controller.say("I did not hear a question.")

    # ---- dialogs ----------------------------------------------------------------------------

    def open_settings(self) -> None:
        """Settings, modal; Apply and OK both apply (the dialog's `applied`), Cancel keeps what
        was applied."""
        from desktop_app.ui.settings_dialog import SettingsDialog

        voices = self.speech.voices()
        try:
            from desktop_app.speech.microphone import list_microphones

            microphones = [m.name for m in list_microphones()]
        except Exception:  # noqa: BLE001 - no audio library: the field stays on the default device
            microphones = []
        dialog = SettingsDialog(self.settings, self.window, voices=voices, microphones=microphones,
                                hotkey_failures=dict(self._hotkey_failures), say=self._say_now)
        dialog.applied.connect(self.apply_settings)
        dialog.forget_pictures_requested.connect(self.forget_all_pictures)
        try:
            dialog.exec()
        finally:
            dialog.applied.disconnect(self.apply_settings)
            dialog.deleteLater()

    def _make_find_picture(self) -> Any:
        from desktop_app.ui.find_dialog import FindPicture

        def make_find() -> Any:
            from desktop_app.retrieval.finder import PictureFinder

            finder = PictureFinder(device=self.settings.device, precision=self.settings.precision)
            return lambda query, history, cancel: finder.find(query, history, cancel=cancel)

        def history() -> list[tuple[int, Any, str]]:
            return [(p.id, p.image, p.description) for p in self.controller.core.pictures]

        def chosen(found: Any) -> None:
            if found.picture_id is not None:
                self.controller.select_picture(found.picture_id)
            else:
                self.window.open_path(found.path)

        return FindPicture(make_find, self.controller.say, history, chosen, self.window)

    def open_find(self) -> None:
        """Find picture (Ctrl+F, the tray): search recent pictures and indexed folders."""
        self.window.present()
        self.find_picture.open()

    def forget_all_pictures(self) -> None:
        """Settings' Forget all pictures: the recent pictures in memory and the picture index."""
        from desktop_app.retrieval.store import forget_all_pictures

        self.controller.forget_pictures()
        self.controller.say(forget_all_pictures())

    def open_setup(self) -> None:
        from desktop_app.ui.setup_dialog import choose_model

        # Said before it opens: with Lookaloud's own voice (the default) nothing else would
        # tell a blind user that a dialog is waiting for them.
        self.controller.say(SETUP_OPEN)
        model = choose_model(self.window, say=self._say_now)
        if model:
            self.apply_settings(self.settings.update(model=model))
        else:
            self.controller.say("No model is set up yet. Open Settings with Control comma to choose one when you are ready.")

    def apply_settings(self, new: settings_store.Settings) -> None:
        """Use `new` from now on and save it; a save that fails is said, and the rest still happens."""
        old, self.settings = self.settings, new
        try:
            settings_store.save(new)
        except settings_store.SettingsError as exc:
            self._play("ERROR")
            self.controller.say(str(exc))
        parts: tuple[SettingsPart, ...] = (
            SpeechOutSettings(self.speech), self.listening, self.hotkeys, self.controller,
            AutostartSettings(self.controller.say))
        for part in parts:
            part.apply(old, new)

    # ---- feedback ---------------------------------------------------------------------------

    def _play(self, name: str) -> None:
        from desktop_app.speech.earcons import Earcon

        self.speech.play(Earcon[name])

    def _say_now(self, text: str) -> None:
        """Say text once: through the chosen speech output, or, where that reaches nobody (no
        screen reader, no working voice), as an accessibility announcement."""
        self.speech.speak(text)
        if not self.speech.is_heard():
            self.announcer.announce(text)

    @Slot(str)
    def _on_message(self, text: str) -> None:
        self._say_now(text)  # the window shows it: it listens to the controller itself

    @Slot(str)
    def _on_message_continued(self, text: str) -> None:
        """More of the last message (a caption's next phrase, then the text found): it waits for
        what is being said instead of cutting it off."""
        from desktop_app.speech.speaker import Priority

        self.speech.speak(text, Priority.NORMAL)
        if not self.speech.is_heard():
            self.announcer.announce(text)

    @Slot(str)
    def _on_model_ready(self, sentence: str) -> None:
        self._say_now(sentence)
        self.garbage.freeze()  # the model and libraries stay; later collections skip them

    def _loading_started(self) -> None:
        if not self.loading_timer.isActive():
            self._say_progress(LOADING_STARTED)
            self.loading_timer.start()

    @Slot()
    def _on_loading_tick(self) -> None:
        if self.controller.state != State.LOADING:
            self.loading_timer.stop()
            return
        self._say_progress(loading_progress_sentence(self.controller.load_percent))

    def _say_progress(self, text: str) -> None:
        """Show a progress sentence and say it unless something else is being said: it never
        cuts off or queues behind other speech, so progress cannot pile up."""
        self.window.show_status(text)
        if self.speech.is_speaking:
            return
        from desktop_app.speech.speaker import Priority

        self.speech.speak(text, Priority.NORMAL)
        if not self.speech.is_heard():
            self.announcer.announce(text)

    @Slot(object)
    def _on_state_changed(self, state: State) -> None:
        if state == State.LOADING:
            self._loading_started()
        else:
            self.loading_timer.stop()
        if state == State.THINKING:
            self.speech.start_working()
        else:
            self.speech.stop_working()
        if state == State.IDLE:
            self._play("DONE")

    def _on_hotkeys_rebinding(self) -> None:
        self._hotkey_failures.clear()  # the new combinations report their own failures
        self._unsaid_hotkey_failures.clear()

    def _on_hotkey_failed(self, action: str, message: str) -> None:
        """Failures come one by one (all of them at start); they are said together, once."""
        self._hotkey_failures[action] = message
        if not self._unsaid_hotkey_failures:
            QTimer.singleShot(0, self._say_hotkey_failures)
        self._unsaid_hotkey_failures[action] = message

    def _say_hotkey_failures(self) -> None:
        failures, self._unsaid_hotkey_failures = self._unsaid_hotkey_failures, {}
        if failures:
            self._play("ERROR")
            self.controller.say(hotkey_failure_sentence(failures, self.settings.hotkeys))

    def quit(self) -> None:
        self.qapp.quit()

    def say_goodbye(self) -> None:
        """Say "Lookaloud closed." and wait (GOODBYE_WAIT_S at most) until it has been said, so
        that quitting is heard rather than silent. Runs after the event loop has ended."""
        import time

        started = time.monotonic()
        self.speech.stop()
        self.speech.speak(CLOSED)
        if not self.speech.is_heard():
            self.announcer.announce_now(CLOSED)
            return
        self.speech.wait_until_done(GOODBYE_WAIT_S)
        # A screen reader takes the sentence and says nothing of when it is done, and closing
        # the speech output stops it: leave it the time the sentence takes to say.
        left = GOODBYE_SAID_S - (time.monotonic() - started)
        if left > 0:
            time.sleep(left)

    def shutdown(self) -> None:
        """Say goodbye, then stop every part."""
        self.find_picture.stop()
        self.loading_timer.stop()
        self.say_goodbye()
        self.listening.close()
        self.hotkeys.stop()
        self.controller.shutdown()
        self.speech.close()
        self.garbage.stop()


def hotkey_failure_sentence(failures: dict[str, str], hotkeys: dict[str, str]) -> str:
    """One sentence for shortcuts that do not work (action -> the backend's message), naming
    each action and its key; Settings shows the full messages."""
    from desktop_app.hotkeys.base import ACTION_LABELS, InvalidCombo, busy_message, format_combo, parse_combo

    def label(action: str) -> str:
        return ACTION_LABELS[Action(action)] if action in Action._value2member_map_ else action

    def combo(action: str) -> str:
        text = hotkeys.get(action, "")
        try:
            return format_combo(parse_combo(text))
        except InvalidCombo:
            return text

    if len(failures) > 1:
        names = [f"{combo(a)} for {label(a)}" for a in failures]
        listed = ", ".join(names[:-1]) + " and " + names[-1]
        return f"The shortcuts {listed} do not work; Settings says why and lets you choose others."
    (action, message), = failures.items()
    if message == busy_message(action, combo(action)):
        return f"The shortcut {combo(action)} for {label(action)} is already used by another program; choose another one in Settings."
    reason = message.split(". ")[0].rstrip(".")
    first, _, rest = reason.partition(" ")
    if first in ("A", "An", "The"):
        reason = f"{first.lower()} {rest}"
    return f"The shortcut {combo(action)} for {label(action)} cannot be used: {reason}; choose another one in Settings."


# How long a second `lookaloud` waits for the first, which holds the lock, to answer: it
# answers once its event loop runs, after the libraries are loaded.
HANDOVER_WAIT_S = 30.0


def _claim_instance() -> tuple[Any, Any, str | None] | None:
    """Become the one running Lookaloud: (lock, server, a sentence to say or None); None when
    another one runs (it was asked to show its window)."""
    import time

    from desktop_app import ipc

    try:
        folder = ipc.runtime_folder()
        lock = ipc.InstanceLock(folder)
        deadline = time.monotonic() + HANDOVER_WAIT_S
        while not lock.acquire():
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms > 0 and ipc.send("show", timeout_ms=left_ms) is not None:
                print("Lookaloud is already running; its window has been opened.")
                return None
            if time.monotonic() > deadline:
                print("Lookaloud is already running.")
                return None
            time.sleep(0.1)  # the one holding the lock has not started listening yet
    except ipc.RuntimeFolderError as exc:
        return None, None, str(exc)  # runs on its own rather than not at all
    server = ipc.InstanceServer(ipc.server_name(folder))
    if not server.listen():
        return lock, None, "Lookaloud could not listen for lookaloud trigger, so desktop shortcuts cannot reach it."
    return lock, server, None


def run_app(args: argparse.Namespace) -> int:
    """Start the app, or hand over to the one already running."""
    from desktop_app.vision.loader import default_threads

    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    qapp.setApplicationName("Lookaloud")
    qapp.setApplicationDisplayName("Lookaloud")
    qapp.setQuitOnLastWindowClosed(False)
    claim = _claim_instance()
    if claim is None:
        return 0
    lock, server, problem = claim
    settings_store.remove_leftovers()  # only the instance saves settings, so only it cleans up
    default_threads()
    settings = settings_store.load()
    if args.model:
        settings = settings.update(model=args.model)
    app = LookaloudApp(qapp, settings, open_window=not args.no_window)
    if problem:
        app.controller.say(problem)
    if server is not None:
        valid = {a.value for a in Action} | {"show", "settings", "quit"}
        server.accept = lambda message: message in valid
        server.received.connect(app.trigger)
    # Ctrl+C in a terminal quits cleanly: Python only sees signals while Qt lets it run.
    signal.signal(signal.SIGINT, lambda *_: qapp.quit())
    timer = QTimer()
    timer.start(300)
    timer.timeout.connect(lambda: None)
    try:
        return qapp.exec()
    finally:
        app.shutdown()
        if server is not None:
            server.close()
        if lock is not None:
            lock.release()
