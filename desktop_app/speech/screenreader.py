"""The user's own screen reader as a speech output, and finding out which one is running.

Owns: `ScreenReaderKind`, `detect_screen_reader()`, `ScreenReaderWatch` (detects again every few
seconds on its own thread, so a screen reader started or stopped after Lookaloud is followed),
and `PrismSpeaker`, which reaches each screen reader through prism (prismatoid, MPL-2.0), a
maintained library that speaks the way each screen reader documents and also brailles:

- Orca 49+: its D-Bus remote controller (`PresentMessage`: speech and braille).
- Orca before 49 (Debian 12 has 43.1, which has no remote controller and ignores AT-SPI
  announcements): Speech Dispatcher, the server Orca itself speaks through, at Orca's own
  priority (SSIP "message"): queued after what Orca is saying, never cutting it mid-word, and
  never dropped by Orca's next message as "text" priority would be. `stop()` stops only
  Lookaloud's own message.
- NVDA (its controller client: speech and `brailleMessage`), JAWS, Narrator (a UIA
  notification), VoiceOver.

For "Both" (speech/output.py) the own voice speaks and `PrismSpeaker.braille()` shows the text
on the braille display only, queued on the speaker's thread like its speech.

Hand-written here, because prism has no such thing: knowing *which* screen reader runs (prism's
best backend on Linux is Speech Dispatcher whether or not Orca runs, and its Orca backend answers
only to Orca 49+), so detection looks at processes (on Linux only those of this session's
display: another user's or another X server's Orca reads nothing of Lookaloud's) and at Orca's
D-Bus name; and the Qt
accessibility announcement (`AnnouncementSpeaker`), the last way out when prism cannot reach
the screen reader. Qt-free: the Qt announcement arrives as a plain callable.
"""

from __future__ import annotations

import enum
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable
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


def _display_of(env: dict[str, str]) -> tuple[str, str] | None:
    """The X11 and Wayland display an environment names (":1.0" is ":1"), None for neither."""
    x11, wayland = env.get("DISPLAY", ""), env.get("WAYLAND_DISPLAY", "")
    if not x11 and not wayland:
        return None
    if x11.count(":") == 1 and "." in x11.rsplit(":", 1)[1]:
        x11 = x11.rsplit(".", 1)[0]
    return x11, wayland


def _on_another_display(proc: Any, ours: tuple[str, str] | None) -> bool:
    """Whether a screen reader's process serves another display than this one (another user's
    session, another seat, another test's X server): it reads nothing of Lookaloud's."""
    if ours is None:
        return False
    try:
        theirs = _display_of(proc.environ())
    except Exception:  # noqa: BLE001 - not ours to read (another user): it cannot be told apart
        return False
    return theirs is not None and theirs != ours


def _running_process_names() -> list[str]:
    import psutil

    ours = _display_of(dict(os.environ)) if sys.platform.startswith("linux") else None
    names: list[str] = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        info = proc.info
        # Orca is a Python script: its process may be called python3; its script is in argv.
        found = [info.get("name") or ""] + [os.path.basename(arg) for arg in (info.get("cmdline") or [])[:2]]
        if any(n.lower() in _PROCESS_NAMES for n in found) and _on_another_display(proc, ours):
            continue
        names.extend(found)
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
# Orca's D-Bus name (through jeepney, a pure-Python D-Bus library): which way prism takes


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


# ---------------------------------------------------------------------------------------------
# The Qt announcement: the last way out


class AnnouncementSpeaker(Speaker):
    """Speaks through an accessibility announcement (Qt's, from ui/announce.py). The screen
    reader queues and speaks on its own, so this returns at once and never 'is speaking'."""

    name = "accessibility announcement"

    def __init__(self, announce: Announce, listener: SpeechListener | None = None) -> None:
        self.listener = listener
        self.announce = announce

    def speak(self, text: str, priority: Priority = Priority.NORMAL) -> None:
        if text.strip():
            self.announce(text.strip())

    def stop(self) -> None:
        pass

    @property
    def is_speaking(self) -> bool:
        return False


# ---------------------------------------------------------------------------------------------
# The screen readers, through prism


def _prism() -> Any:
    import prism

    return prism


# Which prism backend reaches each screen reader (Orca: see orca_backend()).
_PRISM_BACKENDS: dict[ScreenReaderKind, str] = {
    ScreenReaderKind.NVDA: "NVDA",
    ScreenReaderKind.JAWS: "JAWS",
    ScreenReaderKind.NARRATOR: "UIA",
    ScreenReaderKind.VOICEOVER: "VOICE_OVER",
}


def orca_backend(bus_address: str | None = None) -> str:
    """prism's way to Orca: its remote controller (Orca 49+) when that owns its D-Bus name, else
    Speech Dispatcher, which an older Orca speaks through itself."""
    return "ORCA" if orca_service_running(bus_address) else "SPEECH_DISPATCHER"


class PrismSpeaker(QueuedSpeaker):
    """Speech, and braille where the screen reader offers it, through one prism backend.

    The prism context and backend are made and used on the speaker's own thread, so a slow
    screen reader never blocks the caller. When prism cannot reach the backend (not installed,
    screen reader gone) each text goes to `fallback` (the Qt announcement), or fails.
    `backend` is a prism BackendId name ("NVDA", "SPEECH_DISPATCHER", ...).
    """

    split_long_text = False  # the screen reader gets each result whole: braille shows all of it

    def __init__(
        self,
        backend: str,
        fallback: Announce | None = None,
        listener: SpeechListener | None = None,
        context_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.backend_name = backend
        self.name = f"screen reader ({backend})"
        self.fallback = fallback
        self._context_factory = context_factory or (lambda: _prism().Context())
        self._context: Any = None
        self._backend: Any = None
        self._lock = threading.Lock()  # stop() comes from other threads
        self._can_braille = False  # set on the speaker's thread once prism's backend is open
        self.open_error: str | None = None
        super().__init__(listener)

    @classmethod
    def check(cls) -> bool:
        try:
            _prism()
        except Exception:  # noqa: BLE001 - no wheel for this platform: the announcement is next
            return False
        return True

    def _open(self) -> None:
        try:
            self._context = self._context_factory()
            backend_id = getattr(_prism().BackendId, self.backend_name)
            backend = self._context.create(backend_id)
        except Exception as exc:
            self.open_error = f"{type(exc).__name__}: {exc}"
            logging.getLogger(__name__).info("prism cannot reach %s: %s", self.backend_name, self.open_error)
            if self.fallback is None:
                raise
            return
        with self._lock:
            self._backend = backend
            self._can_braille = bool(backend.features.supports_braille)

    def _close_engine(self) -> None:
        with self._lock:
            self._backend = None
            self._context = None

    @property
    def reached(self) -> bool:
        """Whether prism reached the screen reader (False: the fallback speaks). Waits for the
        speaker's thread to have tried."""
        self.wait_until_ready(10)
        return self._backend is not None

    def _say(self, text: str, generation: int) -> None:
        backend = self._backend
        if backend is None:
            if self.fallback is None:
                raise RuntimeError(f"The screen reader ({self.backend_name}) cannot be reached.")
            self.fallback(text)
            return
        features = backend.features
        # output(): speech and braille in one call where the backend has it (NVDA, JAWS,
        # Orca 49's PresentMessage); speak() alone for a speech-only backend.
        if features.supports_output:
            backend.output(text, False)
        else:
            backend.speak(text, False)
        if features.supports_braille and not features.supports_output:
            self._braille(backend, text)

    @staticmethod
    def _braille(backend: Any, text: str) -> None:
        try:
            backend.braille(text)
        except Exception:
            logging.getLogger(__name__).debug("Braille failed.", exc_info=True)

    @property
    def shows_braille(self) -> bool | None:
        """Whether this screen reader shows text in braille through prism; None until the
        speaker's thread has opened prism. Any thread; never waits."""
        if not self._opened.is_set():
            return None
        return self._can_braille

    def braille(self, text: str) -> bool:
        """Show text on the braille display only, never spoken (for "Both": the own voice speaks
        it); False when this screen reader has no braille through prism (Speech Dispatcher, the
        announcement). Any thread; returns at once: the display is written on the speaker's own
        thread, as prism's objects must be."""
        text = text.strip()
        if not text or self.shows_braille is False:
            return False
        self._enqueue(text, Priority.NORMAL, braille_only=True)
        return True

    def _show_braille(self, text: str) -> None:
        backend = self._backend
        if backend is not None and self._can_braille:
            self._braille(backend, text)

    def _interrupt(self) -> None:
        with self._lock:
            backend = self._backend
        if backend is not None:
            try:
                backend.stop()  # Speech Dispatcher: stops Lookaloud's message only, never Orca's
            except Exception:  # nothing was being said
                logging.getLogger(__name__).debug("Stopping %s failed.", self.backend_name, exc_info=True)


class OrcaSpeaker(PrismSpeaker):
    """Orca: its remote controller (49+) or, for an older Orca, the Speech Dispatcher it speaks
    through. `bus_address` is where to look for the remote controller's name (prism itself
    talks to the session bus of the environment)."""

    def __init__(
        self,
        bus_address: str | None = None,
        fallback: Announce | None = None,
        listener: SpeechListener | None = None,
        backend: str | None = None,
        context_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.bus_address = bus_address
        super().__init__(backend or orca_backend(bus_address), fallback, listener, context_factory)


def screen_reader_speaker(
    kind: ScreenReaderKind, announce: Announce | None = None, bus_address: str | None = None
) -> Speaker | None:
    """The speaker for a running screen reader, or None when it cannot be reached from here."""
    if PrismSpeaker.check():
        if kind is ScreenReaderKind.ORCA:
            return OrcaSpeaker(bus_address=bus_address, fallback=announce)
        return PrismSpeaker(_PRISM_BACKENDS[kind], fallback=announce)
    logging.getLogger(__name__).info("prism is not installed: %s gets accessibility announcements.", kind.value)
    return AnnouncementSpeaker(announce) if announce is not None else None


# ---------------------------------------------------------------------------------------------
# Following the screen reader as it starts and stops


class ScreenReaderWatch:
    """Detects the screen reader again every `interval` seconds on a daemon thread of its own
    (never the GUI thread) and calls `on_change(kind)` there when the answer changes (None: no
    screen reader any more). `current` is the latest answer; `check_now()` asks for a check at
    once (e.g. after the settings dialog's OK) without waiting for it."""

    def __init__(
        self,
        on_change: Callable[[ScreenReaderKind | None], None],
        *,
        interval: float = 3.0,
        detect: Callable[[], ScreenReaderKind | None] = detect_screen_reader,
        current: ScreenReaderKind | None = None,
    ) -> None:
        self.on_change = on_change
        self.interval = interval
        self._detect = detect
        self.current = current
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="screen-reader-watch", daemon=True)
        self._thread.start()

    def check_now(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._closed:
                break
            try:
                found = self._detect()
            except Exception:
                logging.getLogger(__name__).debug("Screen reader detection failed.", exc_info=True)
                continue
            if found is not self.current:
                self.current = found
                try:
                    self.on_change(found)
                except Exception:  # a bug there must not end the watch
                    logging.getLogger(__name__).exception("Following the screen reader failed.")

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
