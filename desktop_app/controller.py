"""The controller: one state machine between what the user asks for and the model thread.

It owns the pictures (history), the current picture, the inference thread and its requests,
and decides what the user hears at every change of state. No widgets: the window and the tray
call its slots and listen to its signals.
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from desktop_app.settings import Settings
from desktop_app.workers.inference import ASK, DESCRIBE, READ_TEXT, InferenceWorker, Request, Result
from desktop_app.workers.lifetime import WorkerThread


class State(enum.Enum):
    LOADING = "loading"
    NO_MODEL = "no model"
    IDLE = "idle"
    CAPTURING = "capturing"
    THINKING = "thinking"
    LISTENING = "listening"


@dataclass
class Picture:
    """A picture the user pointed at, with what was said about it."""

    id: int
    image: Any
    source: str  # "screen", "window", "region", "clipboard", a file name...
    description: str = ""
    conversation: list[tuple[str, str]] = field(default_factory=list)
    picture_kind: str = ""
    found_text: str = ""


class Controller(QObject):
    state_changed = Signal(object)  # State
    message = Signal(str)  # every sentence the user should hear, in order
    picture_added = Signal(object)  # Picture
    picture_changed = Signal(object)  # Picture: description or conversation updated
    current_changed = Signal(object)  # Picture
    error = Signal(str)
    model_ready = Signal(str)  # a sentence: which model on which device

    # To the worker (queued: they run on the inference thread).
    _load_requested = Signal(str, str, str)
    _run_requested = Signal(object)

    def __init__(self, settings: Settings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.pictures: list[Picture] = []
        self.current: Picture | None = None
        self.state = State.NO_MODEL if not settings.model else State.LOADING
        self.load_percent = 0
        self.last_spoken = ""
        self._ids = itertools.count(1)
        self._outstanding: dict[int, Request] = {}
        self.worker = InferenceWorker()
        self._thread = WorkerThread(self.worker, "lookaloud-inference")
        self._load_requested.connect(self.worker.load)
        self._run_requested.connect(self.worker.run)
        self.worker.loading.connect(self._on_model_loading)
        self.worker.loaded.connect(self._on_model_loaded)
        self.worker.load_failed.connect(self._on_model_load_failed)
        self.worker.result_ready.connect(self._on_result_ready)
        self.worker.failed.connect(self._on_request_failed)
        self.worker.cancelled.connect(self._on_request_cancelled)
        self.worker.skipped.connect(self._forget)
        self.worker.notice.connect(self.say)
        self._thread.thread.started.connect(self.worker.yield_to_window)
        self._thread.start()

    # ---- lifecycle --------------------------------------------------------------------------

    def load_model(self, model: str | None = None) -> None:
        model = model or self.settings.model
        if not model:
            self._set_state(State.NO_MODEL)
            return
        self._set_state(State.LOADING)
        self._load_requested.emit(model, self.settings.device, self.settings.precision)

    def shutdown(self) -> None:
        """Stop what runs, then end the thread: stop, quit, wait."""
        self.stop()
        self._thread.stop()

    # ---- what the user asks for -------------------------------------------------------------

    def describe_image(self, image: Any, source: str) -> Picture:
        """A new picture becomes the current one and is described; replaces work not started yet.

        The history keeps a bounded copy (vision.images.bounded_copy: at most what the text
        reader works on, far more than the vision model sees), never the full screenshot: eight
        8000 x 8000 pictures kept whole took 1.5 GB."""
        from PIL import Image

        from desktop_app.vision.images import bounded_copy

        if isinstance(image, Image.Image):
            image = bounded_copy(image)
        picture = Picture(next(self._ids), image, source)
        self.pictures.insert(0, picture)
        limit = self.settings.history_size if self.settings.keep_history else 1
        del self.pictures[max(1, limit):]
        self.current = picture
        self.picture_added.emit(picture)
        self.current_changed.emit(picture)
        request = self._request(DESCRIBE, picture)
        self.worker.replace_before = request.id
        self._submit(request)
        return picture

    def ask(self, question: str) -> bool:
        question = " ".join(question.split())
        if not question:
            self.say("Type or say a question first.")
            return False
        if self.current is None:
            self.say("There is no picture yet. Describe the screen or open a picture first.")
            return False
        self._submit(self._request(ASK, self.current, question=question))
        return True

    def read_text(self) -> bool:
        if self.current is None:
            self.say("There is no picture yet. Describe the screen or open a picture first.")
            return False
        self._submit(self._request(READ_TEXT, self.current))
        return True

    def select_picture(self, picture_id: int) -> None:
        for picture in self.pictures:
            if picture.id == picture_id:
                self.current = picture
                self.current_changed.emit(picture)
                self.say(f"Current picture: {picture.description or picture.source}")
                return

    @Slot()
    def stop(self) -> None:
        """Cancel what the model is doing and everything waiting."""
        for request in self._outstanding.values():
            request.cancel.set()

    def repeat_last(self) -> None:
        self.say(self.last_spoken or "Nothing has been said yet.")

    # ---- plumbing ---------------------------------------------------------------------------

    def _request(self, kind: str, picture: Picture, question: str = "") -> Request:
        return Request(next(self._ids), kind, picture.id, picture.image, question,
                       include_text=self.settings.include_text, language=self.settings.language)

    def _submit(self, request: Request) -> None:
        self._outstanding[request.id] = request
        if self.state == State.LOADING:
            self.say(f"Loading the model, {self.load_percent} percent. Your request will run when it is ready.")
        elif self.state == State.NO_MODEL:
            self._forget(request.id)
            self.say("No model is set up yet. Open Settings or the setup to choose one.")
            return
        else:
            self._set_state(State.THINKING)
        self._run_requested.emit(request)

    @Slot(int)
    def _forget(self, request_id: int) -> None:
        self._outstanding.pop(request_id, None)
        if not self._outstanding and self.state == State.THINKING:
            self._set_state(State.IDLE)

    def _set_state(self, state: State) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    @Slot(str)
    def say(self, text: str) -> None:
        self.last_spoken = text
        self.message.emit(text)

    def _picture(self, picture_id: int) -> Picture | None:
        return next((p for p in self.pictures if p.id == picture_id), None)

    @Slot(int)
    def _on_model_loading(self, percent: int) -> None:
        self.load_percent = percent

    @Slot(str, str, str, str)
    def _on_model_loaded(self, name: str, device: str, precision: str, note: str) -> None:
        where = {"cpu": "the processor", "cuda": "the graphics card", "mps": "the graphics card"}.get(device, device)
        sentence = f"The model {name} is ready on {where}."
        if note:
            self.say(note)
        self.model_ready.emit(sentence)
        self._set_state(State.THINKING if self._outstanding else State.IDLE)

    @Slot(str)
    def _on_model_load_failed(self, message: str) -> None:
        self._set_state(State.NO_MODEL)
        for request_id in list(self._outstanding):
            self._forget(request_id)
        self.error.emit(message)
        self.say(message)

    @Slot(object)
    def _on_result_ready(self, result: Result) -> None:
        if result.request_id not in self._outstanding:
            return  # stale: cancelled or replaced meanwhile
        self._forget(result.request_id)
        picture = self._picture(result.picture_id)
        if picture is None:
            return
        if result.kind == DESCRIBE:
            picture.description = result.text
            picture.picture_kind = result.picture_kind
            picture.found_text = result.found_text
        elif result.kind == ASK:
            picture.conversation.append((result.question, result.text))
        else:
            picture.found_text = result.text
        self.picture_changed.emit(picture)
        self.say(result.text)

    @Slot(int, str)
    def _on_request_failed(self, request_id: int, message: str) -> None:
        if request_id not in self._outstanding:
            return
        self._forget(request_id)
        self.error.emit(message)
        self.say(message)

    @Slot(int)
    def _on_request_cancelled(self, request_id: int) -> None:
        was_waiting = request_id in self._outstanding
        self._forget(request_id)
        if was_waiting and not self._outstanding:
            self.say("Stopped.")
