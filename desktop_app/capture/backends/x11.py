"""X11 capture: pixels through mss (XShm), monitors from RandR 1.5, the pointer, and the active
window from _NET_ACTIVE_WINDOW (set by every EWMH window manager), with python-xlib."""

from __future__ import annotations

from desktop_app.capture.backends.mss_grabber import NO_SCREENS, MssBackend
from desktop_app.capture.types import (
    NO_ACTIVE_WINDOW,
    WINDOW_NOT_FOUND,
    ActiveWindow,
    CaptureError,
    Rect,
    clean_title,
    failures_say,
)


class X11Backend(MssBackend):
    name = "X11"

    def monitors(self) -> list[Rect]:
        """Monitors from RandR 1.5, which (unlike mss' CRTC list) includes the logical monitors
        that desktops and `xrandr --setmonitor` define."""
        with failures_say(NO_SCREENS):
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

    def pointer_position(self) -> tuple[int, int] | None:
        try:
            from Xlib import display as xdisplay

            disp = xdisplay.Display()
            try:
                reply = disp.screen().root.query_pointer()
                return reply.root_x, reply.root_y
            finally:
                disp.close()
        except Exception:  # noqa: BLE001 - no pointer is not an error: callers fall back
            return None

    def active_window(self) -> ActiveWindow:
        with failures_say(WINDOW_NOT_FOUND):
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
                        value = name.value
                        title = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                    else:  # the ICCCM name, in Latin-1
                        title = window.get_wm_name()
                        title = title.decode("latin-1") if isinstance(title, bytes) else title
                except XError as exc:  # the window closed between the requests
                    raise CaptureError(NO_ACTIVE_WINDOW) from exc
                return ActiveWindow(Rect(origin.x, origin.y, geometry.width, geometry.height), clean_title(title))
            finally:
                disp.close()
