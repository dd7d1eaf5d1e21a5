"""The region overlay: a full-screen window over one monitor, showing the screen as it was when
it opened, where the user chooses a rectangle with the mouse or the keyboard and hears its
size and position as it changes.

Keys: arrows move (Ctrl+arrows by one pixel), Shift+arrows resize (Ctrl+Shift by one pixel),
1 2 3 4 the quarters (top left, top right, bottom left, bottom right), L R T B the halves,
F the whole screen, H repeats the help, Enter accepts, Escape cancels.

Signals: `spoken(str)` for the speech layer (the same text also goes to the screen reader as
an accessibility announcement), `accepted(QRect)` in the coordinates capture.grab() takes
(physical pixels on X11 and Windows, points on macOS), `cancelled()`: the overlay says nothing
itself then, its owner says the one sentence (the app: "Region cancelled."), so that the user
hears it once. After `accepted`,
`selected_image` holds the chosen part of the screen as it was when the overlay opened (the
real pixels, without the overlay itself).
"""

from __future__ import annotations

import sys

from PIL import Image
from PySide6.QtCore import QPoint, QRect, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QScreen,
)
from PySide6.QtWidgets import QWidget

from desktop_app.capture import region
from desktop_app.capture.screen import grab
from desktop_app.capture.types import Rect
from desktop_app.ui.announce import Announcer

STEP = 20  # pixels per arrow press: big enough to cross a screen in a few dozen presses
HELP = (
    "Choose a region. Arrow keys move it, Shift with arrow keys resizes it, Control makes the "
    "steps one pixel. 1 to 4 choose a quarter, L, R, T and B a half, F the whole screen. "
    "Enter describes the region, Escape cancels."
)
_PRESET_KEYS = {
    Qt.Key.Key_1: region.Preset.TOP_LEFT,
    Qt.Key.Key_2: region.Preset.TOP_RIGHT,
    Qt.Key.Key_3: region.Preset.BOTTOM_LEFT,
    Qt.Key.Key_4: region.Preset.BOTTOM_RIGHT,
    Qt.Key.Key_L: region.Preset.LEFT_HALF,
    Qt.Key.Key_R: region.Preset.RIGHT_HALF,
    Qt.Key.Key_T: region.Preset.TOP_HALF,
    Qt.Key.Key_B: region.Preset.BOTTOM_HALF,
    Qt.Key.Key_F: region.Preset.FULL,
}
_ARROWS = {
    Qt.Key.Key_Left: (-1, 0),
    Qt.Key.Key_Right: (1, 0),
    Qt.Key.Key_Up: (0, -1),
    Qt.Key.Key_Down: (0, 1),
}


def pil_to_qimage(image: Image.Image) -> QImage:
    rgb = image.convert("RGB")
    data = rgb.tobytes()
    return QImage(data, rgb.width, rgb.height, rgb.width * 3, QImage.Format.Format_RGB888).copy()


def screen_grab_rect(screen: QScreen) -> Rect:
    """A QScreen in grab coordinates. Qt keeps each screen's top-left corner in device pixels
    and scales only its size, so only the size needs the device pixel ratio."""
    geometry = screen.geometry()
    scale = 1.0 if sys.platform == "darwin" else screen.devicePixelRatio()
    return Rect(geometry.x(), geometry.y(), round(geometry.width() * scale), round(geometry.height() * scale))


class RegionOverlay(QWidget):
    spoken = Signal(str)
    accepted = Signal(QRect)
    cancelled = Signal()

    def __init__(self, screen: QScreen | None = None, background: Image.Image | None = None) -> None:
        """`screen`: the monitor to cover (default: the one under the mouse pointer).
        `background`: that monitor's picture in grab pixels; taken now when not given.
        Raises CaptureError when the screen cannot be captured."""
        super().__init__(None, Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint)
        self._screen = screen or QGuiApplication.screenAt(self.cursor().pos()) or QGuiApplication.primaryScreen()
        self._grab_rect = screen_grab_rect(self._screen)
        self._background = background if background is not None else grab(self._grab_rect)
        self._pixmap_image = pil_to_qimage(self._background)
        geometry = self._screen.geometry()
        self._bounds = Rect(0, 0, geometry.width(), geometry.height())  # logical, widget coordinates
        self._rect = region.initial_rect(self._bounds)
        self._drag_start: QPoint | None = None
        self.selected_image: Image.Image | None = None
        # Announced from the overlay itself: screen readers ignore background windows.
        self._announcer = Announcer(self)
        self.setWindowTitle("Lookaloud region selection")
        self.setAccessibleName("Region selection")
        self.setAccessibleDescription(HELP)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.setGeometry(geometry)

    # Public API

    def open(self) -> None:
        """Shows the overlay over its screen, takes the keyboard and speaks the help."""
        self.setScreen(self._screen)
        self.showFullScreen()
        self.raise_()
        self.activateWindow()
        self.setFocus()
        self._announce(f"{HELP} {self.describe()}")

    def selection(self) -> QRect:
        """The chosen rectangle in the overlay's own (logical) coordinates."""
        r = self._rect
        return QRect(r.left, r.top, r.width, r.height)

    def set_selection(self, rect: Rect) -> None:
        self._rect = region.clamp(rect, self._bounds)
        self.update()
        self._announce(self.describe())

    def describe(self) -> str:
        return region.describe_rect(self._rect, self._bounds)

    def grab_selection(self) -> Rect:
        """The selection in grab coordinates: screen origin plus the scaled offset."""
        scale_x = self._grab_rect.width / self._bounds.width
        scale_y = self._grab_rect.height / self._bounds.height
        left = round(self._rect.left * scale_x)
        top = round(self._rect.top * scale_y)
        right = round(self._rect.right * scale_x)
        bottom = round(self._rect.bottom * scale_y)
        return Rect(self._grab_rect.left + left, self._grab_rect.top + top, right - left, bottom - top)

    # Keyboard and mouse

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, mods = event.key(), event.modifiers()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._accept()
        elif key == Qt.Key.Key_Escape:
            self.hide()
            self.cancelled.emit()  # said by whoever opened the overlay, once
        elif key in _ARROWS:
            dx, dy = _ARROWS[Qt.Key(key)]
            step = 1 if mods & Qt.KeyboardModifier.ControlModifier else STEP
            if mods & Qt.KeyboardModifier.ShiftModifier:
                self.set_selection(region.resized(self._rect, dx * step, dy * step, self._bounds))
            else:
                self.set_selection(region.moved(self._rect, dx * step, dy * step, self._bounds))
        elif key in _PRESET_KEYS:
            self.set_selection(region.preset_rect(_PRESET_KEYS[Qt.Key(key)], self._bounds))
        elif key == Qt.Key.Key_H:
            self._announce(f"{HELP} {self.describe()}")
        else:
            super().keyPressEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag_start = event.position().toPoint()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag_start is not None:
            end = event.position().toPoint()
            self._rect = region.from_corners(self._drag_start.x(), self._drag_start.y(), end.x(), end.y(), self._bounds)
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag_start is not None and event.button() == Qt.MouseButton.LeftButton:
            self.mouseMoveEvent(event)
            self._drag_start = None
            self._announce(self.describe())

    # Drawing: the frozen screen, dimmed outside the selection, a thick two-colour outline
    # that shows on any background, and the size in large type for low-vision users.

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.drawImage(self.rect(), self._pixmap_image)
        selection = self.selection()
        dim = QColor(0, 0, 0, 140)
        full = self.rect()
        painter.fillRect(QRect(0, 0, full.width(), selection.top()), dim)
        painter.fillRect(QRect(0, selection.bottom() + 1, full.width(), full.height() - selection.bottom() - 1), dim)
        painter.fillRect(QRect(0, selection.top(), selection.left(), selection.height()), dim)
        painter.fillRect(
            QRect(selection.right() + 1, selection.top(), full.width() - selection.right() - 1, selection.height()), dim
        )
        painter.setPen(QPen(QColor("black"), 6))
        painter.drawRect(selection)
        painter.setPen(QPen(QColor("yellow"), 3))
        painter.drawRect(selection)
        font = QFont(self.font())
        font.setPointSize(20)
        font.setBold(True)
        painter.setFont(font)
        label = f"{selection.width()} × {selection.height()}"
        anchor = selection.topLeft() + QPoint(8, 32)
        painter.setPen(QColor("black"))
        painter.drawText(anchor + QPoint(2, 2), label)
        painter.setPen(QColor("yellow"))
        painter.drawText(anchor, label)
        painter.end()

    def _accept(self) -> None:
        chosen = self.grab_selection()
        offset = (chosen.left - self._grab_rect.left, chosen.top - self._grab_rect.top)
        self.selected_image = self._background.crop(
            (offset[0], offset[1], offset[0] + chosen.width, offset[1] + chosen.height)
        )
        self.hide()
        self._announce(f"Region chosen, {chosen.width} by {chosen.height}.")
        self.accepted.emit(QRect(chosen.left, chosen.top, chosen.width, chosen.height))

    def _announce(self, text: str) -> None:
        self.spoken.emit(text)
        self._announcer.announce(text)


__all__ = ["HELP", "RegionOverlay", "pil_to_qimage", "screen_grab_rect"]
