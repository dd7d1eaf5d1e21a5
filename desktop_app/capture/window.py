"""The active window: where it is on the desktop, and a picture of its content.

X11 reads _NET_ACTIVE_WINDOW (set by every EWMH window manager); Windows asks for the
foreground window's visible bounds (DWM, without the invisible resize border); macOS asks
Quartz for the frontmost application's top window (needs pyobjc-framework-Quartz). Wayland
does not let applications know where windows are, so there it says so in a sentence.
Qt-free; may be called from any thread.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from PIL import Image

from desktop_app.capture.screen import CaptureError, Rect, grab_visible, is_wayland_session

NO_ACTIVE_WINDOW = "No window is active, so there is nothing to describe. Try Describe screen instead."
# Keys in a captured picture's `info`: the active window's title, and whether the picture is a
# whole screen (the title then names the window in front) or that window alone.
WINDOW_TITLE = "lookaloud.window_title"
WHOLE_SCREEN = "lookaloud.whole_screen"


@dataclass(frozen=True)
class ActiveWindow:
    rect: Rect  # where its content is, in desktop coordinates
    title: str | None  # None where it cannot be known


def _clean_title(title: str | None) -> str | None:
    return " ".join((title or "").split()) or None


def _x11_active_window() -> ActiveWindow:
    from Xlib import X
    from Xlib import display as xdisplay
    from Xlib.error import XError

    # One connection for both: opening a display costs about 30 ms, on the hotkey's path.
    disp = xdisplay.Display()
    try:
        root = disp.screen().root
        prop = root.get_full_property(disp.intern_atom("_NET_ACTIVE_WINDOW"), X.AnyPropertyType)
        window_id = int(prop.value[0]) if prop is not None and len(prop.value) else 0
        if not window_id:
            raise CaptureError(NO_ACTIVE_WINDOW)
        window = disp.create_resource_object("window", window_id)
        try:
            geometry = window.get_geometry()
            # Client-area origin in root coordinates, whatever frames the manager added.
            origin = root.translate_coords(window, 0, 0)
            name = window.get_full_property(disp.intern_atom("_NET_WM_NAME"), disp.intern_atom("UTF8_STRING"))
            if name is not None and name.value:
                title = name.value.decode("utf-8", "replace") if isinstance(name.value, bytes) else str(name.value)
            else:  # the ICCCM name, in Latin-1
                title = window.get_wm_name()
                title = title.decode("latin-1") if isinstance(title, bytes) else title
        except XError as exc:  # the window closed between the requests
            raise CaptureError(NO_ACTIVE_WINDOW) from exc
        return ActiveWindow(Rect(origin.x, origin.y, geometry.width, geometry.height), _clean_title(title))
    finally:
        disp.close()


def _windows_active_window() -> ActiveWindow:
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
    length = user32.GetWindowTextLengthW(hwnd)
    buffer = ctypes.create_unicode_buffer(length + 1)
    if length:
        user32.GetWindowTextW(hwnd, buffer, length + 1)
    return ActiveWindow(Rect(rect.left, rect.top, rect.right - rect.left, rect.bottom - rect.top),
                        _clean_title(buffer.value))


def _macos_active_window() -> ActiveWindow:
    try:
        import Quartz  # type: ignore[import-not-found]
        from AppKit import NSWorkspace  # type: ignore[import-not-found]
    except ImportError as exc:
        raise CaptureError("Describe window needs the Quartz package on this Mac. Try Describe screen instead.") from exc
    app = NSWorkspace.sharedWorkspace().frontmostApplication()
    pid = app.processIdentifier()
    options = Quartz.kCGWindowListOptionOnScreenOnly | Quartz.kCGWindowListExcludeDesktopElements
    for info in Quartz.CGWindowListCopyWindowInfo(options, Quartz.kCGNullWindowID) or []:
        if info.get("kCGWindowOwnerPID") == pid and info.get("kCGWindowLayer") == 0:
            bounds = info["kCGWindowBounds"]
            # Quartz speaks points, as mss on macOS does for the rectangle it grabs. Window
            # titles need the Screen Recording permission; the application's name does not.
            return ActiveWindow(Rect(int(bounds["X"]), int(bounds["Y"]), int(bounds["Width"]), int(bounds["Height"])),
                                _clean_title(str(app.localizedName())))
    raise CaptureError(NO_ACTIVE_WINDOW)


def active_window() -> ActiveWindow:
    """The active window: where its content is and its title. Raises CaptureError."""
    if is_wayland_session():
        raise CaptureError(
            "On Wayland, Lookaloud cannot tell which window is active. Use Describe screen or Describe region instead."
        )
    try:
        if sys.platform == "win32":
            return _windows_active_window()
        if sys.platform == "darwin":
            return _macos_active_window()
        return _x11_active_window()
    except CaptureError:
        raise
    except Exception as exc:
        raise CaptureError("Lookaloud could not find the active window.") from exc


def active_window_rect() -> Rect:
    """Where the active window's content is, in desktop coordinates. Raises CaptureError."""
    return active_window().rect


def with_window_title(image: Image.Image, title: str | None, whole_screen: bool) -> Image.Image:
    """The picture, carrying the active window's title (when known) for the description."""
    if title:
        image.info[WINDOW_TITLE] = title
        image.info[WHOLE_SCREEN] = whole_screen
    return image


def capture_active_window() -> Image.Image:
    """A picture of the active window's content; the parts off every screen are left out.
    Its `info` carries the window's title."""
    window = active_window()
    return with_window_title(grab_visible(window.rect, "The active window is not on any screen."), window.title,
                             whole_screen=False)
