"""Wayland capture through the desktop portal: Lookaloud's real D-Bus exchange against a
stand-in portal on the test session bus (only the desktop is faked)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from desktop_app.capture.backends import wayland
from desktop_app.capture.screen import grab
from desktop_app.capture.types import CaptureError, Rect
from desktop_app.platform import RESPONSE_CANCELLED, request_path
from tests.capture.fake_portal import FakePortal

pytestmark = pytest.mark.skipif(
    not os.environ.get("DBUS_SESSION_BUS_ADDRESS"), reason="needs a D-Bus session bus (run under dbus-run-session)"
)


@pytest.fixture
def shot_file(tmp_path: Path) -> Path:
    path = tmp_path / "Screenshot.png"
    picture = Image.new("RGB", (300, 200), (0, 90, 0))
    picture.paste((240, 240, 0), (150, 100, 300, 200))
    picture.save(path)
    return path


@pytest.fixture
def fake_portal(shot_file: Path) -> Iterator[FakePortal]:
    service = FakePortal(screenshot_file=shot_file)
    yield service
    service.close()


def test_portal_screenshot_returns_the_pictures_pixels_and_removes_the_file(fake_portal: FakePortal, shot_file: Path) -> None:
    image = wayland.screenshot(timeout=10)
    assert image.mode == "RGB" and image.size == (300, 200)
    assert image.getpixel((10, 10)) == (0, 90, 0) and image.getpixel((290, 190)) == (240, 240, 0)
    assert fake_portal.screenshot_options["interactive"] == ("b", False)
    assert not shot_file.exists()


def test_wayland_session_grabs_regions_through_the_portal(fake_portal: FakePortal, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    image = grab(Rect(140, 90, 20, 20))
    assert image.size == (20, 20)
    assert image.getpixel((0, 0)) == (0, 90, 0) and image.getpixel((19, 19)) == (240, 240, 0)


def test_refused_screenshot_is_one_spoken_sentence(shot_file: Path) -> None:
    service = FakePortal(screenshot_file=shot_file, screenshot_code=RESPONSE_CANCELLED)
    try:
        with pytest.raises(CaptureError) as caught:
            wayland.screenshot(timeout=10)
    finally:
        service.close()
    assert str(caught.value) == "The screenshot was cancelled or not allowed."


def test_no_portal_on_the_bus_is_one_spoken_sentence() -> None:
    with pytest.raises(CaptureError) as caught:
        wayland.screenshot(timeout=10)
    assert str(caught.value) == wayland.NO_PORTAL


def test_request_path_follows_the_portal_rule() -> None:
    assert request_path(":1.42", "tok") == "/org/freedesktop/portal/desktop/request/1_42/tok"
