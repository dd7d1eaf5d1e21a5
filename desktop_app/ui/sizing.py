"""Window sizes that follow the user's text size and still fit their screen."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget


def fitting_width(widget: QWidget, chars: int) -> int:
    """About `chars` average characters of the widget's font wide, but never wider than nine
    tenths of the screen it is on: with large text, a dialog stays on a small screen."""
    screen = widget.screen() or QGuiApplication.primaryScreen()
    wanted = widget.fontMetrics().averageCharWidth() * chars
    return min(wanted, int(screen.availableGeometry().width() * 0.9)) if screen else wanted
