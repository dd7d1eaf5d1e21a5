"""Region geometry the user hears and steers: presets, moving and resizing inside the screen,
and the sentence that says where the region is."""

from __future__ import annotations

from desktop_app.capture.region import (
    MIN_SIZE,
    Preset,
    describe_rect,
    from_corners,
    initial_rect,
    moved,
    preset_rect,
    resized,
)
from desktop_app.capture.types import Rect

SCREEN = Rect(0, 0, 1281, 801)  # odd sizes: no pixel may be lost between halves
SECOND = Rect(1920, 0, 1280, 800)


def test_halves_and_quarters_tile_the_screen_without_gaps() -> None:
    left, right = preset_rect(Preset.LEFT_HALF, SCREEN), preset_rect(Preset.RIGHT_HALF, SCREEN)
    assert left.right == right.left and left.width + right.width == SCREEN.width
    top, bottom = preset_rect(Preset.TOP_HALF, SCREEN), preset_rect(Preset.BOTTOM_HALF, SCREEN)
    assert top.bottom == bottom.top and top.height + bottom.height == SCREEN.height
    quarters = [preset_rect(p, SCREEN) for p in (Preset.TOP_LEFT, Preset.TOP_RIGHT, Preset.BOTTOM_LEFT, Preset.BOTTOM_RIGHT)]
    assert sum(q.width * q.height for q in quarters) == SCREEN.width * SCREEN.height
    assert preset_rect(Preset.BOTTOM_RIGHT, SECOND) == Rect(2560, 400, 640, 400)


def test_moving_stops_at_the_screen_edge() -> None:
    start = Rect(0, 0, 200, 100)
    assert moved(start, -20, -20, SCREEN) == start
    assert moved(start, 5000, 0, SCREEN) == Rect(1081, 0, 200, 100)


def test_resizing_keeps_the_corner_and_a_visible_size() -> None:
    start = Rect(100, 100, 200, 100)
    assert resized(start, 20, 0, SCREEN) == Rect(100, 100, 220, 100)
    assert resized(start, -5000, -5000, SCREEN) == Rect(100, 100, MIN_SIZE, MIN_SIZE)
    assert resized(start, 5000, 0, SCREEN) == Rect(100, 100, 1181, 100)


def test_a_drag_in_any_direction_gives_the_same_rectangle() -> None:
    assert from_corners(300, 250, 100, 100, SCREEN) == from_corners(100, 100, 300, 250, SCREEN) == Rect(100, 100, 200, 150)


def test_the_spoken_sentence_names_presets_and_positions() -> None:
    assert describe_rect(preset_rect(Preset.LEFT_HALF, SECOND), SECOND) == "640 by 800, the left half."
    assert describe_rect(Rect(2000, 50, 300, 200), SECOND) == "300 by 200, 80 from the left, 50 from the top."
    assert initial_rect(SECOND) == Rect(2240, 200, 640, 400)
