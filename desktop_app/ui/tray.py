"""The tray icon and its menu: every action with its hotkey shown, reachable from the keyboard
through the desktop's tray navigation."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from desktop_app.hotkeys.base import ACTION_LABELS, Action


def app_icon() -> QIcon:
    from desktop_app.paths import resource

    path = resource("icons", "lookaloud.svg")
    return QIcon(str(path)) if path.exists() else QIcon()


def build_menu(hotkeys: Mapping[str, str], trigger: Callable[[str], None], parent: QWidget | None = None) -> QMenu:
    """The menu the tray shows: actions (with their hotkeys), then Open, Find picture, Settings, Quit."""
    menu = QMenu("Lookaloud", parent)
    menu.setAccessibleName("Lookaloud menu")
    for action in Action:
        label = ACTION_LABELS[action]
        combo = hotkeys.get(action.value, "")
        item = QAction(f"{label}\t{combo}" if combo else label, menu)
        item.setObjectName(action.value)
        item.triggered.connect(lambda _=False, a=action.value: trigger(a))
        menu.addAction(item)
    menu.addSeparator()
    for name, label in (("show", "Open Lookaloud"), ("find", "Find picture…"), ("settings", "Settings…"),
                        ("quit", "Quit Lookaloud")):
        item = QAction(label, menu)
        item.setObjectName(name)
        item.triggered.connect(lambda _=False, n=name: trigger(n))
        menu.addAction(item)
    return menu


class Tray(QSystemTrayIcon):
    def __init__(self, menu: QMenu, trigger: Callable[[str], None]) -> None:
        super().__init__(app_icon())
        self.setToolTip("Lookaloud")
        self.setContextMenu(menu)
        self.activated.connect(lambda reason: trigger("show") if reason == QSystemTrayIcon.ActivationReason.Trigger
                               else None)
