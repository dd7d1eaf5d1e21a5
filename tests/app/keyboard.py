"""Keyboard-only checks shared by the dialog tests: which widgets take focus, and the order Tab
visits them in."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget


def focusable_widgets(root: QWidget) -> list[QWidget]:
    """Visible, enabled widgets that Tab can reach."""
    return [w for w in root.findChildren(QWidget)
            if w.isVisibleTo(root) and w.isEnabled() and w.focusPolicy() & Qt.FocusPolicy.TabFocus
            and w.focusProxy() is None]


def focus_chain(qtbot, root: QWidget, limit: int = 200) -> list[QWidget]:
    """Press Tab from the focused widget until focus comes back; the widgets in order."""
    first = QApplication.focusWidget()
    assert first is not None, "nothing has keyboard focus"
    visited = [first]
    for _ in range(limit):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        current = QApplication.focusWidget()
        if current is first:
            return visited
        assert current is not None and current not in visited, "Tab went somewhere unexpected"
        visited.append(current)
    raise AssertionError("Tab never came back to where it started")
