"""One contract for every capture backend the app can be given, run against each that can run
here: X11 on the test Xvfb (with openbox), and Wayland through the desktop portal, where the
fake portal hands out that same Xvfb desktop. Whatever the backend, the user gets an RGB
picture of the size asked for with the pixels that were on screen, the active window's title
where the platform tells it, and otherwise one spoken sentence, never a crash.

(The Windows and macOS backends need their platforms; they are held to the same Protocol.)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from PIL import Image

from desktop_app.capture.base import CaptureBackend, choose_backend
from desktop_app.capture.region import capture_region
from desktop_app.capture.screen import capture_screen
from desktop_app.capture.types import SCREEN_MODES, WHOLE_SCREEN, WINDOW_TITLE, CaptureError, Rect
from desktop_app.capture.window import capture_active_window
from desktop_app.hotkeys.manager import choose_backend as choose_hotkey_backend
from testkit.blocks import BLUE, RED
from tests.capture.fake_portal import FakePortal

SCREEN = (1280, 800)  # the test Xvfb
WINDOW = Rect(200, 150, 400, 300)  # the colour blocks: red left of x=400, blue right of it


def is_spoken_sentence(text: str) -> bool:
    """One line a screen reader can say: a capital first, a full stop last, no exception text."""
    return (
        bool(text) and text[0].isupper() and text.endswith(".") and "\n" not in text
        and "Error" not in text and "Traceback" not in text
    )


@dataclass
class Desktop:
    """A running desktop and what its backend can tell."""

    backend_name: str
    sees_windows: bool
    break_it: Callable[[], None]  # makes the backend's desktop unreachable


@pytest.fixture(params=["x11", "wayland"])
def desktop(request, blocks_window, monkeypatch) -> Iterator[Desktop]:  # type: ignore[no-untyped-def]
    blocks_window(WINDOW.left, WINDOW.top, WINDOW.width, WINDOW.height)
    if request.param == "x11":
        yield Desktop("X11", True, lambda: monkeypatch.setenv("DISPLAY", ":65000"))  # no such server
        return
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        pytest.skip("needs a D-Bus session bus (run under dbus-run-session)")
    from desktop_app.capture.backends.x11 import X11Backend

    portal = FakePortal(screen=X11Backend().grab_desktop)
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    closed = False

    def close_portal() -> None:
        nonlocal closed
        portal.close()
        closed = True

    try:
        yield Desktop("Wayland portal", False, close_portal)
    finally:
        if not closed:
            portal.close()


def test_the_session_chooses_the_backend_for_capture_and_hotkeys_alike(desktop: Desktop) -> None:
    backend = choose_backend()
    assert isinstance(backend, CaptureBackend) and backend.name == desktop.backend_name
    hotkeys = choose_hotkey_backend()
    assert hotkeys is not None and hotkeys.name == desktop.backend_name


def test_every_screen_mode_gives_the_screens_pixels(desktop: Desktop) -> None:
    for mode in SCREEN_MODES:
        image = capture_screen(mode)
        assert isinstance(image, Image.Image) and image.mode == "RGB" and image.size == SCREEN
        assert image.getpixel((WINDOW.left + 50, 300)) == RED and image.getpixel((WINDOW.right - 50, 300)) == BLUE
        if desktop.sees_windows:
            assert image.info[WINDOW_TITLE] == "Colour blocks" and image.info[WHOLE_SCREEN] is True


def test_a_region_gives_exactly_that_rectangle(desktop: Desktop) -> None:
    image = capture_region(Rect(350, 200, 100, 50))
    assert image.mode == "RGB" and image.size == (100, 50)
    assert image.getpixel((10, 10)) == RED and image.getpixel((90, 40)) == BLUE
    assert capture_region(Rect(1200, 700, 200, 200)).size == (80, 100)  # cut to what is on screen


def test_the_window_gives_its_content_and_title_or_says_why_not(desktop: Desktop) -> None:
    if not desktop.sees_windows:
        with pytest.raises(CaptureError) as caught:
            capture_active_window()
        assert is_spoken_sentence(str(caught.value)) and "window" in str(caught.value)
        return
    image = capture_active_window()
    assert image.mode == "RGB" and image.size == (WINDOW.width, WINDOW.height)
    assert image.getpixel((150, 100)) == RED and image.getpixel((250, 100)) == BLUE
    assert image.info[WINDOW_TITLE] == "Colour blocks" and image.info[WHOLE_SCREEN] is False


def test_a_region_off_every_screen_is_a_sentence(desktop: Desktop) -> None:
    with pytest.raises(CaptureError) as caught:
        capture_region(Rect(5000, 5000, 10, 10))
    assert str(caught.value) == "The chosen region is not on any screen."


def test_an_unreachable_desktop_is_a_sentence_for_every_capture(desktop: Desktop) -> None:
    desktop.break_it()
    for capture in (lambda: capture_screen("all"), lambda: capture_screen("focused"), capture_active_window,
                    lambda: capture_region(Rect(350, 200, 100, 50))):
        with pytest.raises(CaptureError) as caught:
            capture()
        assert is_spoken_sentence(str(caught.value)), str(caught.value)
