"""Wayland capture: the xdg-desktop-portal Screenshot call (non-interactive), the only way an
application may read the screen there. It always gives the whole desktop, so rectangles are
cut from it; Wayland tells applications neither where windows are nor where the pointer is.
Blocks until the portal answers (the first time, the desktop may ask the user for permission).
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlparse

from PIL import Image

from desktop_app.capture.backends.mss_grabber import mss_monitors
from desktop_app.capture.types import ActiveWindow, CaptureError, Rect
from desktop_app.platform import RESPONSE_CANCELLED, PortalConnection, PortalError

SCREENSHOT_INTERFACE = "org.freedesktop.portal.Screenshot"
NO_PORTAL = "Lookaloud cannot take screenshots on this desktop, because the desktop portal is missing."
NO_WINDOWS = (
    "On Wayland, Lookaloud cannot tell which window is active. Use Describe screen or Describe region instead."
)
UNREADABLE = "The desktop returned a screenshot Lookaloud cannot open."


def screenshot(timeout: float = 60.0) -> Image.Image:
    """The whole desktop through the portal, in RGB real pixels."""
    try:
        portal = PortalConnection()
    except PortalError as exc:
        raise CaptureError(NO_PORTAL) from exc
    try:
        results = portal.request(
            SCREENSHOT_INTERFACE,
            "Screenshot",
            "sa{sv}",
            lambda token: ("", {"handle_token": ("s", token), "interactive": ("b", False)}),
            timeout=timeout,
        )
    except PortalError as exc:
        if exc.missing:
            raise CaptureError(NO_PORTAL) from exc
        if exc.code == RESPONSE_CANCELLED:
            raise CaptureError("The screenshot was cancelled or not allowed.") from exc
        raise CaptureError("The desktop did not let Lookaloud take a screenshot.") from exc
    finally:
        portal.close()
    parsed = urlparse(str(results.get("uri", "")))
    if parsed.scheme != "file":
        raise CaptureError(UNREADABLE)
    path = unquote(parsed.path)
    try:
        with Image.open(path) as picture:
            image = picture.convert("RGB")
    except OSError as exc:
        raise CaptureError(UNREADABLE) from exc
    # The portal saved the file only because we asked; do not leave it in the user's pictures.
    try:
        os.remove(path)
    except OSError:
        pass
    return image


class WaylandBackend:
    name = "Wayland portal"
    whole_desktop_only = True  # every screen mode describes the whole desktop

    def monitors(self) -> list[Rect]:
        return mss_monitors()  # as XWayland sees them: the portal does not list monitors

    def pointer_position(self) -> tuple[int, int] | None:
        return None

    def active_window(self) -> ActiveWindow:
        raise CaptureError(NO_WINDOWS)

    def grab(self, rect: Rect) -> Image.Image:
        whole = screenshot()
        box = (rect.left, rect.top, rect.right, rect.bottom)
        return whole if box == (0, 0, *whole.size) else whole.crop(box)

    def grab_desktop(self) -> Image.Image:
        return screenshot()
