"""X11 global hotkeys on the test X server: real key presses (xdotool, through XTEST) while
another window has the focus fire the right action on the GUI thread; NumLock and CapsLock do
not get in the way; a combination another client holds gives the spoken busy message."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator

import pytest
from Xlib import XK, X
from Xlib import display as xdisplay

from desktop_app.hotkeys.base import busy_message
from desktop_app.hotkeys.x11 import X11HotkeyBackend

CTRL_ALT_SHIFT = X.ControlMask | X.Mod1Mask | X.ShiftMask


def press(*keys: str) -> None:
    subprocess.run(["xdotool", "key", "--delay", "30", *keys], check=True)


@pytest.fixture
def x11_manager(make_manager):  # type: ignore[no-untyped-def]
    manager = make_manager(X11HotkeyBackend)
    assert manager.start() and manager.backend_name == "X11"
    return manager


@pytest.fixture
def other_client() -> Iterator[xdisplay.Display]:
    """Another program's connection to the same X server."""
    disp = xdisplay.Display()
    yield disp
    disp.close()


def _grab(disp: xdisplay.Display, letter: str, modifiers: int) -> None:
    keycode = disp.keysym_to_keycode(XK.string_to_keysym(letter))
    disp.screen().root.grab_key(keycode, modifiers, True, X.GrabModeAsync, X.GrabModeAsync)
    disp.sync()


def test_default_hotkeys_fire_while_another_window_has_focus(qtbot, x11_manager, other_app_window) -> None:  # type: ignore[no-untyped-def]
    assert x11_manager.register() == {}
    fired: list[tuple[str, bool]] = []
    x11_manager.activated.connect(lambda a: fired.append((a, threading.current_thread() is threading.main_thread())))
    with qtbot.waitSignal(x11_manager.activated, timeout=5000) as signal:
        press("ctrl+alt+shift+d")
    assert signal.args == ["describe-screen"]
    with qtbot.waitSignal(x11_manager.activated, timeout=5000) as signal:
        press("ctrl+alt+shift+w")
    assert signal.args == ["describe-window"]
    # Every activation arrived on the GUI thread, and the other program kept its focus
    # and got none of the keys.
    assert fired == [("describe-screen", True), ("describe-window", True)]
    assert other_app_window.hasFocus() and other_app_window.text() == ""


def test_numlock_and_capslock_do_not_disable_hotkeys(qtbot, x11_manager, other_app_window) -> None:  # type: ignore[no-untyped-def]
    x11_manager.register({"repeat-last": "Ctrl+Alt+Shift+L", "stop-speaking": "Ctrl+Alt+Shift+S"})
    try:
        press("Num_Lock")
        with qtbot.waitSignal(x11_manager.activated, timeout=5000) as signal:
            press("ctrl+alt+shift+l")
        assert signal.args == ["repeat-last"]
        press("Caps_Lock")
        with qtbot.waitSignal(x11_manager.activated, timeout=5000) as signal:
            press("ctrl+alt+shift+s")
        assert signal.args == ["stop-speaking"]
    finally:
        press("Num_Lock", "Caps_Lock")


def test_holding_a_hotkey_down_fires_it_once(qtbot, x11_manager, other_app_window) -> None:  # type: ignore[no-untyped-def]
    x11_manager.register({"describe-screen": "Ctrl+Alt+Shift+D", "repeat-last": "Ctrl+Alt+Shift+L"})
    fired: list[str] = []
    x11_manager.activated.connect(fired.append)
    # Held for longer than the X server's auto-repeat delay (660 ms), so it repeats.
    subprocess.run(["xdotool", "keydown", "ctrl+alt+shift+d", "sleep", "1", "keyup", "ctrl+alt+shift+d"], check=True)
    press("ctrl+alt+shift+l")
    qtbot.waitUntil(lambda: "repeat-last" in fired)
    assert fired == ["describe-screen", "repeat-last"]


def test_keys_that_are_not_bound_do_nothing(qtbot, x11_manager, other_app_window) -> None:  # type: ignore[no-untyped-def]
    x11_manager.register({"ask": "Ctrl+Alt+Shift+A"})
    with qtbot.waitSignal(x11_manager.activated, timeout=5000) as signal:
        # ctrl+alt+a (no Shift) and ctrl+alt+shift+q are not ours; the first signal must be "ask".
        press("ctrl+alt+a", "ctrl+alt+shift+q", "ctrl+alt+shift+a")
    assert signal.args == ["ask"]


def test_combination_held_by_another_program_gives_the_busy_message(qtbot, x11_manager, other_client) -> None:  # type: ignore[no-untyped-def]
    _grab(other_client, "r", CTRL_ALT_SHIFT)
    expected = busy_message("describe-region", "Ctrl+Alt+Shift+R")
    with qtbot.waitSignal(x11_manager.registration_failed, timeout=5000) as signal:
        failures = x11_manager.register({"describe-region": "Ctrl+Alt+Shift+R", "describe-screen": "Ctrl+Alt+Shift+D"})
    assert failures == {"describe-region": expected}
    assert signal.args == ["describe-region", expected]
    # The others still work, and choosing another combination fixes the busy one.
    assert x11_manager.register({"describe-region": "Ctrl+Alt+Shift+G"}) == {}
    with qtbot.waitSignal(x11_manager.activated, timeout=5000) as signal:
        press("ctrl+alt+shift+g")
    assert signal.args == ["describe-region"]


def test_stopping_releases_the_keys_for_other_programs(x11_manager, other_client) -> None:  # type: ignore[no-untyped-def]
    x11_manager.register({"read-text": "Ctrl+Alt+Shift+T"})
    x11_manager.stop()
    errors: list[object] = []
    keycode = other_client.keysym_to_keycode(XK.string_to_keysym("t"))
    other_client.screen().root.grab_key(
        keycode, CTRL_ALT_SHIFT, True, X.GrabModeAsync, X.GrabModeAsync, onerror=lambda *e: errors.append(e)
    )
    other_client.sync()
    assert errors == []


def test_invalid_text_in_settings_is_reported_not_raised(qtbot, x11_manager) -> None:  # type: ignore[no-untyped-def]
    failures = x11_manager.register({"ask": "Shift+A"})
    assert failures == {"ask": "A shortcut needs Ctrl, Alt or Meta, so that it does not take a key you type."}
