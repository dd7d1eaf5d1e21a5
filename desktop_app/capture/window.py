"""The active window as the app asks for it: where it is on the desktop, and a picture of its
content carrying its title. The platform's backend finds the window (capture.backends: X11
_NET_ACTIVE_WINDOW, Windows DWM bounds, macOS Quartz; Wayland says in a sentence that it cannot).
Qt-free; may be called from any thread.
"""

from __future__ import annotations

from PIL import Image

from desktop_app.capture.base import choose_backend
from desktop_app.capture.screen import grab_visible
from desktop_app.capture.types import ActiveWindow, Rect, with_window_title


def active_window() -> ActiveWindow:
    """The active window: where its content is and its title. Raises CaptureError."""
    return choose_backend().active_window()


def active_window_rect() -> Rect:
    """Where the active window's content is, in desktop coordinates. Raises CaptureError."""
    return active_window().rect


def capture_active_window() -> Image.Image:
    """A picture of the active window's content; the parts off every screen are left out.
    Its `info` carries the window's title."""
    window = active_window()
    return with_window_title(grab_visible(window.rect, "The active window is not on any screen."), window.title,
                             whole_screen=False)
