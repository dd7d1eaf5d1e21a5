"""Windows global hotkeys: RegisterHotKey on the GUI thread, and WM_HOTKEY read by a Qt native
event filter (thread messages with no window reach Qt's dispatcher, which offers them to
native event filters before anything else).

The Win32 calls sit behind Win32HotkeyApi so tests replace exactly that boundary.
"""

from __future__ import annotations

import ctypes
from typing import Any

from desktop_app.hotkeys.base import (
    Combo,
    HotkeyBackend,
    HotkeyBusy,
    HotkeyError,
    busy_message,
    format_combo,
)

WM_HOTKEY = 0x0312
ERROR_HOTKEY_ALREADY_REGISTERED = 1409
MOD_ALT, MOD_CONTROL, MOD_SHIFT, MOD_WIN, MOD_NOREPEAT = 0x1, 0x2, 0x4, 0x8, 0x4000
_MODIFIERS = {"alt": MOD_ALT, "ctrl": MOD_CONTROL, "shift": MOD_SHIFT, "meta": MOD_WIN}
_VIRTUAL_KEYS = {
    "Space": 0x20, "Enter": 0x0D, "Tab": 0x09, "Backspace": 0x08, "Insert": 0x2D, "Delete": 0x2E,
    "Home": 0x24, "End": 0x23, "PageUp": 0x21, "PageDown": 0x22, "Up": 0x26, "Down": 0x28,
    "Left": 0x25, "Right": 0x27, "Pause": 0x13, "PrintScreen": 0x2C,
} | {f"F{n}": 0x6F + n for n in range(1, 25)}
_FIRST_ID = 0xB100  # ids an application may use are 0x0000-0xBFFF


def virtual_key(key: str) -> int:
    if len(key) == 1:
        return ord(key.upper())  # VK codes of A-Z and 0-9 are their ASCII codes
    if key in _VIRTUAL_KEYS:
        return _VIRTUAL_KEYS[key]
    raise HotkeyError(f"The key {key} cannot be used in a shortcut on Windows.")


class Win32HotkeyApi:
    """The two user32 calls; returns 0 or the Win32 error code."""

    def __init__(self) -> None:
        self._user32 = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined]

    def register(self, hotkey_id: int, modifiers: int, vk: int) -> int:
        if self._user32.RegisterHotKey(None, hotkey_id, modifiers, vk):
            return 0
        return ctypes.get_last_error() or -1  # type: ignore[attr-defined]

    def unregister(self, hotkey_id: int) -> None:
        self._user32.UnregisterHotKey(None, hotkey_id)


def _make_filter(backend: WindowsHotkeyBackend) -> Any:
    from ctypes import wintypes

    from PySide6.QtCore import QAbstractNativeEventFilter

    class _HotkeyFilter(QAbstractNativeEventFilter):
        def nativeEventFilter(self, event_type: Any, message: Any) -> tuple[bool, int]:
            if bytes(event_type) == b"windows_generic_MSG":
                msg = wintypes.MSG.from_address(int(message))
                if backend.handle_message(msg.message, msg.wParam):
                    return True, 0
            return False, 0

    return _HotkeyFilter()


class WindowsHotkeyBackend(HotkeyBackend):
    name = "Windows"

    def __init__(self, on_activated, on_failed, api: Win32HotkeyApi | None = None, install_filter: bool = True) -> None:  # type: ignore[no-untyped-def]
        super().__init__(on_activated, on_failed)
        self._api = api
        self._install_filter = install_filter
        self._filter: Any = None
        self._actions: dict[int, str] = {}
        self._next_id = _FIRST_ID

    def start(self) -> None:
        if self._api is None:
            self._api = Win32HotkeyApi()
        if self._install_filter:
            from PySide6.QtCore import QCoreApplication

            self._filter = _make_filter(self)
            QCoreApplication.instance().installNativeEventFilter(self._filter)

    def register(self, action: str, combo: Combo) -> None:
        assert self._api is not None, "start() first"
        modifiers = MOD_NOREPEAT  # holding the keys down must not repeat the action
        for name in combo.modifiers:
            modifiers |= _MODIFIERS[name]
        hotkey_id = self._next_id
        status = self._api.register(hotkey_id, modifiers, virtual_key(combo.key))
        if status == ERROR_HOTKEY_ALREADY_REGISTERED:
            raise HotkeyBusy(busy_message(action, format_combo(combo, "win32")))
        if status != 0:
            raise HotkeyError(f"Windows did not accept the shortcut {format_combo(combo, 'win32')}.")
        self._next_id += 1
        self._actions[hotkey_id] = action

    def handle_message(self, message: int, wparam: int) -> bool:
        """Called for every native message on the GUI thread; True when it was our hotkey."""
        if message != WM_HOTKEY:
            return False
        action = self._actions.get(int(wparam))
        if action is None:
            return False
        self.on_activated(action)
        return True

    def unregister_all(self) -> None:
        if self._api is not None:
            for hotkey_id in self._actions:
                self._api.unregister(hotkey_id)
        self._actions.clear()

    def stop(self) -> None:
        self.unregister_all()
        if self._filter is not None:
            from PySide6.QtCore import QCoreApplication

            app = QCoreApplication.instance()
            if app is not None:
                app.removeNativeEventFilter(self._filter)
            self._filter = None
