"""Screen, window and region capture on real X servers: the pictures hold the pixels that
were on screen, at the size they were on screen."""

from __future__ import annotations

import subprocess

import pytest
from Xlib import X
from Xlib import display as xdisplay

from desktop_app.capture.region import capture_region
from desktop_app.capture.screen import capture_screen, grab, monitor_at, monitors
from desktop_app.capture.types import WHOLE_SCREEN, WINDOW_TITLE, CaptureError, Rect
from desktop_app.capture.window import active_window_rect, capture_active_window
from testkit.blocks import BLUE, GREEN, RED, WHITE


def _dark_pixels(image, box) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for value in image.crop(box).convert("L").tobytes() if value < 70)


def test_describe_window_captures_exactly_the_active_windows_content(blocks_window) -> None:  # type: ignore[no-untyped-def]
    blocks_window(200, 150, 400, 300)
    assert active_window_rect() == Rect(200, 150, 400, 300)
    image = capture_active_window()
    assert image.mode == "RGB" and image.size == (400, 300)
    assert image.getpixel((150, 100)) == RED
    assert image.getpixel((300, 100)) == BLUE
    assert image.getpixel((200, 280)) == GREEN
    # Corners belong to the window, not to the desktop or a frame around it.
    assert image.getpixel((399, 100)) == BLUE and image.getpixel((130, 0)) == RED
    # The word in the white box is really there: dark strokes on white.
    assert image.getpixel((2, 2)) == WHITE
    assert _dark_pixels(image, (0, 0, 120, 50)) > 100
    # The picture carries the window's title from the window system, for the description.
    assert image.info[WINDOW_TITLE] == "Colour blocks" and image.info[WHOLE_SCREEN] is False


def test_describe_screen_focused_and_all_hold_the_whole_monitor(blocks_window) -> None:  # type: ignore[no-untyped-def]
    blocks_window(600, 300, 300, 200)
    (screen,) = monitors()
    assert screen == Rect(0, 0, 1280, 800)
    for mode in ("focused", "pointer", "all"):
        image = capture_screen(mode)
        assert image.size == (1280, 800)
        assert image.getpixel((650, 400)) == RED and image.getpixel((850, 400)) == BLUE
        assert image.info[WINDOW_TITLE] == "Colour blocks" and image.info[WHOLE_SCREEN] is True


def test_region_capture_holds_the_rectangle_asked_for(blocks_window) -> None:  # type: ignore[no-untyped-def]
    blocks_window(100, 100, 400, 300)
    image = capture_region(Rect(250, 200, 100, 50))
    assert image.size == (100, 50)
    assert image.getpixel((10, 10)) == RED and image.getpixel((90, 40)) == BLUE
    # A region that runs off the screen is cut to what is on it.
    assert capture_region(Rect(1200, 700, 200, 200)).size == (80, 100)
    with pytest.raises(CaptureError):
        capture_region(Rect(5000, 5000, 10, 10))


def _coloured_x_window(disp, x: int, y: int, w: int, h: int, rgb: tuple[int, int, int]):  # type: ignore[no-untyped-def]
    screen = disp.screen()
    pixel = (rgb[0] << 16) | (rgb[1] << 8) | rgb[2]
    window = screen.root.create_window(
        x, y, w, h, 0, screen.root_depth, X.InputOutput, X.CopyFromParent,
        background_pixel=pixel, override_redirect=True,
    )
    window.map()
    return window


def test_screen_modes_pick_the_right_monitor_of_two(two_monitor_display: str) -> None:
    disp = xdisplay.Display(two_monitor_display)
    try:
        _coloured_x_window(disp, 0, 0, 800, 600, RED)
        right = _coloured_x_window(disp, 800, 0, 800, 600, BLUE)
        disp.sync()
        assert monitors() == [Rect(0, 0, 800, 600), Rect(800, 0, 800, 600)]
        assert monitor_at(1200, 10) == Rect(800, 0, 800, 600)

        # Pointer over the left monitor: that monitor alone.
        subprocess.run(["xdotool", "mousemove", "100", "100"], check=True, env={"DISPLAY": two_monitor_display})
        image = capture_screen("pointer")
        assert image.size == (800, 600) and image.getpixel((400, 300)) == RED

        # The focused window is on the right monitor (as a window manager would announce it),
        # while the pointer stays on the left: "focused" follows the window.
        root = disp.screen().root
        root.change_property(disp.intern_atom("_NET_ACTIVE_WINDOW"), disp.intern_atom("WINDOW"), 32, [right.id])
        disp.sync()
        image = capture_screen("focused")
        assert image.size == (800, 600) and image.getpixel((400, 300)) == BLUE

        image = capture_screen("all")
        assert image.size == (1600, 600)
        assert image.getpixel((10, 10)) == RED and image.getpixel((1590, 590)) == BLUE
    finally:
        disp.close()


def test_no_active_window_is_a_spoken_sentence_not_a_crash(two_monitor_display: str) -> None:
    with pytest.raises(CaptureError) as caught:
        capture_active_window()
    assert str(caught.value) == "No window is active, so there is nothing to describe. Try Describe screen instead."


def test_grab_of_nothing_says_so() -> None:
    with pytest.raises(CaptureError, match="empty"):
        grab(Rect(0, 0, 0, 10))
