"""X11 global hotkeys with python-xlib: passive key grabs on the root window.

Each combination is grabbed four times, with and without NumLock and CapsLock, because X
matches grabs on the exact modifier state. A grab another client holds ends in BadAccess,
reported as HotkeyBusy. A daemon thread reads key events from this backend's own display
connection and calls on_activated from that thread. Holding a combination down fires it once:
the auto-repeat that X sends as release/press pairs is dropped.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading

import Xlib.threaded  # noqa: F401 - makes python-xlib lock its connection; two threads use it
from Xlib import XK, X
from Xlib import display as xdisplay
from Xlib import error as xerror

from desktop_app.hotkeys.base import (
    Combo,
    HotkeyBackend,
    HotkeyBusy,
    HotkeyError,
    HotkeyUnavailable,
    busy_message,
    format_combo,
    keysym_name,
)

_MODIFIER_MASKS = {"ctrl": X.ControlMask, "alt": X.Mod1Mask, "shift": X.ShiftMask, "meta": X.Mod4Mask}
_WAKE, _QUIT = b"w", b"q"


class X11HotkeyBackend(HotkeyBackend):
    name = "X11"

    def __init__(self, on_activated, on_failed, display_name: str | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(on_activated, on_failed)
        self._display_name = display_name
        self._display: xdisplay.Display | None = None
        self._bindings: dict[tuple[int, int], str] = {}
        self._released_at: dict[int, int] = {}  # keycode -> time of its last release (reader thread)
        self._lock_variants: tuple[int, ...] = (0,)
        self._relevant_mask = X.ControlMask | X.Mod1Mask | X.ShiftMask | X.Mod4Mask
        self._thread: threading.Thread | None = None
        self._wake_r = self._wake_w = -1

    def start(self) -> None:
        try:
            self._display = xdisplay.Display(self._display_name)
        except Exception as exc:
            raise HotkeyUnavailable("Lookaloud could not connect to the X display for shortcuts.") from exc
        numlock = self._numlock_mask()
        self._lock_variants = (0, X.LockMask, numlock, X.LockMask | numlock)
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._read_events, name="lookaloud-x11-hotkeys", daemon=True)
        self._thread.start()

    def _numlock_mask(self) -> int:
        """NumLock is usually Mod2, but the keyboard map decides."""
        assert self._display is not None
        keycode = self._display.keysym_to_keycode(XK.XK_Num_Lock)
        for index, keycodes in enumerate(self._display.get_modifier_mapping()):
            if keycode and keycode in keycodes:
                return 1 << index
        return X.Mod2Mask

    def _keycode(self, combo: Combo) -> int:
        assert self._display is not None
        keysym = XK.string_to_keysym(keysym_name(combo.key))
        keycode = self._display.keysym_to_keycode(keysym) if keysym else 0
        if not keycode:
            raise HotkeyError(f"The key {combo.key} is not on this keyboard, so {format_combo(combo)} cannot be used.")
        return int(keycode)

    def register(self, action: str, combo: Combo) -> None:
        if self._display is None:
            raise HotkeyUnavailable("Shortcuts are not started.")
        keycode = self._keycode(combo)
        modifiers = 0
        for name in combo.modifiers:
            modifiers |= _MODIFIER_MASKS[name]
        root = self._display.screen().root
        catcher = xerror.CatchError(xerror.BadAccess)
        for extra in self._lock_variants:
            root.grab_key(keycode, modifiers | extra, True, X.GrabModeAsync, X.GrabModeAsync, onerror=catcher)
        self._display.sync()  # errors arrive asynchronously; sync makes BadAccess show up now
        self._wake_reader()  # sync may have read key events into the queue
        if catcher.get_error() is not None:
            # XUngrabKey only drops our own grabs, so this never frees the other client's.
            for extra in self._lock_variants:
                root.ungrab_key(keycode, modifiers | extra)
            self._display.sync()
            raise HotkeyBusy(busy_message(action, format_combo(combo)))
        self._bindings[(keycode, modifiers)] = action

    def unregister_all(self) -> None:
        if self._display is None:
            return
        root = self._display.screen().root
        for keycode, modifiers in list(self._bindings):
            for extra in self._lock_variants:
                root.ungrab_key(keycode, modifiers | extra)
        self._bindings.clear()
        self._display.sync()

    def stop(self) -> None:
        if self._display is None:
            return
        with contextlib.suppress(Exception):  # the display may already be gone at shutdown
            self.unregister_all()
        os.write(self._wake_w, _QUIT)
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._display.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
        self._display = None
        self._thread = None

    def _wake_reader(self) -> None:
        os.write(self._wake_w, _WAKE)

    def _read_events(self) -> None:
        """Runs on the reader thread until stop()."""
        display = self._display
        assert display is not None
        fd = display.fileno()
        while True:
            readable, _, _ = select.select([fd, self._wake_r], [], [])
            if self._wake_r in readable and _QUIT in os.read(self._wake_r, 64):
                return
            try:
                while display.pending_events():
                    self._handle(display.next_event())
            except xerror.ConnectionClosedError:
                return

    def _handle(self, event) -> None:  # type: ignore[no-untyped-def]
        if event.type == X.KeyRelease:
            self._released_at[event.detail] = event.time
            return
        if event.type != X.KeyPress:
            return
        if self._released_at.get(event.detail) == event.time:
            return  # auto-repeat: X sends a release and a press at the same instant; one press, one action
        action = self._bindings.get((event.detail, event.state & self._relevant_mask))
        if action is not None:
            self.on_activated(action)
