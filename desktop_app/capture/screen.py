"""Screen capture: the monitors that exist, and a picture of one monitor, of all of them, or of
any rectangle of the desktop, as a PIL.Image in RGB holding the real (physical) pixels.

Owns the choice of grabber: mss on X11, Windows and macOS; the xdg-desktop-portal Screenshot
on Wayland (capture.portal), where applications cannot read the screen themselves.
Everything here is Qt-free and may be called from any thread; each thread keeps its own
mss grabber (kept between calls, because setting one up costs more than a grab), so
nothing is shared between threads.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from dataclasses import dataclass
from typing import Any, Literal

from PIL import Image

ScreenMode = Literal["focused", "pointer", "all"]
SCREEN_MODES: tuple[ScreenMode, ...] = ("focused", "pointer", "all")


class CaptureError(Exception):
    """A capture failed. str(error) is one plain sentence that can be spoken to the user."""


@dataclass(frozen=True)
class Rect:
    """A rectangle of the desktop in physical pixels (the coordinates the grabber uses)."""

    left: int
    top: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height

    @property
    def center(self) -> tuple[int, int]:
        return self.left + self.width // 2, self.top + self.height // 2

    def contains(self, x: int, y: int) -> bool:
        return self.left <= x < self.right and self.top <= y < self.bottom

    def intersected(self, other: Rect) -> Rect | None:
        left, top = max(self.left, other.left), max(self.top, other.top)
        right, bottom = min(self.right, other.right), min(self.bottom, other.bottom)
        if right <= left or bottom <= top:
            return None
        return Rect(left, top, right - left, bottom - top)

    def united(self, other: Rect) -> Rect:
        left, top = min(self.left, other.left), min(self.top, other.top)
        return Rect(left, top, max(self.right, other.right) - left, max(self.bottom, other.bottom) - top)


def is_wayland_session(environ: os._Environ[str] | dict[str, str] | None = None) -> bool:
    """True in a Wayland session, where only the portal can read the screen.

    X11 clients under XWayland would see only other X11 windows, so WAYLAND_DISPLAY wins over
    DISPLAY."""
    env = os.environ if environ is None else environ
    if not sys.platform.startswith("linux"):
        return False
    return env.get("XDG_SESSION_TYPE") == "wayland" or bool(env.get("WAYLAND_DISPLAY"))


def _x11_monitors() -> list[Rect]:
    """Monitors from RandR 1.5, which (unlike mss' CRTC list) includes the logical monitors
    that desktops and `xrandr --setmonitor` define."""
    from Xlib import display as xdisplay

    disp = xdisplay.Display()
    try:
        root = disp.screen().root
        get_monitors = getattr(root, "xrandr_get_monitors", None)  # only with RandR >= 1.5
        reply = get_monitors(is_active=True) if get_monitors else None
        rects = [Rect(m.x, m.y, m.width_in_pixels, m.height_in_pixels) for m in reply.monitors] if reply else []
        if not rects:
            geo = root.get_geometry()
            rects = [Rect(0, 0, geo.width, geo.height)]
        return rects
    finally:
        disp.close()


def monitors() -> list[Rect]:
    """Every monitor, in physical pixels, primary or leftmost first as the platform lists them."""
    try:
        if sys.platform.startswith("linux") and not is_wayland_session():
            return _x11_monitors()
        import mss

        with mss.MSS() as sct:
            return [Rect(m["left"], m["top"], m["width"], m["height"]) for m in sct.monitors[1:]]
    except Exception as exc:
        raise CaptureError("Lookaloud could not find your screens.") from exc


def virtual_desktop(screens: list[Rect] | None = None) -> Rect:
    """The smallest rectangle holding every monitor."""
    screens = screens or monitors()
    total = screens[0]
    for screen in screens[1:]:
        total = total.united(screen)
    return total


def monitor_at(x: int, y: int, screens: list[Rect] | None = None) -> Rect:
    """The monitor holding the point, or the nearest one when the point is off every screen."""
    screens = screens or monitors()
    for screen in screens:
        if screen.contains(x, y):
            return screen

    def distance(r: Rect) -> int:
        dx = max(r.left - x, 0, x - r.right + 1)
        dy = max(r.top - y, 0, y - r.bottom + 1)
        return dx * dx + dy * dy

    return min(screens, key=distance)


def pointer_position() -> tuple[int, int] | None:
    """Where the mouse pointer is, in physical desktop pixels; None where it cannot be read."""
    try:
        if sys.platform == "win32":
            import ctypes
            from ctypes import wintypes

            point = wintypes.POINT()
            if ctypes.windll.user32.GetCursorPos(ctypes.byref(point)):  # type: ignore[attr-defined]
                return point.x, point.y
            return None
        if sys.platform.startswith("linux") and not is_wayland_session():
            from Xlib import display as xdisplay

            disp = xdisplay.Display()
            try:
                reply = disp.screen().root.query_pointer()
                return reply.root_x, reply.root_y
            finally:
                disp.close()
    except Exception:  # noqa: BLE001 - no pointer is not an error: callers fall back
        return None
    return None


def grab(rect: Rect) -> Image.Image:
    """A picture of one rectangle of the desktop, in RGB, one image pixel per screen pixel."""
    if rect.width <= 0 or rect.height <= 0:
        raise CaptureError("The area to describe is empty.")
    if is_wayland_session():
        from desktop_app.capture import portal

        whole = portal.screenshot()
        box = (rect.left, rect.top, rect.right, rect.bottom)
        return whole if box == (0, 0, *whole.size) else whole.crop(box)
    region = {"left": rect.left, "top": rect.top, "width": rect.width, "height": rect.height}
    for attempt in (1, 2):
        try:
            shot = _grabber().grab(region)
            # BGRX -> RGB in one C pass straight from mss' buffer (shot.bgra would copy it first).
            return Image.frombytes("RGB", shot.size, shot.raw, "raw", "BGRX")
        except Exception as exc:
            _drop_grabber()  # the display went away or changed; a fresh connection may work
            if attempt == 2:
                raise CaptureError("Lookaloud could not take a picture of the screen.") from exc
    raise AssertionError("unreachable")


def grab_visible(rect: Rect, off_screen: str) -> Image.Image:
    """grab() of the part of `rect` that is on a screen; CaptureError(off_screen) when none is."""
    visible = rect.intersected(virtual_desktop())
    if visible is None:
        raise CaptureError(off_screen)
    return grab(visible)


_grabbers = threading.local()


def _grabber() -> Any:
    """This thread's mss instance, kept between grabs: opening one sets up a shared-memory
    segment, which costs more than the grab itself (about 80 ms against 27 ms at 4K)."""
    import mss

    key = os.environ.get("DISPLAY", "")
    cached = getattr(_grabbers, "sct", None)
    if cached is None or getattr(_grabbers, "key", None) != key:
        _drop_grabber()
        _grabbers.sct = mss.MSS()
        _grabbers.key = key
    return _grabbers.sct


def _drop_grabber() -> None:
    cached = getattr(_grabbers, "sct", None)
    _grabbers.sct = None
    if cached is not None:
        with contextlib.suppress(Exception):
            cached.close()


def capture_screen(mode: ScreenMode = "focused") -> Image.Image:
    """A picture of the monitor holding the focused window ("focused"), the mouse pointer
    ("pointer"), or of all monitors side by side ("all").

    "focused" falls back to the pointer, and that to the first monitor, when the platform
    cannot say where the active window is. On Wayland the portal returns the whole desktop.
    """
    if mode not in SCREEN_MODES:
        raise ValueError(f"unknown screen mode {mode!r}")
    if is_wayland_session():
        from desktop_app.capture import portal

        return portal.screenshot()
    from desktop_app.capture.window import active_window, with_window_title

    try:  # where the window in front is, and its title for the description
        window = active_window()
    except CaptureError:
        window = None
    title = window.title if window else None
    screens = monitors()
    if mode == "all":
        return with_window_title(grab(virtual_desktop(screens)), title, whole_screen=True)
    point = window.rect.center if window and mode == "focused" else None
    if point is None:
        point = pointer_position()
    target = monitor_at(*point, screens) if point else screens[0]
    return with_window_title(grab(target), title, whole_screen=True)
