"""macOS global hotkeys: Carbon RegisterEventHotKey, still the only public API for system-wide
hot keys that needs no accessibility permission. The Carbon event handler runs on the main
thread, which Qt's Cocoa event loop drives.

The Carbon calls sit behind CarbonHotkeyApi so tests replace exactly that boundary.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from typing import Any

from desktop_app.hotkeys.base import (
    Combo,
    HotkeyBackend,
    HotkeyBusy,
    HotkeyError,
    HotkeyUnavailable,
    busy_message,
    format_combo,
)

NO_ERR = 0
EVENT_HOTKEY_EXISTS_ERR = -9878
CMD_KEY, SHIFT_KEY, OPTION_KEY, CONTROL_KEY = 0x0100, 0x0200, 0x0800, 0x1000
_MODIFIERS = {"meta": CMD_KEY, "shift": SHIFT_KEY, "alt": OPTION_KEY, "ctrl": CONTROL_KEY}
SIGNATURE = int.from_bytes(b"LkAl", "big")  # four-char code that marks our hot key ids

# Virtual key codes of the ANSI layout (Carbon Events.h kVK_*): positions, not letters.
_KEY_CODES = {
    "A": 0x00, "S": 0x01, "D": 0x02, "F": 0x03, "H": 0x04, "G": 0x05, "Z": 0x06, "X": 0x07, "C": 0x08,
    "V": 0x09, "B": 0x0B, "Q": 0x0C, "W": 0x0D, "E": 0x0E, "R": 0x0F, "Y": 0x10, "T": 0x11, "1": 0x12,
    "2": 0x13, "3": 0x14, "4": 0x15, "6": 0x16, "5": 0x17, "9": 0x19, "7": 0x1A, "8": 0x1C, "0": 0x1D,
    "O": 0x1F, "U": 0x20, "I": 0x22, "P": 0x23, "L": 0x25, "J": 0x26, "K": 0x28, "N": 0x2D, "M": 0x2E,
    "Enter": 0x24, "Tab": 0x30, "Space": 0x31, "Backspace": 0x33, "Delete": 0x75, "Home": 0x73,
    "End": 0x77, "PageUp": 0x74, "PageDown": 0x79, "Left": 0x7B, "Right": 0x7C, "Down": 0x7D, "Up": 0x7E,
    "Insert": 0x72,
    "F1": 0x7A, "F2": 0x78, "F3": 0x63, "F4": 0x76, "F5": 0x60, "F6": 0x61, "F7": 0x62, "F8": 0x64,
    "F9": 0x65, "F10": 0x6D, "F11": 0x67, "F12": 0x6F, "F13": 0x69, "F14": 0x6B, "F15": 0x71,
    "F16": 0x6A, "F17": 0x40, "F18": 0x4F, "F19": 0x50, "F20": 0x5A,
}


def key_code(key: str) -> int:
    if key in _KEY_CODES:
        return _KEY_CODES[key]
    raise HotkeyError(f"The key {key} cannot be used in a shortcut on a Mac.")


class _EventHotKeyID(ctypes.Structure):
    _fields_ = [("signature", ctypes.c_uint32), ("id", ctypes.c_uint32)]


class _EventTypeSpec(ctypes.Structure):
    _fields_ = [("eventClass", ctypes.c_uint32), ("eventKind", ctypes.c_uint32)]


class CarbonHotkeyApi:
    """RegisterEventHotKey / UnregisterEventHotKey and the one application event handler."""

    _HANDLER = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)

    def __init__(self) -> None:
        path = ctypes.util.find_library("Carbon")
        if not path:
            raise HotkeyUnavailable("The Carbon framework is missing, so shortcuts cannot work.")
        self._carbon = ctypes.CDLL(path)
        self._carbon.GetApplicationEventTarget.restype = ctypes.c_void_p
        self._handler: Any = None  # kept alive: Carbon holds only the raw pointer

    def install_handler(self, on_hotkey: Callable[[int, int], None]) -> None:
        """`on_hotkey(signature, id)` runs for every hot key press, on the main thread."""
        carbon = self._carbon

        def handler(_call_ref: int, event: int, _user: int) -> int:
            hotkey = _EventHotKeyID()
            status = carbon.GetEventParameter(
                ctypes.c_void_p(event), _fourcc(b"----"), _fourcc(b"hkid"), None,
                ctypes.sizeof(hotkey), None, ctypes.byref(hotkey),
            )
            if status == NO_ERR:
                on_hotkey(hotkey.signature, hotkey.id)
            return NO_ERR

        self._handler = self._HANDLER(handler)
        spec = _EventTypeSpec(_fourcc(b"keyb"), 5)  # kEventClassKeyboard, kEventHotKeyPressed
        status = carbon.InstallEventHandler(
            ctypes.c_void_p(carbon.GetApplicationEventTarget()), self._handler, 1, ctypes.byref(spec), None, None
        )
        if status != NO_ERR:
            raise HotkeyUnavailable("macOS did not let Lookaloud listen for shortcuts.")

    def register(self, hotkey_id: int, key: int, modifiers: int) -> tuple[int, Any]:
        ref = ctypes.c_void_p()
        status = self._carbon.RegisterEventHotKey(
            ctypes.c_uint32(key), ctypes.c_uint32(modifiers), _EventHotKeyID(SIGNATURE, hotkey_id),
            ctypes.c_void_p(self._carbon.GetApplicationEventTarget()), ctypes.c_uint32(0), ctypes.byref(ref),
        )
        return int(status), ref

    def unregister(self, ref: Any) -> None:
        self._carbon.UnregisterEventHotKey(ref)


def _fourcc(code: bytes) -> int:
    return int.from_bytes(code, "big")


class MacHotkeyBackend(HotkeyBackend):
    name = "macOS"

    def __init__(self, on_activated, on_failed, api: CarbonHotkeyApi | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(on_activated, on_failed)
        self._api = api
        self._actions: dict[int, tuple[str, Any]] = {}
        self._next_id = 1

    def start(self) -> None:
        if self._api is None:
            self._api = CarbonHotkeyApi()
        self._api.install_handler(self.handle_hotkey)

    def register(self, action: str, combo: Combo) -> None:
        assert self._api is not None, "start() first"
        modifiers = 0
        for name in combo.modifiers:
            modifiers |= _MODIFIERS[name]
        status, ref = self._api.register(self._next_id, key_code(combo.key), modifiers)
        if status == EVENT_HOTKEY_EXISTS_ERR:
            raise HotkeyBusy(busy_message(action, format_combo(combo, "darwin")))
        if status != NO_ERR:
            raise HotkeyError(f"macOS did not accept the shortcut {format_combo(combo, 'darwin')}.")
        self._actions[self._next_id] = (action, ref)
        self._next_id += 1

    def handle_hotkey(self, signature: int, hotkey_id: int) -> None:
        """Carbon's handler calls this on the main thread for every hot key press."""
        if signature != SIGNATURE or hotkey_id not in self._actions:
            return
        self.on_activated(self._actions[hotkey_id][0])

    def unregister_all(self) -> None:
        if self._api is not None:
            for _action, ref in self._actions.values():
                self._api.unregister(ref)
        self._actions.clear()

    def stop(self) -> None:
        self.unregister_all()
