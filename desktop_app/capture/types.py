"""What every capture backend and caller shares: the desktop rectangle (Rect), the active
window (ActiveWindow), the screen modes, CaptureError with its spoken sentence, and the keys a
captured picture's `info` carries for the description (the window's title). Qt-free.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from PIL import Image

ScreenMode = Literal["focused", "pointer", "all"]
SCREEN_MODES: tuple[ScreenMode, ...] = ("focused", "pointer", "all")

NO_ACTIVE_WINDOW = "No window is active, so there is nothing to describe. Try Describe screen instead."
WINDOW_NOT_FOUND = "Lookaloud could not find the active window."  # the platform failed to say
# Keys in a captured picture's `info`: the active window's title, and whether the picture is a
# whole screen (the title then names the window in front) or that window alone.
WINDOW_TITLE = "lookaloud.window_title"
WHOLE_SCREEN = "lookaloud.whole_screen"


class CaptureError(Exception):
    """A capture failed. str(error) is one plain sentence that can be spoken to the user."""


@contextlib.contextmanager
def failures_say(sentence: str) -> Iterator[None]:
    """Turns any failure inside into CaptureError(sentence); a CaptureError passes unchanged."""
    try:
        yield
    except CaptureError:
        raise
    except Exception as exc:
        raise CaptureError(sentence) from exc


@dataclass(frozen=True)
class Rect:
    """A rectangle of the desktop in physical pixels (the coordinates the grabber uses)."""

    left: int
    top: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height

    @property
    def center(self) -> tuple[int, int]:
        return self.left + self.width // 2, self.top + self.height // 2

    def contains(self, x: int, y: int) -> bool:
        return self.left <= x < self.right and self.top <= y < self.bottom

    def intersected(self, other: Rect) -> Rect | None:
        left, top = max(self.left, other.left), max(self.top, other.top)
        right, bottom = min(self.right, other.right), min(self.bottom, other.bottom)
        if right <= left or bottom <= top:
            return None
        return Rect(left, top, right - left, bottom - top)

    def united(self, other: Rect) -> Rect:
        left, top = min(self.left, other.left), min(self.top, other.top)
        return Rect(left, top, max(self.right, other.right) - left, max(self.bottom, other.bottom) - top)


def bounding_rect(screens: Sequence[Rect]) -> Rect:
    """The smallest rectangle holding every monitor: the virtual desktop."""
    total = screens[0]
    for screen in screens[1:]:
        total = total.united(screen)
    return total


@dataclass(frozen=True)
class ActiveWindow:
    rect: Rect  # where its content is, in desktop coordinates
    title: str | None  # None where it cannot be known


def clean_title(title: str | None) -> str | None:
    """A window title on one line, None when it is empty."""
    return " ".join((title or "").split()) or None


def with_window_title(image: Image.Image, title: str | None, whole_screen: bool) -> Image.Image:
    """The picture, carrying the active window's title (when known) for the description."""
    if title:
        image.info[WINDOW_TITLE] = title
        image.info[WHOLE_SCREEN] = whole_screen
    return image
