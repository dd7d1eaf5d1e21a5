"""The Find picture dialog: type what a picture shows, hear the best matches one by one.

A query field, a Find button and a results list. Results are spoken through the app's own path
(the `say` callable the app gives: Controller.say, which speaks with the user's voice or screen
reader and shows the status): first how many were found and the best one, then each result the
arrows move to. Enter (or double-click) on a result emits `picture_chosen` with it and closes the
dialog; the app makes it the current picture (a history picture by its id, a file by opening it).

The search itself runs on a worker thread: `FindWorker` adapts a plain function (the app gives
desktop_app.retrieval.finder.PictureFinder.find, so this module holds no model code) to queued
signals. Every request carries an id; an answer to an older request is dropped.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

# find(query, history, cancel) -> results with .path, .picture_id, .caption, .score; raises
# with a sentence (str(error)) when it cannot search.
FindFunction = Callable[[str, Sequence[tuple[int, Any, str]], threading.Event], list[Any]]
HistoryFunction = Callable[[], Sequence[tuple[int, Any, str]]]


def spoken_result(result: Any, position: int, total: int) -> str:
    """One result as a sentence: where it is in the list, what it is, and what it shows."""
    where = "From recent pictures" if getattr(result, "picture_id", None) is not None else Path(result.path).name
    caption = (result.caption or "").strip()
    text = f"{position} of {total}: {where}."
    return f"{text} {caption}" if caption else text


class FindWorker(QObject):
    """Runs the find function on its own thread (see workers/lifetime.WorkerThread)."""

    finished = Signal(int, object)  # request id, list of results
    failed = Signal(int, str)  # request id, a sentence

    def __init__(self, find: FindFunction) -> None:
        super().__init__()
        self._find = find
        self.cancel = threading.Event()

    @Slot(int, str, object)
    def on_search_requested(self, request_id: int, query: str, history: object) -> None:
        """Runs on the worker's thread."""
        self.cancel.clear()
        try:
            results = self._find(query, history, self.cancel)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - every failure reaches the user as one sentence
            text = str(exc).strip() or "The search failed."
            self.failed.emit(request_id, text if text.endswith(".") else text + ".")
            return
        self.finished.emit(request_id, results)


class FindDialog(QDialog):
    """Find picture. GUI thread only."""

    search_requested = Signal(int, str, object)  # request id, query, history items
    picture_chosen = Signal(object)  # the chosen result

    def __init__(self, say: Callable[[str], None], history: HistoryFunction,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._say = say
        self._history = history
        self._ids = itertools.count(1)
        self._pending = 0
        self._results: list[Any] = []
        self.setWindowTitle("Find picture")
        self.setAccessibleName("Find picture")
        self.setAccessibleDescription("Find a picture by what it shows, among recent pictures and indexed folders.")

        self.query = QLineEdit()
        self.query.setAccessibleName("What the picture shows")
        self.query.setAccessibleDescription("Type what the picture shows, such as a receipt from the garage, "
                                            "and press Enter.")
        self.query.setPlaceholderText("What the picture shows, then press Enter")
        query_label = QLabel("&Find pictures showing:")
        query_label.setBuddy(self.query)
        self.find_button = QPushButton("&Find")
        self.find_button.setAccessibleName("Find")
        self.find_button.setAccessibleDescription("Search recent pictures and indexed folders.")
        self.results = QListWidget()
        self.results.setAccessibleName("Pictures found")
        self.results.setAccessibleDescription("The best match first. Press Enter on one to make it the current "
                                              "picture.")
        results_label = QLabel("&Pictures found:")
        results_label.setBuddy(self.results)
        self.status = QLabel("Type what the picture shows.")
        self.status.setAccessibleDescription("What the search is doing.")
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        # No default button: Enter in the query searches and Enter on a result chooses it; it
        # must never also press Close.
        for button in buttons.buttons():
            if isinstance(button, QPushButton):
                button.setAutoDefault(False)
                button.setDefault(False)

        row = QHBoxLayout()
        row.addWidget(self.query, 1)
        row.addWidget(self.find_button)
        layout = QVBoxLayout(self)
        layout.addWidget(query_label)
        layout.addLayout(row)
        layout.addWidget(results_label)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.resize(560, 420)

        self.query.returnPressed.connect(self.start_search)
        self.find_button.clicked.connect(self.start_search)
        self.find_button.setAutoDefault(False)
        self.results.currentRowChanged.connect(self._on_current_row_changed)
        self.results.itemActivated.connect(self._on_item_activated)

    def start_search(self) -> None:
        query = " ".join(self.query.text().split())
        if not query:
            self._tell("Type what the picture shows first.")
            self.query.setFocus()
            return
        self._pending = next(self._ids)
        self._results = []
        self.results.clear()
        self._tell(f"Searching for {query}.")
        self.search_requested.emit(self._pending, query, list(self._history()))

    @Slot(int, object)
    def on_search_finished(self, request_id: int, results: list[Any]) -> None:
        if request_id != self._pending:
            return  # an answer to an older search
        self._pending = 0
        self._results = list(results)
        self.results.blockSignals(True)
        for i, result in enumerate(self._results, 1):
            item = QListWidgetItem(spoken_result(result, i, len(self._results)))
            item.setData(Qt.ItemDataRole.UserRole, i - 1)
            self.results.addItem(item)
        self.results.blockSignals(False)
        if not self._results:
            self._tell("No picture was found. Index a folder with lookaloud index, or describe some pictures first.")
            return
        count = len(self._results)
        self.status.setText(f"{count} picture{'s' if count != 1 else ''} found.")
        self._say(f"{count} picture{'s' if count != 1 else ''} found. {spoken_result(self._results[0], 1, count)}")
        self.results.setCurrentRow(0)  # signals were on: already spoken above, so quietly
        self.results.setFocus()

    @Slot(int, str)
    def on_search_failed(self, request_id: int, sentence: str) -> None:
        if request_id != self._pending:
            return
        self._pending = 0
        self._tell(sentence)

    def _tell(self, text: str) -> None:
        self.status.setText(text)
        self._say(text)

    def _on_current_row_changed(self, row: int) -> None:
        if 0 <= row < len(self._results) and self.results.hasFocus():
            self._say(self.results.item(row).text())

    def _on_item_activated(self, item: QListWidgetItem) -> None:
        index = item.data(Qt.ItemDataRole.UserRole)
        if isinstance(index, int) and 0 <= index < len(self._results):
            self.picture_chosen.emit(self._results[index])
            self.accept()


class FindPicture(QObject):
    """Find picture as the app offers it (Ctrl+F, the tray): one dialog at a time, one worker
    thread for every search, started on first use and stopped with the app. GUI thread only.

    `make_find` builds the find function on first use (the app passes a PictureFinder's find,
    which loads the search model on the worker thread at the first search); `chosen` receives
    the result the user pressed Enter on."""

    def __init__(self, make_find: Callable[[], FindFunction], say: Callable[[str], None],
                 history: HistoryFunction, chosen: Callable[[Any], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._make_find = make_find
        self._say = say
        self._history = history
        self._chosen = chosen
        self._parent = parent
        self._worker: FindWorker | None = None
        self._thread: Any = None
        self.dialog: FindDialog | None = None

    def open(self) -> FindDialog:
        """Show the dialog (or bring the open one forward) with the focus in the query field."""
        if self.dialog is None:
            if self._worker is None:
                from desktop_app.workers.lifetime import WorkerThread

                self._worker = FindWorker(self._make_find())
                self._thread = WorkerThread(self._worker, "find-picture", request_stop=self._worker.cancel.set)
                self._thread.start()
            dialog = FindDialog(self._say, self._history, self._parent)
            dialog.search_requested.connect(self._worker.on_search_requested)
            self._worker.finished.connect(dialog.on_search_finished)
            self._worker.failed.connect(dialog.on_search_failed)
            dialog.picture_chosen.connect(self._chosen)
            dialog.finished.connect(self._on_dialog_finished)
            self.dialog = dialog
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
        self.dialog.query.setFocus()
        return self.dialog

    def _on_dialog_finished(self, _code: int) -> None:
        dialog, self.dialog = self.dialog, None
        if dialog is not None:
            if self._worker is not None:
                self._worker.cancel.set()
                self._worker.finished.disconnect(dialog.on_search_finished)
                self._worker.failed.disconnect(dialog.on_search_failed)
            dialog.deleteLater()

    def stop(self) -> None:
        """Close the dialog and stop the worker thread (the app's shutdown)."""
        if self.dialog is not None:
            self.dialog.reject()
        if self._thread is not None:
            self._thread.stop()
            self._thread = None
        self._worker = None
