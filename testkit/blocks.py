"""A window painted with known colour blocks and text, for checking captured pixels."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QWidget

RED, GREEN, BLUE, WHITE = (220, 20, 20), (20, 200, 40), (30, 40, 230), (255, 255, 255)


class BlocksWindow(QWidget):
    """Left half red, right half blue, a green band along the bottom, "LOOK" in black on white
    in the top-left corner."""

    def paintEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        painter = QPainter(self)
        w, h = self.width(), self.height()
        painter.fillRect(QRect(0, 0, w // 2, h), QColor(*RED))
        painter.fillRect(QRect(w // 2, 0, w - w // 2, h), QColor(*BLUE))
        painter.fillRect(QRect(0, h - 40, w, 40), QColor(*GREEN))
        painter.fillRect(QRect(0, 0, 120, 50), QColor(*WHITE))
        font = QFont()
        font.setPixelSize(32)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor("black"))
        painter.drawText(QRect(0, 0, 120, 50), Qt.AlignmentFlag.AlignCenter, "LOOK")
        painter.end()
