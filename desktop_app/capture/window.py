"""The active window: where it is on the desktop, and a picture of its content.

X11 reads _NET_ACTIVE_WINDOW (set by every EWMH window manager); Windows asks for the
foreground window's visible bounds (DWM, without the invisible resize border); macOS asks
Quartz for the frontmost application's top window (needs pyobjc-framework-Quartz). Wayland
does not let applications know where windows are, so there it says so in a sentence.
Qt-free; may be called from any thread.
"""

from __future__ import annotations

import sys
from typing import Any

from PIL import Image

from desktop_app.capture.screen import CaptureError, Rect, grab_visible, is_wayland_session

NO_ACTIVE_WINDOW = "No window is active, so there is nothing to describe. Try Describe screen instead."
# Keys in a captured picture's `info`: the active window's title, and whether the picture is a
# whole screen (the title then names the window in front) or that window alone.
WINDOW_TITLE = "lookaloud.window_title"
WHOLE_SCREEN = "lookaloud.whole_screen"


def _x11_active_window(disp: Any) -> Any:
    """The active window's resource on an open python-xlib display, or None."""
    from Xlib import X

    root = disp.screen().root
    prop = root.get_full_property(disp.intern_atom("_NET_ACTIVE_WINDOW"), X.AnyPropertyType)
    window_id = int(prop.value[0]) if prop is not None and len(prop.value) else 0
    return disp.create_resource_object("window", window_id) if window_id else None


def _x11_active_window_rect() -> Rect:
    from Xlib import display as xdisplay
    from Xlib.error import XError

    disp = xdisplay.Display()
    try:
        window = _x11_active_window(disp)
        if window is None:
            raise CaptureError(NO_ACTIVE_WINDOW)
        try:
            geometry = window.get_geometry()
            # Client-area origin in root coordinates, whatever frames the manager added.
            origin = disp.screen().root.translate_coords(window, 0, 0)
        except XError as exc:  # the window closed between the two requests
            raise CaptureError(NO_ACTIVE_WINDOW) from exc
        return Rect(origin.x, origin.y, geometry.width, geometry.height)
    finally:
        disp.close()


def _windows_active_window_rect() -> Rect:
    import ctypes
    from ctypes import wintypes

    user32 = ctypes.windll.user32  # type: ignore[attr-defined]
    hwnd = user32.GetForegroundWindow()
    if not hwnd:
        raise CaptureError(NO_ACTIVE_WINDOW)
    rect = wintypes.RECT()
    dwmwa_extended_frame_bounds = 9
    # The DWM bounds leave out the invisible resize border that GetWindowRect includes.
    status = ctypes.windll.dwmapi.DwmGetWindowAttribute(  # type: ignore[attr-defined]
        wintypes.HWND(hwnd), dwmwa_extended_frame_bounds, ctypes.byref(rect), ctypes.sizeof(rect)
    )
    if status != 0 and not user32.GetWindowRect(hwnd, ctypes.byref(rect)):
        raise CaptureError(NO_ACTIVE_WINDOW)
    return Rect(rect.left, rect.top, rect.right - rect.left, rect.bottom - rect.top)


def _macos_active_window_rect() -> Rect:
    try:
        import Quartz  # type: ignore[import-not-found]
        from AppKit import NSWorkspace  # type: ignore[import-not-found]
    except ImportError as exc:
        raise CaptureError("Describe window needs the Quartz package on this Mac. Try Describe screen instead.") from exc
    pid = NSWorkspace.sharedWorkspace().frontmostApplication().processIdentifier()
    options = Quartz.kCGWindowListOptionOnScreenOnly | Quartz.kCGWindowListExcludeDesktopElements
    for info in Quartz.CGWindowListCopyWindowInfo(options, Quartz.kCGNullWindowID) or []:
        if info.get("kCGWindowOwnerPID") == pid and info.get("kCGWindowLayer") == 0:
            bounds = info["kCGWindowBounds"]
            # Quartz speaks points, as mss on macOS does for the rectangle it grabs.
            return Rect(int(bounds["X"]), int(bounds["Y"]), int(bounds["Width"]), int(bounds["Height"]))
    raise CaptureError(NO_ACTIVE_WINDOW)


def _x11_active_window_title() -> str | None:
    from Xlib import display as xdisplay

    disp = xdisplay.Display()
    try:
        window = _x11_active_window(disp)
        if window is None:
            return None
        name = window.get_full_property(disp.intern_atom("_NET_WM_NAME"), disp.intern_atom("UTF8_STRING"))
        if name is not None and name.value:
            value = name.value
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        legacy = window.get_wm_name()
        return legacy.decode("latin-1") if isinstance(legacy, bytes) else legacy
    finally:
        disp.close()


def _windows_active_window_title() -> str | None:
    import ctypes

    user32 = ctypes.windll.user32  # type: ignore[attr-defined]
    hwnd = user32.GetForegroundWindow()
    length = user32.GetWindowTextLengthW(hwnd) if hwnd else 0
    if not length:
        return None
    buffer = ctypes.create_unicode_buffer(length + 1)
    user32.GetWindowTextW(hwnd, buffer, length + 1)
    return buffer.value


def _macos_active_window_title() -> str | None:
    from AppKit import NSWorkspace  # type: ignore[import-not-found]

    # Window titles need the Screen Recording permission; the application's name does not.
    return str(NSWorkspace.sharedWorkspace().frontmostApplication().localizedName()) or None


def active_window_title() -> str | None:
    """The active window's title, or None where it cannot be known (Wayland, no window)."""
    if is_wayland_session():
        return None
    try:
        if sys.platform == "win32":
            title = _windows_active_window_title()
        elif sys.platform == "darwin":
            title = _macos_active_window_title()
        else:
            title = _x11_active_window_title()
    except Exception:  # noqa: BLE001 - a title is a nicety: describing goes on without it
        return None
    title = " ".join((title or "").split())
    return title or None


def with_window_title(image: Image.Image, whole_screen: bool) -> Image.Image:
    """The picture, carrying the active window's title (when known) for the description."""
    title = active_window_title()
    if title:
        image.info[WINDOW_TITLE] = title
        image.info[WHOLE_SCREEN] = whole_screen
    return image


def active_window_rect() -> Rect:
    """Where the active window's content is, in desktop coordinates. Raises CaptureError."""
    if is_wayland_session():
        raise CaptureError(
            "On Wayland, Lookaloud cannot tell which window is active. Use Describe screen or Describe region instead."
        )
    try:
        if sys.platform == "win32":
            return _windows_active_window_rect()
        if sys.platform == "darwin":
            return _macos_active_window_rect()
        return _x11_active_window_rect()
    except CaptureError:
        raise
    except Exception as exc:
        raise CaptureError("Lookaloud could not find the active window.") from exc


def capture_active_window() -> Image.Image:
    """A picture of the active window's content; the parts off every screen are left out.
    Its `info` carries the window's title."""
    return with_window_title(grab_visible(active_window_rect(), "The active window is not on any screen."),
                             whole_screen=False)
