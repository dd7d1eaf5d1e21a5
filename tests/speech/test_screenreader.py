"""The user's screen reader as the output: detection and following it as it starts and stops,
prism's backends (Orca's remote controller, Speech Dispatcher for an older Orca, NVDA...), and the
Qt announcement on AT-SPI as the last way out.

Orca 49's remote controller is played by a stand-in service on a private session bus that
answers as Orca 49 documents it. The stand-in and the real thing (Debian's Orca 43 with
speech-dispatcher, recorded from the sound server) are held to one contract: a result sent while
the screen reader is talking is said whole after it, neither cut nor lost.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.speech.screenreader import (
    OrcaSpeaker,
    PrismSpeaker,
    ScreenReaderKind,
    ScreenReaderWatch,
    detect_screen_reader,
    screen_reader_speaker,
)
from desktop_app.speech.speaker import Priority

STAND_IN_ORCA = textwrap.dedent(
    """
    import sys
    from jeepney import HeaderFields, MessageType, new_error, new_method_return
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    conn = open_dbus_connection(bus=sys.argv[1])
    conn.send_and_get_reply(message_bus.RequestName("org.gnome.Orca.Service"))
    print("ready", flush=True)
    while True:
        msg = conn.receive()
        if msg.header.message_type != MessageType.method_call:
            continue
        fields = msg.header.fields
        if (fields.get(HeaderFields.path), fields.get(HeaderFields.interface), fields.get(HeaderFields.member)) == (
            "/org/gnome/Orca/Service", "org.gnome.Orca.Service", "PresentMessage"
        ):
            print(repr(msg.body[0]), flush=True)
            conn.send(new_method_return(msg, "b", (True,)))
        elif fields.get(HeaderFields.member) == "ListCommands":  # a module's commands (Orca 49)
            conn.send(new_method_return(msg, "a(ss)", ([("InterruptSpeech", "Interrupts speech.")],)))
        elif fields.get(HeaderFields.member) == "ExecuteCommand":
            conn.send(new_method_return(msg, "b", (True,)))
        else:
            conn.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod"))
    """
)


class StandInOrca:
    def __init__(self, bus: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", STAND_IN_ORCA, bus], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"

    def next_message(self) -> str:
        assert self.proc.stdout is not None
        return eval(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def orca(private_bus: str) -> Iterator[StandInOrca]:
    stand_in = StandInOrca(private_bus)
    yield stand_in
    stand_in.close()


# -- detection -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("processes", "expected"),
    [
        (["explorer.exe", "nvda.exe"], ScreenReaderKind.NVDA),
        (["jfw.exe"], ScreenReaderKind.JAWS),
        (["Narrator.exe", "NVDA.exe"], ScreenReaderKind.NVDA),  # NVDA wins over Narrator left on
        (["Finder", "VoiceOver"], ScreenReaderKind.VOICEOVER),
        (["python3", "orca"], ScreenReaderKind.ORCA),
        (["bash", "python3"], None),
    ],
)
def test_the_running_screen_reader_is_recognised(processes, expected, private_bus: str) -> None:
    assert detect_screen_reader(processes, bus_address=private_bus) is expected


def test_orca_is_found_by_its_running_process(tmp_path: Path, private_bus: str) -> None:
    assert detect_screen_reader(bus_address=private_bus) is None
    fake_orca = tmp_path / "orca"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", fake_orca)
    proc = subprocess.Popen([str(fake_orca), "30"])
    try:
        assert detect_screen_reader(bus_address=private_bus) is ScreenReaderKind.ORCA
    finally:
        proc.kill()
        proc.wait()


def test_an_orca_on_another_display_is_not_this_sessions_screen_reader(tmp_path: Path, private_bus: str,
                                                                       monkeypatch) -> None:
    # Another user's session, or another X server on the same machine: its Orca reads nothing of
    # this session, and speaking "to Orca" through Speech Dispatcher here would reach nobody.
    fake_orca = tmp_path / "orca"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", fake_orca)
    monkeypatch.setenv("DISPLAY", ":96.0")  # this session's (the tests' Xvfb is another number)
    proc = subprocess.Popen([str(fake_orca), "30"], env={**os.environ, "DISPLAY": ":97"})
    try:
        time.sleep(0.2)
        assert detect_screen_reader(bus_address=private_bus) is None
        monkeypatch.setenv("DISPLAY", ":97.0")  # the same display, named with its screen
        assert detect_screen_reader(bus_address=private_bus) is ScreenReaderKind.ORCA
    finally:
        proc.kill()
        proc.wait()


def test_orca_is_found_by_its_dbus_service(orca: StandInOrca, private_bus: str) -> None:
    assert detect_screen_reader([], bus_address=private_bus) is ScreenReaderKind.ORCA


# -- following the screen reader as it starts and stops ---------------------------------------


def test_a_screen_reader_started_later_is_followed_and_so_is_its_end(tmp_path: Path, private_bus: str) -> None:
    changes: list[ScreenReaderKind | None] = []
    watch = ScreenReaderWatch(changes.append, interval=0.2,
                              detect=lambda: detect_screen_reader(bus_address=private_bus))
    fake_orca = tmp_path / "orca"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", fake_orca)
    try:
        time.sleep(0.5)
        assert changes == []  # nothing runs yet
        proc = subprocess.Popen([str(fake_orca), "30"])
        try:
            _wait(lambda: changes == [ScreenReaderKind.ORCA], 10)
        finally:
            proc.kill()
            proc.wait()
        _wait(lambda: changes == [ScreenReaderKind.ORCA, None], 10)
    finally:
        watch.close()


def test_check_now_does_not_wait_for_the_next_round() -> None:
    seen: list[ScreenReaderKind | None] = []
    answers = iter([ScreenReaderKind.NVDA] * 1000)
    watch = ScreenReaderWatch(seen.append, interval=3600, detect=lambda: next(answers))
    try:
        watch.check_now()
        _wait(lambda: seen == [ScreenReaderKind.NVDA], 10)
    finally:
        watch.close()


def _wait(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# -- one contract for the stand-in Orca 49 and the real Orca 43 + speech-dispatcher ------------

SPEAK_ONE = textwrap.dedent(
    """
    import sys, time
    from desktop_app.speech.screenreader import ScreenReaderKind, screen_reader_speaker
    speaker = screen_reader_speaker(ScreenReaderKind.ORCA, announce=None)
    print(speaker.backend_name, flush=True)
    speaker.speak(sys.argv[1])
    assert speaker.wait_until_done(20)
    assert speaker.reached, speaker.open_error
    time.sleep(float(sys.argv[2]))  # as the app does, stay on the line until it has been said
    speaker.close()
    """
)

RESULT = "A red circle and a blue square on a white background."


class StandInEnd:
    """Orca 49 played by the stand-in: what reaches it is what it would present."""

    backend = "ORCA"
    seconds_to_say = 0.0

    def __init__(self, bus: str) -> None:
        self.orca = StandInOrca(bus)
        self.env = {"DBUS_SESSION_BUS_ADDRESS": bus}

    def screen_reader_talks(self, text: str) -> None:
        pass  # the stand-in presents instantly; there is nothing to cut

    def heard(self) -> str:
        return self.orca.next_message()

    def close(self) -> None:
        self.orca.close()


class RealOrcaEnd:
    """Debian's Orca 43 with speech-dispatcher; Orca's own speech is played by a client at
    Orca's priority (SSIP "message", as Orca 43 sets it) saying a long sentence."""

    backend = "SPEECH_DISPATCHER"
    seconds_to_say = 15.0

    def __init__(self, root: Path) -> None:
        from tests.a11y import orca_session

        self.os = orca_session
        self.sound = orca_session.SoundServer(root / "sound")
        self.speech = orca_session.SpeechServer(root / "speechd", self.sound)
        self.bus, address = orca_session.start_session_bus(root)
        self.env = {**self.sound.env, **self.speech.env, "DBUS_SESSION_BUS_ADDRESS": address}
        self.orca = orca_session.Orca(root / "orca", self.env)
        self.orca.wait_until_speaking()
        time.sleep(2)  # Orca's welcome is over
        self.sound.start_recording(root / "heard.wav")

    def screen_reader_talks(self, text: str) -> None:
        subprocess.run(["spd-say", "-P", "message", text], env={**os.environ, **self.env}, check=True, timeout=30)
        time.sleep(0.3)  # it has started

    def heard(self) -> str:
        return self.os.heard(self.sound.stop_recording())

    def close(self) -> None:
        self.orca.close()
        self.speech.close()
        self.sound.close()
        self.bus.terminate()
        self.bus.wait(timeout=10)


@pytest.fixture(params=["stand-in Orca 49", "real Orca 43 + speech-dispatcher"])
def reader_end(request, private_bus: str, tmp_path: Path):
    if request.param.startswith("real"):
        from tests.a11y import orca_session

        if (why := orca_session.missing()) is not None:
            pytest.skip(why)
        end = RealOrcaEnd(tmp_path)
    else:
        end = StandInEnd(private_bus)
    yield end
    end.close()


def test_a_result_sent_while_the_screen_reader_talks_is_said_whole_after_it(reader_end) -> None:
    # Ends with a word the result does not have: heard before the result means it was not cut.
    own_words = "Screen reader on. Lookaloud window. Open picture."
    reader_end.screen_reader_talks(own_words)
    out = subprocess.run([sys.executable, "-c", SPEAK_ONE, RESULT, str(reader_end.seconds_to_say)], check=False, env={**os.environ, **reader_end.env},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [reader_end.backend]  # Orca 49: its remote controller; 43: Speech Dispatcher
    heard = reader_end.heard()
    if isinstance(reader_end, StandInEnd):
        assert heard == RESULT
        return
    words = heard.split()
    # Not lost: the result's words are there; not cutting: the screen reader's last words came first.
    for word in ("red", "circle", "blue", "square"):
        assert word in words, heard
    assert "picture" in words and words.index("picture") < words.index("circle"), heard


def test_without_orcas_remote_controller_orca_43_is_reached_through_speech_dispatcher(
    private_bus: str, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("SPEECHD_ADDRESS", f"unix_socket:{tmp_path / 'none.sock'}")  # never spawn one
    speaker = OrcaSpeaker(bus_address=private_bus, fallback=lambda text: None)
    try:
        assert speaker.backend_name == "SPEECH_DISPATCHER"
    finally:
        speaker.close()


def test_with_no_way_to_the_screen_reader_the_announcement_is_used(private_bus: str, monkeypatch, tmp_path) -> None:
    # No remote controller on the bus and no speech-dispatcher at this address.
    monkeypatch.setenv("SPEECHD_ADDRESS", f"unix_socket:{tmp_path / 'none.sock'}")
    announced: list[str] = []
    speaker = OrcaSpeaker(bus_address=private_bus, fallback=announced.append)
    try:
        speaker.speak("The screen shows a login form.")
        assert speaker.wait_until_done(10)
        assert not speaker.reached
    finally:
        speaker.close()
    assert announced == ["The screen shows a login form."]


# -- NVDA, JAWS, Narrator, VoiceOver: through prism; here prism's context is replaced ---------


class FakeFeatures:
    def __init__(self, output: bool, braille: bool) -> None:
        self.supports_output = output
        self.supports_braille = braille


class FakeBackend:
    """Stands in for a prism backend: records what a screen reader would get."""

    def __init__(self, output: bool = True, braille: bool = True) -> None:
        self.features = FakeFeatures(output, braille)
        self.calls: list[tuple[str, str | None]] = []
        self.thread: threading.Thread | None = None

    def output(self, text: str, interrupt: bool = False) -> None:
        self.thread = threading.current_thread()
        self.calls.append(("output", text))

    def speak(self, text: str, interrupt: bool = False) -> None:
        self.calls.append(("speak", text))

    def braille(self, text: str) -> None:
        self.calls.append(("braille", text))

    def stop(self) -> None:
        self.calls.append(("stop", None))


class FakeContext:
    def __init__(self, backend: FakeBackend) -> None:
        self.backend = backend
        self.created: list[object] = []

    def create(self, backend_id: object) -> FakeBackend:
        self.created.append(backend_id)
        return self.backend


def test_nvda_gets_speech_and_braille_whole_and_a_new_result_cuts_in() -> None:
    import prism

    backend = FakeBackend(output=True, braille=True)
    context = FakeContext(backend)
    speaker = PrismSpeaker("NVDA", context_factory=lambda: context)
    try:
        speaker.speak("A chart with three bars. The tallest is blue.")
        assert speaker.wait_until_done(10)
        speaker.speak("The tallest bar is blue.", Priority.NOW)
        assert speaker.wait_until_done(10)
    finally:
        speaker.close()
    assert context.created == [prism.BackendId.NVDA]
    # output() is NVDA's speakText + brailleMessage; whole, so the display shows all of it.
    assert backend.calls[:3] == [("output", "A chart with three bars. The tallest is blue."), ("stop", None),
                                 ("output", "The tallest bar is blue.")]
    assert backend.thread is not threading.main_thread()  # COM / D-Bus objects stay on one thread


def test_a_speech_only_backend_gets_braille_when_it_has_a_display() -> None:
    backend = FakeBackend(output=False, braille=True)
    speaker = PrismSpeaker("JAWS", context_factory=lambda: FakeContext(backend))
    try:
        speaker.speak("A photo of a beach.")
        assert speaker.wait_until_done(10)
        assert speaker.braille("Beach.")  # 'Both' mode: the own voice speaks, the display shows
        assert speaker.wait_until_done(10)  # written on the speaker's own thread, as prism's objects must be
    finally:
        speaker.close()
    assert backend.calls[:3] == [("speak", "A photo of a beach."), ("braille", "A photo of a beach."), ("braille", "Beach.")]


@pytest.mark.parametrize("kind", [ScreenReaderKind.NVDA, ScreenReaderKind.JAWS, ScreenReaderKind.NARRATOR,
                                  ScreenReaderKind.VOICEOVER])
def test_a_screen_reader_prism_cannot_reach_here_falls_back_to_the_announcement(kind) -> None:
    announced: list[str] = []
    # This is Linux: prism's NVDA, JAWS, UIA and VoiceOver backends cannot start, as on a PC
    # where the screen reader's process is seen but its API does not answer.
    speaker = screen_reader_speaker(kind, announce=announced.append)
    try:
        speaker.speak("Hello.")
        assert speaker.wait_until_done(10)
    finally:
        speaker.close()
    assert announced == ["Hello."]


# -- the Qt announcement, observed by an AT-SPI listener --------------------------------------

ATSPI_LISTENER = textwrap.dedent(
    """
    import pyatspi
    from gi.repository import GLib

    def on_announcement(event):
        print("ANNOUNCED", event.any_data, flush=True)
        pyatspi.Registry.stop()

    pyatspi.Registry.registerEventListener(on_announcement, "object:announcement")
    GLib.timeout_add(300, lambda: print("ready", flush=True) and False)
    GLib.timeout_add_seconds(30, lambda: pyatspi.Registry.stop())
    pyatspi.Registry.start()
    """
)


# The app side runs in a fresh process: Qt picks up the AT-SPI listeners that exist when its
# QApplication starts (as Orca does, running before Lookaloud); an application object made
# earlier by another test could miss a listener registered later.
ANNOUNCING_APP = textwrap.dedent(
    """
    import sys, threading
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QLabel
    from desktop_app.ui.announce import Announcer

    app = QApplication([])
    label = QLabel("Lookaloud")
    label.show()
    announcer = Announcer(label)
    # From a speech thread, as OrcaSpeaker's fallback calls it.
    QTimer.singleShot(500, lambda: threading.Thread(target=announcer.announce, args=(sys.argv[1],)).start())
    QTimer.singleShot(3000, app.quit)
    app.exec()
    """
)


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="needs Debian's python3 with pyatspi")
def test_the_qt_announcement_reaches_atspi() -> None:
    listener = subprocess.Popen(["/usr/bin/python3", "-c", ATSPI_LISTENER], stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout is not None
        assert listener.stdout.readline().strip() == "ready"
        subprocess.run(
            [sys.executable, "-c", ANNOUNCING_APP, "The picture shows a red car."], check=True, timeout=30
        )
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(listener.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=10)
        assert lines == ["ANNOUNCED The picture shows a red car.\n"]
    finally:
        listener.kill()
        listener.wait()
