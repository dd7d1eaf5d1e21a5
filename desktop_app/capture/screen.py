"""Screen capture as the app asks for it: the monitors that exist, and a picture of one monitor,
of all of them, or of any rectangle of the desktop, as a PIL.Image in RGB holding the real
(physical) pixels. Every call goes through the platform's backend (capture.base.choose_backend).
Qt-free; may be called from any thread.
"""

from __future__ import annotations

from PIL import Image

from desktop_app.capture.base import choose_backend
from desktop_app.capture.types import (
    SCREEN_MODES,
    CaptureError,
    Rect,
    ScreenMode,
    bounding_rect,
    with_window_title,
)


def monitors() -> list[Rect]:
    """Every monitor, in physical pixels, primary or leftmost first as the platform lists them."""
    return choose_backend().monitors()


def virtual_desktop(screens: list[Rect] | None = None) -> Rect:
    """The smallest rectangle holding every monitor."""
    return bounding_rect(screens or monitors())


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
    return choose_backend().pointer_position()


def grab(rect: Rect) -> Image.Image:
    """A picture of one rectangle of the desktop, in RGB, one image pixel per screen pixel."""
    if rect.width <= 0 or rect.height <= 0:
        raise CaptureError("The area to describe is empty.")
    return choose_backend().grab(rect)


def grab_visible(rect: Rect, off_screen: str) -> Image.Image:
    """grab() of the part of `rect` that is on a screen; CaptureError(off_screen) when none is."""
    visible = rect.intersected(virtual_desktop())
    if visible is None:
        raise CaptureError(off_screen)
    return grab(visible)


def capture_screen(mode: ScreenMode = "focused") -> Image.Image:
    """A picture of the monitor holding the focused window ("focused"), the mouse pointer
    ("pointer"), or of all monitors side by side ("all").

    "focused" falls back to the pointer, and that to the first monitor, when the platform
    cannot say where the active window is. On Wayland the portal returns the whole desktop.
    """
    if mode not in SCREEN_MODES:
        raise ValueError(f"unknown screen mode {mode!r}")
    backend = choose_backend()
    if backend.whole_desktop_only:
        return backend.grab_desktop()
    try:  # where the window in front is, and its title for the description
        window = backend.active_window()
    except CaptureError:
        window = None
    title = window.title if window else None
    if mode == "all":
        return with_window_title(backend.grab_desktop(), title, whole_screen=True)
    screens = backend.monitors()
    point = window.rect.center if window and mode == "focused" else None
    if point is None:
        point = backend.pointer_position()
    target = monitor_at(*point, screens) if point else screens[0]
    return with_window_title(backend.grab(target), title, whole_screen=True)
