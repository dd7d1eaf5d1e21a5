"""The user's screen reader as the output: detection, Orca over D-Bus, the Qt announcement
on AT-SPI, and NVDA / JAWS / VoiceOver with their OS calls replaced at the boundary.

Orca is played by a stand-in service on a private session bus that answers
org.gnome.Orca.Service.PresentMessage exactly as Orca 49's remote controller documents it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.speech.screenreader import (
    AnnouncementSpeaker,
    JawsSpeaker,
    NvdaSpeaker,
    OrcaSpeaker,
    ScreenReaderKind,
    VoiceOverSpeaker,
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


def test_orca_is_found_by_its_dbus_service(orca: StandInOrca, private_bus: str) -> None:
    assert detect_screen_reader([], bus_address=private_bus) is ScreenReaderKind.ORCA


# -- Orca ----------------------------------------------------------------------------------


def test_orca_presents_each_result_whole_and_in_order(orca: StandInOrca, private_bus: str) -> None:
    speaker = screen_reader_speaker(ScreenReaderKind.ORCA, announce=None, bus_address=private_bus)
    assert isinstance(speaker, OrcaSpeaker)
    try:
        long_text = "A red car is parked outside. A small dog sits next to it. The sign says open."
        speaker.speak(long_text)
        speaker.speak("What colour is the car? Red.")
        assert speaker.wait_until_done(10)
        # Whole, not sentence by sentence: the braille display shows the full result.
        assert orca.next_message() == long_text
        assert orca.next_message() == "What colour is the car? Red."
    finally:
        speaker.close()


def test_without_orcas_remote_controller_the_announcement_is_used(private_bus: str) -> None:
    announced: list[str] = []
    speaker = OrcaSpeaker(bus_address=private_bus, fallback=announced.append)
    try:
        speaker.speak("The screen shows a login form.")
        assert speaker.wait_until_done(10)
    finally:
        speaker.close()
    assert announced == ["The screen shows a login form."]


# -- NVDA, JAWS, VoiceOver: OS calls replaced at the boundary ---------------------------------


class FakeNvdaClient:
    """Stands in for nvdaControllerClient.dll: same function names, ctypes wide strings in."""

    def __init__(self, running: bool = True) -> None:
        self.calls: list[tuple[str, str | None]] = []
        self.running = running

    def nvdaController_testIfRunning(self) -> int:
        return 0 if self.running else 1717  # RPC_S_UNKNOWN_IF, as the DLL returns

    def nvdaController_speakText(self, text) -> int:
        self.calls.append(("speak", text.value))
        return 0

    def nvdaController_brailleMessage(self, text) -> int:
        self.calls.append(("braille", text.value))
        return 0

    def nvdaController_cancelSpeech(self) -> int:
        self.calls.append(("cancel", None))
        return 0


def test_nvda_speaks_and_brailles_and_a_new_result_cuts_in() -> None:
    client = FakeNvdaClient()
    speaker = NvdaSpeaker(client)
    assert speaker.running()
    speaker.speak("A chart with three bars.")
    speaker.speak("The tallest bar is blue.", Priority.NOW)
    speaker.stop()
    assert client.calls == [
        ("speak", "A chart with three bars."),
        ("braille", "A chart with three bars."),
        ("cancel", None),
        ("speak", "The tallest bar is blue."),
        ("braille", "The tallest bar is blue."),
        ("cancel", None),
    ]


def test_nvda_that_cannot_be_reached_falls_back_to_the_announcement() -> None:
    announced: list[str] = []
    # On this machine there is no NVDA controller DLL at all, as on a PC without NVDA's files.
    speaker = screen_reader_speaker(ScreenReaderKind.NVDA, announce=announced.append)
    assert isinstance(speaker, AnnouncementSpeaker)
    speaker.speak("Hello.")
    assert announced == ["Hello."]


class FakeJawsApi:
    def __init__(self) -> None:
        self.said: list[tuple[str, bool]] = []
        self.stops = 0
        self.thread = threading.current_thread()

    def SayString(self, text: str, flush: bool) -> bool:
        self.said.append((text, flush))
        return True

    def StopSpeech(self) -> None:
        self.stops += 1


def test_jaws_gets_each_result_on_the_speakers_own_thread() -> None:
    apis: list[FakeJawsApi] = []
    speaker = JawsSpeaker(api_factory=lambda: apis.append(FakeJawsApi()) or apis[-1])
    try:
        speaker.speak("A photo of a beach.")
        assert speaker.wait_until_done(10)
        speaker.stop()
    finally:
        speaker.close()
    (api,) = apis
    assert api.said == [("A photo of a beach.", False)]
    assert api.stops >= 1
    assert api.thread is not threading.main_thread()  # COM objects live on the thread that made them


def test_voiceover_gets_an_announcement() -> None:
    posted: list[str] = []
    speaker = VoiceOverSpeaker(announce=posted.append)
    speaker.speak("  A menu is open.  ")
    speaker.speak("")
    assert posted == ["A menu is open."]
    assert not speaker.is_speaking


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
