"""HotkeyManager: the Qt face of global hotkeys. It picks the platform backend, registers the
user's combinations, and turns backend callbacks (from any thread) into signals on the GUI
thread: `activated(action)` and `registration_failed(action, message)`, the latter after
`rebinding` (every earlier failure is then out of date).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping

from PySide6.QtCore import QObject, Qt, Signal

from desktop_app.hotkeys.base import (
    DEFAULT_HOTKEYS,
    Action,
    HotkeyBackend,
    HotkeyError,
    HotkeyUnavailable,
    InvalidCombo,
    fallback_instructions,
    parse_combo,
)
from desktop_app.platform import is_wayland_session
from desktop_app.settings import Settings

BackendFactory = Callable[[Callable[[str], None], Callable[[str, str], None]], HotkeyBackend]


def choose_backend(platform: str | None = None, environ: Mapping[str, str] | None = None) -> BackendFactory | None:
    """The backend class for this platform, or None where only desktop shortcuts can help."""
    platform = platform or sys.platform
    env = os.environ if environ is None else environ
    if platform == "win32":
        from desktop_app.hotkeys.windows import WindowsHotkeyBackend

        return WindowsHotkeyBackend
    if platform == "darwin":
        from desktop_app.hotkeys.macos import MacHotkeyBackend

        return MacHotkeyBackend
    if is_wayland_session(env, platform):
        # X11 grabs under XWayland only fire while an X11 window has focus: use the portal.
        from desktop_app.hotkeys.wayland_portal import PortalHotkeyBackend

        return PortalHotkeyBackend
    if env.get("DISPLAY"):
        from desktop_app.hotkeys.x11 import X11HotkeyBackend

        return X11HotkeyBackend
    return None


class HotkeyManager(QObject):
    """Owns the hotkey backend. Create, start(), register() and apply() on the GUI thread."""

    activated = Signal(str)
    registration_failed = Signal(str, str)
    rebinding = Signal()  # register() is replacing every registration
    # Backends call these from their own threads; queued connections bring them home.
    _backend_activated = Signal(str)
    _backend_failed = Signal(str, str)

    def __init__(self, backend_factory: BackendFactory | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._factory = backend_factory
        self._backend: HotkeyBackend | None = None
        self._backend_activated.connect(self.activated, Qt.ConnectionType.QueuedConnection)
        self._backend_failed.connect(self.registration_failed, Qt.ConnectionType.QueuedConnection)

    @property
    def backend_name(self) -> str | None:
        return self._backend.name if self._backend else None

    @property
    def available(self) -> bool:
        return self._backend is not None

    def start(self) -> bool:
        """Starts the platform backend; False when there is none (show fallback_instructions())."""
        factory = self._factory or choose_backend()
        if factory is None:
            return False
        backend = factory(self._backend_activated.emit, self._backend_failed.emit)
        try:
            backend.start()
        except HotkeyUnavailable:
            return False
        self._backend = backend
        return True

    def apply(self, old: Settings, new: Settings) -> None:
        """Register the shortcuts of `new` where they differ from those of `old`."""
        if new.hotkeys != old.hotkeys:
            self.register(new.hotkeys)

    def register(self, bindings: Mapping[str, str] | None = None) -> dict[str, str]:
        """Replaces every registration with `bindings` (action name -> combination text;
        DEFAULT_HOTKEYS when None). Returns action -> spoken message for each one that failed,
        and emits registration_failed for each of them as well."""
        if bindings is None:
            bindings = {action.value: combo for action, combo in DEFAULT_HOTKEYS.items()}
        failures: dict[str, str] = {}
        if self._backend is None:
            return failures
        self.rebinding.emit()
        self._backend.unregister_all()
        for action, text in bindings.items():
            if isinstance(action, Action):
                action = action.value
            if not text:
                continue  # the user turned this shortcut off
            try:
                combo = parse_combo(text)
                self._backend.register(action, combo)
            except (InvalidCombo, HotkeyError) as exc:
                failures[action] = str(exc)
        self._backend.commit()
        for action, message in failures.items():
            self.registration_failed.emit(action, message)
        return failures

    def stop(self) -> None:
        if self._backend is not None:
            self._backend.stop()
            self._backend = None

    @staticmethod
    def fallback_instructions() -> str:
        return fallback_instructions()
