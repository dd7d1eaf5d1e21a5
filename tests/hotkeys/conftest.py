"""Hotkey test fixtures: a manager around any backend, a focused window of "another
application", and the stand-in desktop portal shared with tests/capture."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLineEdit

from desktop_app.hotkeys.manager import HotkeyManager

_spec = importlib.util.spec_from_file_location(
    "lookaloud_fake_portal", Path(__file__).resolve().parents[1] / "capture" / "fake_portal.py"
)
assert _spec is not None and _spec.loader is not None
fake_portal = importlib.util.module_from_spec(_spec)
sys.modules["lookaloud_fake_portal"] = fake_portal
_spec.loader.exec_module(fake_portal)


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
