"""Windows capture: pixels and monitors through mss, the pointer from GetCursorPos, and the
foreground window's visible bounds (DWM, without the invisible resize border) and title."""

from __future__ import annotations

from desktop_app.capture.backends.mss_grabber import MssBackend
from desktop_app.capture.types import (
    NO_ACTIVE_WINDOW,
    WINDOW_NOT_FOUND,
    ActiveWindow,
    CaptureError,
    Rect,
    clean_title,
    failures_say,
)


class WindowsBackend(MssBackend):
    name = "Windows"

    def pointer_position(self) -> tuple[int, int] | None:
        try:
            import ctypes
            from ctypes import wintypes

            point = wintypes.POINT()
            if ctypes.windll.user32.GetCursorPos(ctypes.byref(point)):  # type: ignore[attr-defined]
                return point.x, point.y
        except Exception:  # noqa: BLE001 - no pointer is not an error: callers fall back
            return None
        return None

    def active_window(self) -> ActiveWindow:
        with failures_say(WINDOW_NOT_FOUND):
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
                                clean_title(buffer.value))
