"""Hotkey test fixtures: a manager around any backend, and a focused window of "another
application"."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtWidgets import QLineEdit

from desktop_app.hotkeys.manager import HotkeyManager


@pytest.fixture
def make_manager(qtbot) -> Iterator[Callable[..., HotkeyManager]]:  # type: ignore[no-untyped-def]
    """Builds started HotkeyManagers and stops them after the test, so grabs never leak."""
    managers: list[HotkeyManager] = []

    def make(factory=None) -> HotkeyManager:  # type: ignore[no-untyped-def]
        manager = HotkeyManager(factory)
        managers.append(manager)
        return manager

    yield make
    for manager in managers:
        manager.stop()


@pytest.fixture
def other_app_window(qtbot) -> QLineEdit:  # type: ignore[no-untyped-def]
    """A focused text field standing for whatever program the user is in."""
    field = QLineEdit()
    field.setWindowTitle("Another program")
    qtbot.addWidget(field)
    field.show()
    field.activateWindow()
    qtbot.waitExposed(field)
    qtbot.waitUntil(field.hasFocus)
    return field
