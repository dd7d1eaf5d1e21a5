"""The Lookaloud window: take a picture in (drop, paste, open), hear and read what it shows,
ask about it, and go back to earlier pictures.

Every control has an accessible name and description, the tab order follows the layout, and
a picture opened with the file dialog leaves the focus in the question box (set as the dialog
closes, before the description is spoken) so the user can ask straight away. Focus never moves
after a description or an answer: the screen reader would read the focused box over it.

Escape (anywhere in the window) and the Stop button stop what Lookaloud is doing and saying
(`stop_requested`; the app stops the speech); the Stop button is enabled while the model works
and while Lookaloud speaks (`watch_speech`). Control V pastes a picture from anywhere, the
Question box included; there, text on the clipboard pastes as text.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QEvent, QMimeData, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QKeyEvent, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop_app.controller import Controller, Picture, State

DESCRIPTION_HELP = "What Lookaloud found in the current picture."
PICTURE_FILTER = "Pictures (*.png *.jpg *.jpeg *.webp *.gif *.bmp *.tif *.tiff);;All files (*)"
NOTHING_TO_PASTE = "There is no picture or text on the clipboard to paste."
# How often the Stop button looks whether Lookaloud still speaks, while it does: speech runs on
# its own threads, and a screen reader does not say when it is done.
SPEECH_POLL_MS = 200


def holds_picture(mime: QMimeData | None) -> bool:
    """Whether pasted or dropped data offers a picture: image data, or a file (Qt counts a
    copied file's address as text too, but a copied file is a picture, not words)."""
    if mime is None:
        return False
    return (mime.hasImage() or any(f.startswith("image/") for f in mime.formats())
            or any(url.isLocalFile() for url in mime.urls()))


_W = TypeVar("_W", bound=QWidget)


def _named(widget: _W, name: str, description: str) -> _W:
    widget.setAccessibleName(name)
    widget.setAccessibleDescription(description)
    widget.setToolTip(description)
    return widget


class MainWindow(QMainWindow):
    """The window; it renders the controller's state and forwards the user's requests."""

    picture_opened = Signal(object, str)  # PIL image, source (a file name, "pasted picture")
    open_settings_requested = Signal()
    find_requested = Signal()  # Find picture (Ctrl+F): the app opens ui/find_dialog.py
    quit_requested = Signal()
    ask_aloud_requested = Signal()
    stop_requested = Signal()  # Escape or Stop: the app stops the speech (the model work stops here)
    # The status line only shows messages; the app says each one once (LookaloudApp._say_now).

    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.controller = controller
        self.setWindowTitle("Lookaloud")
        self.setAcceptDrops(True)
        self.resize(900, 620)

        self.open_button = _named(QPushButton("&Open picture…"), "Open picture",
                                  "Choose a picture file to describe. Shortcut Control O.")
        self.paste_button = _named(QPushButton("&Paste picture"), "Paste picture",
                                   "Describe the picture on the clipboard. Shortcut Control V.")
        self.stop_button = _named(QPushButton("&Stop"), "Stop", "Stop what Lookaloud is doing or saying. Escape.")
        self.preview = _named(QLabel("Drop a picture here, paste one with Control V, or open one with Control O."),
                              "Picture", "The current picture. Drop a picture file here.")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setWordWrap(True)
        self.preview.setMinimumSize(260, 200)
        self.preview.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.preview.setFrameShape(QLabel.Shape.StyledPanel)
        self.description = _named(QPlainTextEdit(), "Description", DESCRIPTION_HELP)
        self.description.setReadOnly(True)
        self.description.setTabChangesFocus(True)
        self.conversation = _named(QListWidget(), "Conversation",
                                   "Questions and answers about the current picture, oldest first.")
        self.question = _named(QLineEdit(), "Question",
                               "Type a question about the current picture and press Enter.")
        self.question.setPlaceholderText("Ask about this picture, then press Enter")
        self.ask_button = _named(QPushButton("&Ask"), "Ask",
                                 "Ask the typed question about the current picture. With the question box "
                                 "empty, ask aloud: Lookaloud listens for your question.")
        self.history = _named(QListWidget(), "Recent pictures",
                              "Pictures described earlier. Press Enter on one to make it the current picture.")
        # No accessible name: a label's name is its text, so a screen reader reads the message
        # itself ("Status" alone would hide it), and a change reaches AT-SPI as a name change.
        self.status = QLabel("Starting.")
        self.status.setAccessibleDescription("What Lookaloud is doing now.")
        self.status.setToolTip("What Lookaloud is doing now.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.status.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        question_label = QLabel("&Question:")
        question_label.setBuddy(self.question)
        description_label = QLabel("&Description:")
        description_label.setBuddy(self.description)
        conversation_label = QLabel("Con&versation:")
        conversation_label.setBuddy(self.conversation)
        history_label = QLabel("&Recent pictures:")
        history_label.setBuddy(self.history)

        buttons = QHBoxLayout()
        for button in (self.open_button, self.paste_button, self.stop_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        ask_row = QHBoxLayout()
        ask_row.addWidget(question_label)
        ask_row.addWidget(self.question, 1)
        ask_row.addWidget(self.ask_button)
        left = QVBoxLayout()
        left.addLayout(buttons)
        left.addWidget(self.preview, 1)
        left.addWidget(history_label)
        left.addWidget(self.history)
        right = QVBoxLayout()
        right.addWidget(description_label)
        right.addWidget(self.description, 2)
        right.addWidget(conversation_label)
        right.addWidget(self.conversation, 2)
        right.addLayout(ask_row)
        left_widget, right_widget = QWidget(), QWidget()
        left_widget.setLayout(left)
        right_widget.setLayout(right)
        splitter = QSplitter()
        splitter.addWidget(left_widget)
        splitter.addWidget(right_widget)
        splitter.setChildrenCollapsible(False)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status)
        self.setCentralWidget(central)
        # Reading order: act on a picture, hear about it, ask, then go back in history.
        order = [self.open_button, self.paste_button, self.stop_button, self.description, self.conversation,
                 self.question, self.ask_button, self.history, self.status]
        for first, second in itertools.pairwise(order):
            QWidget.setTabOrder(first, second)

        self._add_shortcut("Open", QKeySequence.StandardKey.Open, self.choose_file)
        self._add_shortcut("Paste", QKeySequence.StandardKey.Paste, self.paste)
        self._add_shortcut("Stop", QKeySequence(Qt.Key.Key_Escape), self.stop)
        self._add_shortcut("Settings", QKeySequence("Ctrl+,"), self.open_settings_requested.emit)
        self._add_shortcut("Find picture", QKeySequence.StandardKey.Find, self.find_requested.emit)
        # Without a tray (no tray on many desktops and under Xvfb) the window is the only way
        # out, and closing it only hides it: Ctrl+Q quits from the keyboard.
        self._add_shortcut("Quit", QKeySequence.StandardKey.Quit, self.quit_requested.emit)
        self.open_button.clicked.connect(self.choose_file)
        self.paste_button.clicked.connect(self.paste)
        self.stop_button.clicked.connect(self.stop)
        # The line edit takes Control V for itself (its own paste, which ignores pictures).
        self.question.installEventFilter(self)
        self.stop_button.installEventFilter(self)  # focus leaving it may disable it (below)
        self._is_speaking: Callable[[], bool] = lambda: False
        self._speech_poll = QTimer(self)
        self._speech_poll.setInterval(SPEECH_POLL_MS)
        self._speech_poll.timeout.connect(self._update_stop_button)
        self.quit_requested.connect(self._quit)
        self.ask_button.clicked.connect(self.ask)
        self.question.returnPressed.connect(self.ask)
        self.history.itemActivated.connect(self._on_history_activated)

        self._on_state_changed(controller.state)
        controller.message.connect(self.show_status)
        controller.message.connect(self._on_said)
        controller.message_continued.connect(lambda text: self.show_status(f"{self.status.text()} {text}"))
        controller.state_changed.connect(self._on_state_changed)
        controller.picture_added.connect(self._on_picture_added)
        controller.picture_removed.connect(self._on_picture_removed)
        controller.picture_changed.connect(self._on_picture_changed)
        controller.current_changed.connect(self._show_picture)
        controller.model_ready.connect(self.show_status)
        controller.model_ready.connect(self._on_said)

    def _add_shortcut(self, name: str, keys: Any, slot: Any) -> None:
        action = QAction(name, self)
        action.setShortcut(keys)
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)
        self.addAction(action)

    # ---- taking pictures in -----------------------------------------------------------------

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a picture", str(Path.home()), PICTURE_FILTER)
        if path:
            # The closing dialog gives the focus back (and the screen reader reads it) anyway:
            # let that be the question box, now, before the description is spoken.
            self.question.setFocus(Qt.FocusReason.OtherFocusReason)
            self.open_path(path)

    def open_path(self, path: str) -> None:
        from desktop_app.vision.images import PictureError, load_picture

        try:
            image = load_picture(path)
        except PictureError as exc:
            self.controller.error.emit(str(exc))
            self.controller.say(str(exc))
            return
        self.picture_opened.emit(image, Path(path).name)

    def paste(self) -> None:
        """Control V: a picture on the clipboard becomes the current picture (from anywhere in
        the window); in the Question box, text pastes as text; with neither, one sentence."""
        from PySide6.QtWidgets import QApplication

        mime = QApplication.clipboard().mimeData()
        if self.question.hasFocus() and not holds_picture(mime):
            if mime is not None and mime.hasText() and mime.text():
                self.question.paste()  # Ctrl+V in the question box pastes text as usual
            else:
                self.controller.say(NOTHING_TO_PASTE)
            return
        self.take_mime(mime, "pasted picture")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Control V in the Question box goes to paste(): the line edit would paste only text."""
        if watched is self.question and event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            key_event: QKeyEvent = event  # type: ignore[assignment]
            if key_event.matches(QKeySequence.StandardKey.Paste):
                if event.type() == QEvent.Type.KeyPress:
                    self.paste()
                event.accept()
                return True
        if watched is self.stop_button and event.type() == QEvent.Type.FocusOut:
            QTimer.singleShot(0, self._update_stop_button)
        return super().eventFilter(watched, event)

    def take_mime(self, mime: QMimeData, source: str) -> bool:
        """Use a picture from dropped or pasted data: the first picture file, or image data.
        The same guards as opening a file; a refused picture is one sentence."""
        from desktop_app.capture.clipboard import picture_from_mime
        from desktop_app.vision.images import PictureError

        try:
            found = picture_from_mime(mime, f"The {source}")
        except PictureError as exc:
            self.controller.error.emit(str(exc))
            self.controller.say(str(exc))
            return False
        if found is None:
            self.controller.say("There is no picture on the clipboard." if source == "pasted picture"
                                else "That is not a picture.")
            return False
        image, name = found
        self.picture_opened.emit(image, name or source)
        return True

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if holds_picture(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        if self.take_mime(event.mimeData(), "dropped picture"):
            event.acceptProposedAction()

    # ---- asking -----------------------------------------------------------------------------

    def ask(self) -> None:
        """Ask the typed question; with the box empty, the Ask button listens for a spoken one."""
        if not self.question.text().strip() and self.sender() is self.ask_button:
            self.ask_aloud_requested.emit()
            return
        if self.controller.ask(self.question.text()):
            self.question.clear()

    # ---- stopping ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Escape or Stop: the model's work stops here, the speech where the app listens."""
        self.controller.stop()
        self.stop_requested.emit()
        self._update_stop_button()

    def watch_speech(self, is_speaking: Callable[[], bool]) -> None:
        """Keep the Stop button enabled while `is_speaking()` says Lookaloud speaks; it is
        looked at after each sentence the controller says, and then until speech ends."""
        self._is_speaking = is_speaking
        self._update_stop_button()

    def _on_said(self, _text: str) -> None:
        # The app speaks the sentence after this slot (it connects later): look at the next tick.
        if not self._speech_poll.isActive():
            self._speech_poll.start()

    def _update_stop_button(self) -> None:
        speaking = self._is_speaking()
        busy = speaking or self.controller.state in (State.THINKING, State.LOADING)
        # A focused button that is disabled hands the focus on, and the screen reader reads the
        # next control aloud right after the user pressed Stop: it waits until focus leaves it.
        self.stop_button.setEnabled(busy or self.stop_button.hasFocus())
        if not speaking:
            self._speech_poll.stop()

    # ---- showing state ----------------------------------------------------------------------

    def show_status(self, text: str) -> None:
        self.status.setText(text)

    def _on_state_changed(self, state: State) -> None:
        self._update_stop_button()

    def _show_picture(self, picture: Picture) -> None:
        from desktop_app.ui.region_overlay import pil_to_qimage

        pixmap = QPixmap.fromImage(pil_to_qimage(picture.image))
        size = self.preview.size()
        self.preview.setPixmap(pixmap.scaled(size, Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation))
        self.preview.setAccessibleDescription(f"Picture from {picture.source}. {picture.description}")
        self.description.setPlainText(picture.description or "Looking at the picture…")
        # A screen reader reads only the line at the caret of a text box on focus (Orca 43 cut
        # "... The title is: Trains." at the wrap): the description holds the whole text.
        self.description.setAccessibleDescription(picture.description or DESCRIPTION_HELP)
        self.conversation.clear()
        for question, answer in picture.conversation:
            self.conversation.addItem(f"Q: {question}  A: {answer}")
        self._select_history(picture.id)

    def _on_picture_added(self, picture: Picture) -> None:
        item = QListWidgetItem(f"{picture.source}: {picture.description or 'looking…'}")
        item.setData(Qt.ItemDataRole.UserRole, picture.id)
        self.history.insertItem(0, item)
        while self.history.count() > len(self.controller.pictures):
            self.history.takeItem(self.history.count() - 1)

    def _on_picture_removed(self, picture: Picture) -> None:
        for row in reversed(range(self.history.count())):
            if self.history.item(row).data(Qt.ItemDataRole.UserRole) == picture.id:
                self.history.takeItem(row)

    def _on_picture_changed(self, picture: Picture) -> None:
        for row in range(self.history.count()):
            item = self.history.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == picture.id:
                item.setText(f"{picture.source}: {picture.description}")
        if self.controller.current is picture:
            self._show_picture(picture)
            if picture.conversation:
                self.conversation.setCurrentRow(self.conversation.count() - 1)

    def _select_history(self, picture_id: int) -> None:
        for row in range(self.history.count()):
            if self.history.item(row).data(Qt.ItemDataRole.UserRole) == picture_id:
                self.history.setCurrentRow(row)

    def _on_history_activated(self, item: QListWidgetItem) -> None:
        self.controller.select_picture(item.data(Qt.ItemDataRole.UserRole))
        self.question.setFocus(Qt.FocusReason.OtherFocusReason)

    def _quit(self) -> None:
        from PySide6.QtWidgets import QApplication

        QApplication.quit()  # run_app's shutdown runs after the event loop returns

    def present(self) -> None:
        """Show, raise and focus the window, with focus where the user will want it."""
        self.show()
        self.raise_()
        self.activateWindow()
        target = self.question if self.controller.current else self.open_button
        target.setFocus(Qt.FocusReason.ActiveWindowFocusReason)
