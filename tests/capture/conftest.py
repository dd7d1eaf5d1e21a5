"""Capture test fixtures: windows painted with known colour blocks and text on the session's
Xvfb, a second Xvfb with two RandR monitors, and the fake desktop portal."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import Qt
from Xlib.protocol import rq

from testkit.blocks import RED, BlocksWindow


@pytest.fixture
def blocks_window(qtbot) -> Callable[..., BlocksWindow]:  # type: ignore[no-untyped-def]
    """Shows a BlocksWindow with its content at (x, y), w x h, active, and waits until the X
    server holds its pixels. `frameless` for one that covers the whole screen."""
    from desktop_app.capture.screen import grab
    from desktop_app.capture.types import Rect

    shown: list[BlocksWindow] = []  # qtbot holds widgets weakly; the test may drop its reference

    def show(x: int, y: int, w: int, h: int, frameless: bool = False) -> BlocksWindow:
        window = BlocksWindow(None, Qt.WindowType.FramelessWindowHint if frameless else Qt.WindowType.Window)
        shown.append(window)
        window.setWindowTitle("Colour blocks")
        qtbot.addWidget(window)
        window.resize(w, h)
        window.show()
        qtbot.waitExposed(window)
        # The window manager decides where frames go; move the content to the exact spot.
        window.move(x, y)
        window.activateWindow()
        target = Rect(x + w // 4, y + h // 2, 1, 1)
        qtbot.waitUntil(lambda: window.geometry().topLeft().x() == x and grab(target).getpixel((0, 0)) == RED)
        qtbot.waitUntil(window.isActiveWindow)
        return window

    return show


class _SetMonitor(rq.Request):
    """RRSetMonitor with the monitor spelled out: python-xlib 0.33's own set_monitor cannot
    pack its nested struct (what `xrandr --setmonitor NAME 800/300x600/200+X+0 none` sends)."""

    _request = rq.Struct(
        rq.Card8("opcode"), rq.Opcode(43), rq.RequestLength(), rq.Window("window"),
        rq.Card32("name"), rq.Bool("primary"), rq.Bool("automatic"), rq.LengthOf("outputs", 2),
        rq.Int16("x"), rq.Int16("y"), rq.Card16("width"), rq.Card16("height"),
        rq.Card32("mm_width"), rq.Card32("mm_height"), rq.List("outputs", rq.Card32Obj),
    )


@pytest.fixture
def two_monitor_display(monkeypatch) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A second Xvfb, 1600x600, split by RandR 1.5 into two monitors of 800x600 (as a
    desktop with two screens side by side); DISPLAY points at it for the test. -noreset keeps
    the monitors when the last client leaves, which would otherwise reset the server."""
    from Xlib import display as xdisplay

    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x600x24", "-nolisten", "tcp", "+extension", "RANDR", "-noreset"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        name = f":{f.readline().strip()}"
    try:
        disp = xdisplay.Display(name)
        root = disp.screen().root
        # The left monitor takes over Xvfb's one output (replacing the automatic monitor that
        # covers the whole screen); the right one has none, like `xrandr --setmonitor ... none`.
        output = root.xrandr_get_screen_resources().outputs[0]
        for index, x in enumerate((0, 800)):
            _SetMonitor(
                display=disp.display, opcode=disp.display.get_extension_major("RANDR"), window=root,
                name=disp.intern_atom(f"TEST-{index}"), primary=index == 0, automatic=False,
                outputs=[output] if index == 0 else [],
                x=x, y=0, width=800, height=600, mm_width=300, mm_height=200,
            )
        disp.sync()
        monkeypatch.setenv("DISPLAY", name)
        yield name
        disp.close()
    finally:
        proc.terminate()
        proc.wait(timeout=5)
