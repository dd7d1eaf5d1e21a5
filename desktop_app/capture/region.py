"""Region geometry: presets (halves, quarters, whole screen), moving and resizing a rectangle
inside its screen, the sentence that tells the user where it is, and the live grab of it.

Qt-free, so the overlay (ui/region_overlay.py) and a CLI `--region` share one set of rules.
"""

from __future__ import annotations

from enum import Enum

from PIL import Image

from desktop_app.capture.screen import grab_visible
from desktop_app.capture.types import Rect

MIN_SIZE = 16  # smaller than this, a model sees nothing useful and the outline cannot be seen


class Preset(Enum):
    FULL = "the whole screen"
    LEFT_HALF = "the left half"
    RIGHT_HALF = "the right half"
    TOP_HALF = "the top half"
    BOTTOM_HALF = "the bottom half"
    TOP_LEFT = "the top left quarter"
    TOP_RIGHT = "the top right quarter"
    BOTTOM_LEFT = "the bottom left quarter"
    BOTTOM_RIGHT = "the bottom right quarter"

    @property
    def spoken(self) -> str:
        return self.value


def preset_rect(preset: Preset, bounds: Rect) -> Rect:
    """The part of `bounds` a preset names; odd pixels go to the right and bottom parts."""
    half_w, half_h = bounds.width // 2, bounds.height // 2
    left, top = bounds.left, bounds.top
    right_w, bottom_h = bounds.width - half_w, bounds.height - half_h
    return {
        Preset.FULL: bounds,
        Preset.LEFT_HALF: Rect(left, top, half_w, bounds.height),
        Preset.RIGHT_HALF: Rect(left + half_w, top, right_w, bounds.height),
        Preset.TOP_HALF: Rect(left, top, bounds.width, half_h),
        Preset.BOTTOM_HALF: Rect(left, top + half_h, bounds.width, bottom_h),
        Preset.TOP_LEFT: Rect(left, top, half_w, half_h),
        Preset.TOP_RIGHT: Rect(left + half_w, top, right_w, half_h),
        Preset.BOTTOM_LEFT: Rect(left, top + half_h, half_w, bottom_h),
        Preset.BOTTOM_RIGHT: Rect(left + half_w, top + half_h, right_w, bottom_h),
    }[preset]


def initial_rect(bounds: Rect) -> Rect:
    """Where a new selection starts: the middle quarter, so every arrow key can move it."""
    width, height = bounds.width // 2, bounds.height // 2
    return Rect(bounds.left + (bounds.width - width) // 2, bounds.top + (bounds.height - height) // 2, width, height)


def clamp(rect: Rect, bounds: Rect) -> Rect:
    """`rect` made at least MIN_SIZE, at most `bounds`, and slid back inside `bounds`."""
    width = max(min(rect.width, bounds.width), min(MIN_SIZE, bounds.width))
    height = max(min(rect.height, bounds.height), min(MIN_SIZE, bounds.height))
    left = min(max(rect.left, bounds.left), bounds.right - width)
    top = min(max(rect.top, bounds.top), bounds.bottom - height)
    return Rect(left, top, width, height)


def moved(rect: Rect, dx: int, dy: int, bounds: Rect) -> Rect:
    return clamp(Rect(rect.left + dx, rect.top + dy, rect.width, rect.height), bounds)


def resized(rect: Rect, dw: int, dh: int, bounds: Rect) -> Rect:
    """Grows or shrinks from the top-left corner, which stays put unless the edge of the
    screen pushes it back."""
    width = max(MIN_SIZE, min(rect.width + dw, bounds.right - rect.left))
    height = max(MIN_SIZE, min(rect.height + dh, bounds.bottom - rect.top))
    return clamp(Rect(rect.left, rect.top, width, height), bounds)


def from_corners(x0: int, y0: int, x1: int, y1: int, bounds: Rect) -> Rect:
    """The rectangle a mouse drag between two points spans, in either direction."""
    left, top = min(x0, x1), min(y0, y1)
    return clamp(Rect(left, top, abs(x1 - x0), abs(y1 - y0)), bounds)


def describe_rect(rect: Rect, bounds: Rect) -> str:
    """One sentence for the screen reader: size first (what changes most), then position."""
    for preset in Preset:
        if preset_rect(preset, bounds) == rect:
            return f"{rect.width} by {rect.height}, {preset.spoken}."
    return (
        f"{rect.width} by {rect.height}, {rect.left - bounds.left} from the left, "
        f"{rect.top - bounds.top} from the top."
    )


def capture_region(rect: Rect) -> Image.Image:
    """A live picture of a rectangle of the desktop; the parts off every screen are left out."""
    return grab_visible(rect, "The chosen region is not on any screen.")
