"""Real windows on the session's Xvfb, captured with mss and read back: what a user hears for
Read text and for Describe on an application window."""

from __future__ import annotations

import mss
import numpy as np
import pytest
from PIL import Image
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QCheckBox, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from desktop_app.ocr import PictureKind, classify_picture, compose_description, read_text
from tests.ocr.conftest import char_accuracy

TITLE = "Printer Settings"
BODY = ["Choose the paper size and the number of copies.", "Changes apply to the next print job."]


def _grab(widget: QWidget) -> Image.Image:
    top_left = widget.mapToGlobal(widget.rect().topLeft())
    region = {"left": top_left.x(), "top": top_left.y(), "width": widget.width(), "height": widget.height()}
    with mss.MSS() as screen:
        shot = screen.grab(region)
    return Image.frombytes("RGB", shot.size, shot.bgra, "raw", "BGRX")


def _painted(image: Image.Image) -> bool:
    """The heading (top rows) and the button (bottom rows) are both drawn in dark ink."""
    pixels = np.asarray(image.convert("L"))
    return bool(pixels[:50].min() < 80 and pixels[-60:].min() < 80)


@pytest.fixture
def window_picture(qtbot) -> Image.Image:  # type: ignore[no-untyped-def]
    """A settings window shown on Xvfb and captured from the screen once it has settled."""
    window = QWidget()
    window.setWindowTitle(TITLE)
    layout = QVBoxLayout(window)
    heading = QLabel(TITLE)
    font = QFont("DejaVu Sans")
    font.setPixelSize(26)
    font.setBold(True)
    heading.setFont(font)
    layout.addWidget(heading)
    for text in BODY:
        label = QLabel(text)
        label.setFont(QFont("DejaVu Sans", 11))
        layout.addWidget(label)
    layout.addWidget(QLineEdit("2 copies"))
    layout.addWidget(QCheckBox("Print on both sides"))
    layout.addWidget(QPushButton("Save changes"))
    window.resize(520, 300)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    # Exposed is not painted yet on X11, and the window manager may still move the window:
    # wait for a fully painted picture that two captures in a row agree on.
    shots: list[Image.Image] = []

    def settled() -> bool:
        shots.append(_grab(window))
        return _painted(shots[-1]) and len(shots) > 1 and shots[-1].tobytes() == shots[-2].tobytes()

    qtbot.waitUntil(settled, timeout=5000)
    return shots[-1]


def test_read_text_reads_a_real_window_back(window_picture: Image.Image) -> None:
    result = read_text(window_picture)
    lines = [line.text for line in result.lines]
    assert char_accuracy(TITLE, lines[0]) > 0.9, lines
    assert char_accuracy(" ".join(BODY), " ".join(lines[1:3])) > 0.95, lines
    assert any("Save changes" in line for line in lines), lines


def test_describe_of_a_window_is_a_screenshot_led_by_its_heading(window_picture: Image.Image) -> None:
    image = window_picture
    ocr = read_text(image)
    kind = classify_picture(image, ocr)
    assert kind.kind is PictureKind.SCREENSHOT, kind
    spoken = compose_description("a screenshot of a computer screen", kind, ocr)
    # No window title was given (as for a region of it): the heading is read, never called a title.
    assert spoken.startswith(f"A screenshot. It says: {TITLE}."), spoken
    assert "The title is" not in spoken
    assert "Choose the paper size" in spoken
