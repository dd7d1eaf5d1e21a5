"""The region overlay driven the way a user drives it, with real key presses and mouse
drags (xdotool through the X server): the accepted rectangle, what is spoken, the picture."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QRect

from desktop_app.ui.region_overlay import HELP, RegionOverlay
from testkit.blocks import BLUE, RED


@pytest.fixture
def overlay(qtbot, blocks_window) -> RegionOverlay:  # type: ignore[no-untyped-def]
    """An open overlay over the 1280x800 test screen, with colour blocks under it."""
    blocks_window(0, 0, 1280, 800, frameless=True)
    widget = RegionOverlay()
    qtbot.addWidget(widget)
    widget.spoken_log = []  # type: ignore[attr-defined]
    widget.spoken.connect(widget.spoken_log.append)  # type: ignore[attr-defined]
    widget.open()
    qtbot.waitExposed(widget)
    qtbot.waitUntil(widget.isActiveWindow)
    return widget


def xdotool(*args: str) -> Callable[[], None]:
    return lambda: subprocess.run(["xdotool", *args], check=True)


def test_arrows_move_shift_arrows_resize_enter_accepts(qtbot, overlay: RegionOverlay) -> None:  # type: ignore[no-untyped-def]
    assert overlay.spoken_log[0].startswith(HELP)  # type: ignore[attr-defined]
    assert overlay.spoken_log[0].endswith("640 by 400, 320 from the left, 200 from the top.")  # type: ignore[attr-defined]
    with qtbot.waitSignal(overlay.accepted, timeout=5000) as accepted:
        xdotool("key", "--delay", "20", "Right", "Down", "shift+Right", "shift+Right", "ctrl+Left", "Return")()
    assert accepted.args == [QRect(339, 220, 680, 400)]
    assert "660 by 400, 340 from the left, 220 from the top." in overlay.spoken_log  # type: ignore[attr-defined]
    assert overlay.spoken_log[-1] == "Region chosen, 680 by 400."  # type: ignore[attr-defined]
    # The picture is the screen as it was, not the overlay: red left of x=640, blue right of it.
    image = overlay.selected_image
    assert image is not None and image.size == (680, 400)
    assert image.getpixel((640 - 339 - 5, 10)) == RED and image.getpixel((640 - 339 + 5, 10)) == BLUE
    assert not overlay.isVisible()


def test_number_keys_choose_quarters_and_letters_halves(qtbot, overlay: RegionOverlay) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(overlay.accepted, timeout=5000) as accepted:
        xdotool("key", "--delay", "20", "2", "Return")()
    assert accepted.args == [QRect(640, 0, 640, 400)]
    assert "640 by 400, the top right quarter." in overlay.spoken_log  # type: ignore[attr-defined]
    overlay.open()
    qtbot.waitUntil(overlay.isActiveWindow)
    with qtbot.waitSignal(overlay.accepted, timeout=5000) as accepted:
        xdotool("key", "--delay", "20", "b", "Return")()
    assert accepted.args == [QRect(0, 400, 1280, 400)]


def test_escape_cancels(qtbot, overlay: RegionOverlay) -> None:  # type: ignore[no-untyped-def]
    with qtbot.assertNotEmitted(overlay.accepted), qtbot.waitSignal(overlay.cancelled, timeout=5000):
        xdotool("key", "Escape")()
    # The overlay says nothing itself: its owner says "Region cancelled." once (tests/app).
    assert not any("cancelled" in s for s in overlay.spoken_log)  # type: ignore[attr-defined]
    assert not overlay.isVisible()


def test_mouse_drag_chooses_the_dragged_rectangle(qtbot, overlay: RegionOverlay) -> None:  # type: ignore[no-untyped-def]
    xdotool("mousemove", "600", "300", "mousedown", "1", "mousemove", "650", "340", "mousemove", "700", "380",
            "mouseup", "1")()
    qtbot.waitUntil(lambda: "100 by 80, 600 from the left, 300 from the top." in overlay.spoken_log)  # type: ignore[attr-defined]
    with qtbot.waitSignal(overlay.accepted, timeout=5000) as accepted:
        xdotool("key", "Return")()
    assert accepted.args == [QRect(600, 300, 100, 80)]



# A fresh process for checks that need one: a scale factor, or an AT-SPI listener that must
# exist before the QApplication starts (Qt reads the listeners at start, as with Orca).
_OVERLAY_CHILD = """
import json
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from desktop_app.ui.region_overlay import RegionOverlay
overlay = RegionOverlay()
def accepted(rect):
    image = overlay.selected_image
    print(json.dumps({"dpr": overlay.devicePixelRatio(), "logical": list(overlay.selection().getRect()),
                      "rect": list(rect.getRect()), "size": list(image.size),
                      "left": image.getpixel((5, 5)), "right": image.getpixel((image.width - 5, 5))}), flush=True)
    QTimer.singleShot(300, app.quit)  # let the last announcement leave
overlay.accepted.connect(accepted)
overlay.open()
def ready():
    if overlay.isActiveWindow():
        print("ready", flush=True)
    else:
        QTimer.singleShot(50, ready)
ready()
app.exec()
"""


def run_overlay_child(keys: list[str], **env: str) -> dict:  # type: ignore[type-arg]
    """Opens the overlay in a child process, presses `keys` (ending with Return), returns
    what it accepted."""
    import json
    import os
    import sys

    child = subprocess.Popen([sys.executable, "-c", _OVERLAY_CHILD], env={**os.environ, **env},
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        xdotool("key", "--delay", "50", *keys)()
        return json.loads(child.stdout.readline())
    finally:
        child.wait(timeout=10)


def test_scaled_desktop_gives_real_pixels(qtbot, blocks_window) -> None:  # type: ignore[no-untyped-def]
    """At 200 % scaling the user sees a 640x400 logical screen; the accepted rectangle and the
    picture are in the screen's real 1280x800 pixels."""
    blocks_window(0, 0, 1280, 800, frameless=True)
    result = run_overlay_child(["3", "Return"], QT_SCALE_FACTOR="2")  # bottom left quarter
    assert result["dpr"] == 2 and result["logical"] == [0, 200, 320, 200]
    assert result["rect"] == [0, 400, 640, 400] and result["size"] == [640, 400]
    # 640 real pixels wide is exactly the red half of the blocks, so both edges are red.
    assert tuple(result["left"]) == RED and tuple(result["right"]) == RED


_ANNOUNCEMENT_LISTENER = r"""
import pyatspi
from gi.repository import GLib

pyatspi.Registry.registerEventListener(lambda event: print(event.any_data, flush=True), "object:announcement")
GLib.timeout_add(300, lambda: print("listening", flush=True) and False)
GLib.timeout_add_seconds(30, lambda: pyatspi.Registry.stop())
pyatspi.Registry.start()
"""


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="needs Debian's python3 with pyatspi")
def test_a_screen_reader_hears_the_region_change() -> None:
    """The sentences reach a screen reader listening on the accessibility bus."""
    listener = subprocess.Popen(["/usr/bin/python3", "-c", _ANNOUNCEMENT_LISTENER], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
    heard: list[str] = []
    try:
        assert listener.stdout is not None and listener.stdout.readline().strip() == "listening"
        reader = threading.Thread(target=lambda: heard.extend(line.strip() for line in listener.stdout), daemon=True)
        reader.start()
        run_overlay_child(["Down", "Return"])
    finally:
        listener.terminate()
        listener.wait(timeout=5)
        reader.join(timeout=5)
    # (The help spoken on opening may go out before this fresh process has joined the bus;
    # in the running app it has joined long before. The `spoken` signal carries it either way.)
    assert "640 by 400, 320 from the left, 220 from the top." in heard
    assert heard[-1] == "Region chosen, 640 by 400."
