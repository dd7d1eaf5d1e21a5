"""Qt accessibility announcements: text the running screen reader speaks without a focus change.

Owns `Announcer`, a QObject living on the GUI thread that raises `QAccessibleAnnouncementEvent`
on a widget (AT-SPI `Object:Announcement` on Linux, a UIA notification on Windows, an
NSAccessibility announcement on macOS). Its `announce(text)` may be called from any thread
(the speech threads use it as Orca's fallback): the event is always raised on the GUI thread.

Screen readers ignore announcements from windows that are not in the foreground, which is why
speech/screenreader.py talks to the screen reader directly first.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QAccessible, QAccessibleAnnouncementEvent


class Announcer(QObject):
    """Announces text on behalf of `target` (normally the main window or a status label)."""

    _requested = Signal(str, bool)

    def __init__(self, target: QObject, assertive: bool = True) -> None:
        super().__init__(target)
        self._target = target
        self.assertive = assertive
        # Queued even on the GUI thread, so a call from a speech thread never touches widgets.
        self._requested.connect(self._on_requested, Qt.ConnectionType.QueuedConnection)

    def announce(self, text: str) -> None:
        """Announce text; callable from any thread."""
        if text.strip():
            self._requested.emit(text.strip(), self.assertive)

    __call__ = announce

    def announce_now(self, text: str) -> None:
        """GUI thread only: raise the announcement at once, not from the event loop (at
        shutdown, when the event loop has already ended)."""
        if text.strip():
            self._on_requested(text.strip(), self.assertive)

    @Slot(str, bool)
    def _on_requested(self, text: str, assertive: bool) -> None:
        event = QAccessibleAnnouncementEvent(self._target, text)
        politeness = QAccessible.AnnouncementPoliteness
        event.setPoliteness(politeness.Assertive if assertive else politeness.Polite)
        QAccessible.updateAccessibility(event)
