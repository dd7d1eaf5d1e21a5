"""mss, the grabber of the X11, Windows and macOS backends: each thread's mss instance, the grab
of a rectangle, mss' monitor list, and MssBackend, the part of a backend those three share.

Each thread keeps its own mss grabber (kept between calls, because setting one up costs more
than a grab), so nothing is shared between threads.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

from PIL import Image

from desktop_app.capture.types import CaptureError, Rect, bounding_rect, failures_say

NO_SCREENS = "Lookaloud could not find your screens."

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


def mss_monitors() -> list[Rect]:
    """Every monitor as mss lists them (the platform's order, primary or leftmost first)."""
    with failures_say(NO_SCREENS):
        import mss

        with mss.MSS() as sct:
            return [Rect(m["left"], m["top"], m["width"], m["height"]) for m in sct.monitors[1:]]


class MssBackend:
    """grab() and monitors() through mss; the platform backends add the active window and,
    where the platform tells, the pointer."""

    name = "mss"
    whole_desktop_only = False

    def monitors(self) -> list[Rect]:
        return mss_monitors()

    def pointer_position(self) -> tuple[int, int] | None:
        return None

    def grab(self, rect: Rect) -> Image.Image:
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

    def grab_desktop(self) -> Image.Image:
        return self.grab(bounding_rect(self.monitors()))
