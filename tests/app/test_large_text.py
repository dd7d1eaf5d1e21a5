"""Large text and a high-contrast theme, as a low-vision user sets up the desktop: the system's
font at twice its size and white-on-black colours. Every window must take both (no widget sets
its own font or colours), show every label and button in full, and still fit on the screen so
that nothing is pushed out of reach."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QTabBar,
    QWidget,
)

from desktop_app.settings import Settings
from desktop_app.ui.settings_dialog import SettingsDialog
from desktop_app.ui.setup_dialog import SetupDialog
from tests.app.keyboard import show_active
from tests.app.test_setup_dialog import LAPTOP

BLACK, WHITE, YELLOW = QColor("black"), QColor("white"), QColor("yellow")


def high_contrast() -> QPalette:
    palette = QPalette()
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        for role in (QPalette.ColorRole.Window, QPalette.ColorRole.Base, QPalette.ColorRole.Button):
            palette.setColor(group, role, BLACK)
        for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
            palette.setColor(group, role, WHITE)
        palette.setColor(group, QPalette.ColorRole.Highlight, YELLOW)
        palette.setColor(group, QPalette.ColorRole.HighlightedText, BLACK)
    return palette


@pytest.fixture
def large_high_contrast(qapp: QApplication):
    """The application's font at twice its size and a white-on-black palette, as the desktop
    hands them to Qt; restored afterwards."""
    font, palette = QFont(qapp.font()), QPalette(qapp.palette())
    large = QFont(font)
    large.setPointSizeF(font.pointSizeF() * 2)
    qapp.setFont(large)
    qapp.setPalette(high_contrast())
    yield large
    qapp.setFont(font)
    qapp.setPalette(palette)


def shown_widgets(window: QWidget) -> list[QWidget]:
    return [w for w in window.findChildren(QWidget) if w.isVisible()]


def clipped(window: QWidget) -> list[str]:
    """Text-bearing widgets smaller than they need to be to show all their text."""
    found = []
    for w in shown_widgets(window):
        if isinstance(w.parentWidget(), (QTabBar, QAbstractSpinBox, QComboBox)):
            continue  # parts of a control, checked as the whole control; Ctrl+Tab reaches every tab
        if isinstance(w, QLabel) and w.wordWrap():
            need = w.heightForWidth(w.width())
            if need > w.height() + 1:
                found.append(f"{type(w).__name__} {w.text()[:40]!r}: {w.height()} px high, needs {need}")
            continue
        if isinstance(w, (QLabel, QAbstractButton, QComboBox, QLineEdit, QGroupBox, QAbstractSpinBox)):
            hint = w.minimumSizeHint()
            if w.width() + 1 < hint.width() or w.height() + 1 < hint.height():
                text = w.title() if isinstance(w, QGroupBox) else getattr(w, "text", lambda: "")()
                found.append(f"{type(w).__name__} {str(text)[:40]!r}: {w.width()}x{w.height()}, "
                             f"needs {hint.width()}x{hint.height()}")
    return found


def check(qtbot, window: QWidget, large: QFont) -> None:
    show_active(qtbot, window)
    qtbot.wait(50)  # let the layouts settle at the new font
    screen = QGuiApplication.primaryScreen().availableGeometry()
    frame = window.frameGeometry()
    assert frame.width() <= screen.width() and frame.height() <= screen.height(), (
        f"{window.windowTitle()} is {frame.width()}x{frame.height()} on a {screen.width()}x{screen.height()} screen")
    assert clipped(window) == []
    for w in shown_widgets(window):
        # The system's font and colours reach every widget: none sets its own.
        assert w.font().pointSizeF() == pytest.approx(large.pointSizeF()), f"{type(w).__name__} {w.accessibleName()}"
        active = QPalette.ColorGroup.Active
        assert w.palette().color(active, QPalette.ColorRole.WindowText) == WHITE, f"{type(w).__name__} {w.accessibleName()}"
        assert w.palette().color(active, QPalette.ColorRole.Window) == BLACK, f"{type(w).__name__} {w.accessibleName()}"


def test_the_main_window_with_large_text_and_high_contrast(qtbot, make_app, large_high_contrast):
    app = make_app()
    check(qtbot, app.window, large_high_contrast)


def test_every_settings_tab_with_large_text_and_high_contrast(qtbot, large_high_contrast):
    dialog = SettingsDialog(Settings(model="blip2-opt-2.7b"))
    show_active(qtbot, dialog)  # the pages are added once the dialog is active
    assert dialog.tabs.count() == 6
    for index in range(dialog.tabs.count()):
        dialog.tabs.setCurrentIndex(index)
        check(qtbot, dialog, large_high_contrast)


def test_the_setup_dialog_with_large_text_and_high_contrast(qtbot, large_high_contrast):
    dialog = SetupDialog(machine=LAPTOP)
    qtbot.addWidget(dialog)
    check(qtbot, dialog, large_high_contrast)
