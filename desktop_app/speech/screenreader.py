"""The user's own screen reader as a speech output, and finding out which one is running.

Owns: `ScreenReaderKind`, `detect_screen_reader()` (running processes, and Orca's D-Bus name),
and one `Speaker` per screen reader, each reaching it the way that screen reader documents:

- Orca: its D-Bus remote controller, `org.gnome.Orca.Service.PresentMessage(s) -> b` on the
  session bus (Orca 49+). When that fails (older Orca) the text goes to a fallback callable,
  normally the Qt accessibility announcement from ui/announce.py.
- NVDA: its controller client DLL (`nvdaController_speakText`, `_brailleMessage`, `_cancelSpeech`).
- JAWS: its COM object `FreedomSci.JawsApi` (`SayString`, `StopSpeech`).
- VoiceOver: an NSAccessibility announcement request (pyobjc).
- Narrator and anything else: the Qt announcement (UIA notification on Windows).

Speech sent this way is heard in the user's own voice and reaches their braille display.
The Windows and macOS calls sit behind one small object each so tests can replace the OS at the
boundary. Qt-free: the Qt announcement arrives as a plain callable.
"""

from __future__ import annotations

import ctypes
import enum
import logging
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from desktop_app.speech.queue import QueuedSpeaker
from desktop_app.speech.speaker import Priority, Speaker, SpeechListener

Announce = Callable[[str], None]

ORCA_BUS_NAME = "org.gnome.Orca.Service"
ORCA_OBJECT_PATH = "/org/gnome/Orca/Service"
ORCA_INTERFACE = "org.gnome.Orca.Service"


class ScreenReaderKind(enum.Enum):
    ORCA = "Orca"
    NVDA = "NVDA"
    JAWS = "JAWS"
    VOICEOVER = "VoiceOver"
    NARRATOR = "Narrator"


# Lower-case process names (or script names, for Orca which runs under python3).
_PROCESS_NAMES: dict[str, ScreenReaderKind] = {
    "orca": ScreenReaderKind.ORCA,
    "nvda.exe": ScreenReaderKind.NVDA,
    "nvda_slave.exe": ScreenReaderKind.NVDA,
    "jfw.exe": ScreenReaderKind.JAWS,
    "voiceover": ScreenReaderKind.VOICEOVER,
    "narrator.exe": ScreenReaderKind.NARRATOR,
}
# When two run at once (it happens: Narrator left on under NVDA) the first here wins.
_PREFERENCE = [
    ScreenReaderKind.NVDA,
    ScreenReaderKind.JAWS,
    ScreenReaderKind.ORCA,
    ScreenReaderKind.VOICEOVER,
    ScreenReaderKind.NARRATOR,
]


def _running_process_names() -> list[str]:
    import psutil

    names: list[str] = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        info = proc.info
        names.append(info.get("name") or "")
        # Orca is a Python script: its process may be called python3; its script is in argv.
        names.extend(os.path.basename(arg) for arg in (info.get("cmdline") or [])[:2])
    return names


def detect_screen_reader(
    process_names: Iterable[str] | None = None, bus_address: str | None = None
) -> ScreenReaderKind | None:
    """The screen reader running now, or None. Looks at processes and, on Linux, D-Bus."""
    names = _running_process_names() if process_names is None else list(process_names)
    found = {_PROCESS_NAMES[n.lower()] for n in names if n.lower() in _PROCESS_NAMES}
    if (
        ScreenReaderKind.ORCA not in found
        and sys.platform.startswith("linux")
        and orca_service_running(bus_address)
    ):
        found.add(ScreenReaderKind.ORCA)
    return next((kind for kind in _PREFERENCE if kind in found), None)


# ---------------------------------------------------------------------------------------------
# Orca (D-Bus through jeepney, a pure-Python D-Bus library)


def _dbus_connection(bus_address: str | None) -> Any:
    from jeepney.io.blocking import open_dbus_connection

    return open_dbus_connection(bus=bus_address or "SESSION")


def orca_service_running(bus_address: str | None = None) -> bool:
    """Whether Orca's remote controller owns its name on the session bus."""
    try:
        from jeepney.bus_messages import message_bus
        from jeepney.wrappers import unwrap_msg

        with _dbus_connection(bus_address) as conn:
            reply = conn.send_and_get_reply(message_bus.NameHasOwner(ORCA_BUS_NAME), timeout=2)
            return bool(unwrap_msg(reply)[0])
    except Exception:  # noqa: BLE001 - no bus, no jeepney: Orca cannot be reached either way
        return False


class OrcaSpeaker(QueuedSpeaker):
    """Sends text to Orca's D-Bus remote controller; owns one bus connection on its thread."""

    name = "Orca"
    split_long_text = False  # Orca presents (and brailles) the whole message

    def __init__(
        self,
        bus_address: str | None = None,
        fallback: Announce | None = None,
        listener: SpeechListener | None = None,
    ) -> None:
        self.bus_address = bus_address
        self.fallback = fallback
        self._conn: Any = None
        super().__init__(listener)

    @classmethod
    def check(cls) -> bool:
        try:
            import jeepney  # noqa: F401
        except ImportError:
            return False
        return True

    def _open(self) -> None:
        try:
            self._conn = _dbus_connection(self.bus_address)
        except Exception:  # noqa: BLE001 - no session bus: only the fallback can speak
            self._conn = None

    def _close_engine(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def present(self, text: str) -> bool:
        """Ask Orca to present text; True when it said it did. Owner thread only."""
        if self._conn is None:
            return False
        from jeepney import DBusAddress, new_method_call
        from jeepney.wrappers import unwrap_msg

        address = DBusAddress(ORCA_OBJECT_PATH, bus_name=ORCA_BUS_NAME, interface=ORCA_INTERFACE)
        try:
            reply = self._conn.send_and_get_reply(
                new_method_call(address, "PresentMessage", "s", (text,)), timeout=2
            )
            return bool(unwrap_msg(reply)[0])
        except Exception:  # noqa: BLE001 - Orca older than 49, or gone: use the fallback
            return False

    def _say(self, text: str, generation: int) -> None:
        if not self.present(text):
            if self.fallback is None:
                raise RuntimeError("Orca did not accept the message.")
            self.fallback(text)

    def _interrupt(self) -> None:
        # Orca's remote controller has no service-level "stop speech"; Orca cuts its own speech
        # when the next message arrives, which is what a new result does.
        pass


# ---------------------------------------------------------------------------------------------
# Speakers whose APIs return at once: called directly, no thread of their own


class _DirectSpeaker(Speaker):
    def __init__(self, listener: SpeechListener | None = None) -> None:
        self.listener = listener

    @property
    def is_speaking(self) -> bool:
        return False  # the screen reader queues and speaks on its own


class AnnouncementSpeaker(_DirectSpeaker):
    """Speaks through an accessibility announcement (Qt's, from ui/announce.py)."""

    name = "accessibility announcement"

    def __init__(self, announce: Announce, listener: SpeechListener | None = None) -> None:
        super().__init__(listener)
        self.announce = announce

    def speak(self, text: str, priority: Priority = Priority.NORMAL) -> None:
        if text.strip():
            self.announce(text.strip())

    def stop(self) -> None:
        pass


def _nvda_client() -> Any:
    """Load NVDA's controller client DLL, shipped in resources/nvda/ (or on PATH)."""
    arch = {8: "x64", 4: "x86"}[ctypes.sizeof(ctypes.c_void_p)]
    from desktop_app.paths import resource

    for path in (resource("nvda", arch, "nvdaControllerClient.dll"), Path("nvdaControllerClient.dll")):
        try:
            return ctypes.windll.LoadLibrary(str(path))  # type: ignore[attr-defined]
        except (OSError, AttributeError):
            continue
    raise OSError("NVDA's controller client library is not installed.")


class NvdaSpeaker(_DirectSpeaker):
    """Speech and braille through NVDA's controller client (Windows)."""

    name = "NVDA"

    def __init__(self, client: Any = None, listener: SpeechListener | None = None) -> None:
        super().__init__(listener)
        self.client = client if client is not None else _nvda_client()

    def running(self) -> bool:
        return self.client.nvdaController_testIfRunning() == 0

    def speak(self, text: str, priority: Priority = Priority.NORMAL) -> None:
        text = text.strip()
        if not text:
            return
        if priority is Priority.NOW:
            self.client.nvdaController_cancelSpeech()
        if self.client.nvdaController_speakText(ctypes.c_wchar_p(text)) != 0:
            raise RuntimeError("NVDA did not accept the message.")
        self.client.nvdaController_brailleMessage(ctypes.c_wchar_p(text))

    def stop(self) -> None:
        self.client.nvdaController_cancelSpeech()


class JawsSpeaker(QueuedSpeaker):
    """Speech through JAWS's COM API (Windows); the COM object lives on the speaker's thread."""

    name = "JAWS"
    split_long_text = False

    def __init__(
        self, api_factory: Callable[[], Any] | None = None, listener: SpeechListener | None = None
    ) -> None:
        self._factory = api_factory or self._com_api
        self._api: Any = None
        super().__init__(listener)

    @staticmethod
    def _com_api() -> Any:
        import pythoncom  # type: ignore[import-not-found]  # pywin32, Windows only
        import win32com.client  # type: ignore[import-not-found]

        pythoncom.CoInitialize()
        return win32com.client.Dispatch("FreedomSci.JawsApi")

    def _open(self) -> None:
        self._api = self._factory()

    def _say(self, text: str, generation: int) -> None:
        # SayString(text, flush): flush=False queues behind what JAWS is saying; stop() flushes.
        if not self._api.SayString(text, False):
            raise RuntimeError("JAWS did not accept the message.")

    def _interrupt(self) -> None:
        if self._api is not None:
            self._api.StopSpeech()


def _appkit_announce(text: str) -> None:
    import AppKit  # type: ignore[import-not-found]  # pyobjc, macOS only

    AppKit.NSAccessibilityPostNotificationWithUserInfo(
        AppKit.NSApp(),
        AppKit.NSAccessibilityAnnouncementRequestedNotification,
        {
            AppKit.NSAccessibilityAnnouncementKey: text,
            AppKit.NSAccessibilityPriorityKey: AppKit.NSAccessibilityPriorityHigh,
        },
    )


class VoiceOverSpeaker(AnnouncementSpeaker):
    """VoiceOver: an NSAccessibility announcement request at high priority (macOS)."""

    name = "VoiceOver"

    def __init__(self, announce: Announce | None = None, listener: SpeechListener | None = None) -> None:
        super().__init__(announce or _appkit_announce, listener)


def screen_reader_speaker(
    kind: ScreenReaderKind, announce: Announce | None = None, bus_address: str | None = None
) -> Speaker | None:
    """The speaker for a running screen reader, or None when it cannot be reached from here."""
    try:
        if kind is ScreenReaderKind.ORCA and OrcaSpeaker.check():
            return OrcaSpeaker(bus_address=bus_address, fallback=announce)
        if kind is ScreenReaderKind.NVDA:
            speaker = NvdaSpeaker()
            if speaker.running():
                return speaker
        if kind is ScreenReaderKind.JAWS:
            return JawsSpeaker()
        if kind is ScreenReaderKind.VOICEOVER:
            if sys.platform == "darwin":
                import AppKit  # type: ignore[import-not-found]  # noqa: F401 - fail here, not at the first result

                return VoiceOverSpeaker()
            return VoiceOverSpeaker(announce=announce) if announce is not None else None
    except Exception:  # missing DLL, COM or pyobjc: the announcement is next
        logging.getLogger(__name__).info("%s cannot be reached directly.", kind.value, exc_info=True)
    return AnnouncementSpeaker(announce) if announce is not None else None
