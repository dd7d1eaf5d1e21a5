"""The Windows and macOS backends' message handling, with only the OS calls replaced
(user32 RegisterHotKey/UnregisterHotKey; Carbon RegisterEventHotKey and its event handler).
Each fake keeps the OS's contract: ids, modifier bits, key codes, error codes."""

from __future__ import annotations

import ctypes
from ctypes import wintypes
from typing import Any

from desktop_app.hotkeys import macos, windows
from desktop_app.hotkeys.base import busy_message


class FakeUser32:
    """RegisterHotKey as Windows does it: one owner per (modifiers, vk), error 1409 after."""

    def __init__(self, taken: set[tuple[int, int]] | None = None) -> None:
        self.taken = taken or set()
        self.registered: dict[int, tuple[int, int]] = {}

    def register(self, hotkey_id: int, modifiers: int, vk: int) -> int:
        key = (modifiers & ~windows.MOD_NOREPEAT, vk)
        if key in self.taken or key in self.registered.values() or hotkey_id in self.registered:
            return windows.ERROR_HOTKEY_ALREADY_REGISTERED
        self.registered[hotkey_id] = key
        return 0

    def unregister(self, hotkey_id: int) -> None:
        self.registered.pop(hotkey_id)


def _send_native(msg_id: int, wparam: int) -> bool:
    """What Qt's Windows event dispatcher does with a thread message: offer it to the
    installed native event filters as a pointer to a MSG."""
    msg = wintypes.MSG()
    msg.message, msg.wParam = msg_id, wparam
    handled = False
    for event_filter in _installed_filters:
        result = event_filter.nativeEventFilter(b"windows_generic_MSG", ctypes.addressof(msg))
        handled = handled or result[0]
    return handled


_installed_filters: list[Any] = []


def test_windows_registers_ctrl_alt_shift_letters_and_wm_hotkey_fires_the_action(qtbot, make_manager, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    user32 = FakeUser32()
    real_make_filter = windows._make_filter

    def recording_filter(backend):  # type: ignore[no-untyped-def]
        made = real_make_filter(backend)
        _installed_filters.append(made)
        return made

    monkeypatch.setattr(windows, "_make_filter", recording_filter)
    manager = make_manager(lambda on_a, on_f: windows.WindowsHotkeyBackend(on_a, on_f, api=user32))
    assert manager.start() and manager.backend_name == "Windows"
    assert manager.register() == {}
    ctrl_alt_shift = windows.MOD_CONTROL | windows.MOD_ALT | windows.MOD_SHIFT
    assert sorted(user32.registered.values()) == sorted((ctrl_alt_shift, ord(c)) for c in "DWRVATSL")
    ids = {key: hotkey_id for hotkey_id, key in user32.registered.items()}
    with qtbot.waitSignal(manager.activated, timeout=2000) as signal:
        assert _send_native(windows.WM_HOTKEY, ids[(ctrl_alt_shift, ord("W"))])
    assert signal.args == ["describe-window"]
    # Other messages, and hotkeys that are not ours, pass through to Qt.
    assert not _send_native(0x0100, ids[(ctrl_alt_shift, ord("W"))])  # WM_KEYDOWN
    assert not _send_native(windows.WM_HOTKEY, 7)
    manager.stop()
    assert user32.registered == {}
    _installed_filters.clear()


def test_windows_combination_taken_by_another_program_gives_the_busy_message(make_manager) -> None:  # type: ignore[no-untyped-def]
    user32 = FakeUser32(taken={(windows.MOD_CONTROL | windows.MOD_ALT | windows.MOD_SHIFT, ord("V"))})
    manager = make_manager(lambda on_a, on_f: windows.WindowsHotkeyBackend(on_a, on_f, api=user32, install_filter=False))
    manager.start()
    failures = manager.register({"describe-clipboard": "Ctrl+Alt+Shift+V", "ask": "Win+F2"})
    assert failures == {"describe-clipboard": busy_message("describe-clipboard", "Ctrl+Alt+Shift+V")}
    assert list(user32.registered.values()) == [(windows.MOD_WIN, 0x71)]


class FakeCarbon:
    """Carbon's hot key calls: ids with our signature, modifier bits, ANSI key codes,
    eventHotKeyExistsErr for a combination another application registered."""

    def __init__(self, taken: set[tuple[int, int]] | None = None) -> None:
        self.taken = taken or set()
        self.handler: Any = None
        self.registered: dict[int, tuple[int, int]] = {}

    def install_handler(self, on_hotkey) -> None:  # type: ignore[no-untyped-def]
        self.handler = on_hotkey

    def register(self, hotkey_id: int, key: int, modifiers: int) -> tuple[int, Any]:
        if (key, modifiers) in self.taken:
            return macos.EVENT_HOTKEY_EXISTS_ERR, None
        self.registered[hotkey_id] = (key, modifiers)
        return macos.NO_ERR, hotkey_id

    def unregister(self, ref: Any) -> None:
        self.registered.pop(ref)

    def press(self, key: int, modifiers: int, signature: int = macos.SIGNATURE) -> None:
        for hotkey_id, combo in self.registered.items():
            if combo == (key, modifiers):
                self.handler(signature, hotkey_id)


def test_macos_hot_key_events_fire_the_action(qtbot, make_manager) -> None:  # type: ignore[no-untyped-def]
    carbon = FakeCarbon()
    manager = make_manager(lambda on_a, on_f: macos.MacHotkeyBackend(on_a, on_f, api=carbon))
    assert manager.start() and manager.backend_name == "macOS"
    assert manager.register() == {}
    ctrl_opt_shift = macos.CONTROL_KEY | macos.OPTION_KEY | macos.SHIFT_KEY
    assert (0x02, ctrl_opt_shift) in carbon.registered.values()  # kVK_ANSI_D
    with qtbot.waitSignal(manager.activated, timeout=2000) as signal:
        carbon.press(0x0F, ctrl_opt_shift)  # kVK_ANSI_R
    assert signal.args == ["describe-region"]
    # Another application's hot key event (other signature) is not ours.
    with qtbot.assertNotEmitted(manager.activated, wait=50):
        carbon.press(0x0F, ctrl_opt_shift, signature=0x41424344)
    manager.stop()
    assert carbon.registered == {}


def test_macos_taken_combination_gives_the_busy_message_in_mac_words(make_manager) -> None:  # type: ignore[no-untyped-def]
    carbon = FakeCarbon(taken={(0x01, macos.CONTROL_KEY | macos.OPTION_KEY | macos.SHIFT_KEY)})
    manager = make_manager(lambda on_a, on_f: macos.MacHotkeyBackend(on_a, on_f, api=carbon))
    manager.start()
    failures = manager.register({"stop-speaking": "Ctrl+Alt+Shift+S"})
    assert failures == {"stop-speaking": busy_message("stop-speaking", "Control+Option+Shift+S")}
