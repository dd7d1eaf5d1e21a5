"""The interface every capture backend implements (CaptureBackend) and choose_backend(), the one
place that picks the backend for this platform and session. The backends live in
capture/backends/ and satisfy the interface by shape, so they never import this module.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from PIL import Image

from desktop_app.capture.types import ActiveWindow, Rect
from desktop_app.platform import is_wayland_session


@runtime_checkable
class CaptureBackend(Protocol):
    """One platform's way to see the desktop. Every method may be called from any thread and
    raises CaptureError (one spoken sentence) when it cannot do its job; pictures are RGB,
    one image pixel per grabber pixel."""

    name: str
    # True where the platform gives only one picture of the whole desktop (the Wayland portal):
    # Describe screen then describes all of it, whatever the screen mode.
    whole_desktop_only: bool

    def monitors(self) -> list[Rect]:
        """Every monitor, primary or leftmost first as the platform lists them."""
        ...

    def pointer_position(self) -> tuple[int, int] | None:
        """Where the mouse pointer is; None where the platform does not say (never raises)."""
        ...

    def active_window(self) -> ActiveWindow:
        """Where the active window's content is, and its title."""
        ...

    def grab(self, rect: Rect) -> Image.Image:
        """A picture of one non-empty rectangle of the desktop."""
        ...

    def grab_desktop(self) -> Image.Image:
        """Every monitor in one picture."""
        ...


def choose_backend(platform: str | None = None, environ: Mapping[str, str] | None = None) -> CaptureBackend:
    """The capture backend for this platform and session (read anew on each call, so a changed
    DISPLAY or WAYLAND_DISPLAY is followed; backends are cheap to make)."""
    platform = platform or sys.platform
    if platform == "win32":
        from desktop_app.capture.backends.windows import WindowsBackend

        return WindowsBackend()
    if platform == "darwin":
        from desktop_app.capture.backends.macos import MacBackend

        return MacBackend()
    if is_wayland_session(environ, platform):
        from desktop_app.capture.backends.wayland import WaylandBackend

        return WaylandBackend()
    from desktop_app.capture.backends.x11 import X11Backend

    return X11Backend()
