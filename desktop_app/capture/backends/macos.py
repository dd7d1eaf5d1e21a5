"""macOS capture: pixels and monitors through mss, and the frontmost application's top window
from Quartz (needs pyobjc-framework-Quartz; without it the user is told to use Describe
screen). macOS gives no pointer position here, so "pointer" falls back to the first monitor."""

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


class MacBackend(MssBackend):
    name = "macOS"

    def active_window(self) -> ActiveWindow:
        with failures_say(WINDOW_NOT_FOUND):
            try:
                import Quartz  # type: ignore[import-not-found]
                from AppKit import NSWorkspace  # type: ignore[import-not-found]
            except ImportError as exc:
                raise CaptureError(
                    "Describe window needs the Quartz package on this Mac. Try Describe screen instead."
                ) from exc
            app = NSWorkspace.sharedWorkspace().frontmostApplication()
            pid = app.processIdentifier()
            options = Quartz.kCGWindowListOptionOnScreenOnly | Quartz.kCGWindowListExcludeDesktopElements
            for info in Quartz.CGWindowListCopyWindowInfo(options, Quartz.kCGNullWindowID) or []:
                if info.get("kCGWindowOwnerPID") == pid and info.get("kCGWindowLayer") == 0:
                    bounds = info["kCGWindowBounds"]
                    # Quartz speaks points, as mss on macOS does for the rectangle it grabs. Window
                    # titles need the Screen Recording permission; the application's name does not.
                    rect = Rect(int(bounds["X"]), int(bounds["Y"]), int(bounds["Width"]), int(bounds["Height"]))
                    return ActiveWindow(rect, clean_title(str(app.localizedName())))
            raise CaptureError(NO_ACTIVE_WINDOW)
