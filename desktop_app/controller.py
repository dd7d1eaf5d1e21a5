"""The controller's Qt adapter: core.ControllerCore behind signals, and the inference thread.

It owns the inference QThread and its worker, forwards the core's requests to the worker by
queued signal and the worker's outcomes back to the core, and turns what the core tells
(state, sentences to hear, pictures) into signals. No widgets and no decisions of its own:
the window and the tray call its slots and listen to its signals.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from desktop_app.core import ControllerCore, Listener, Picture, Request, Result, State
from desktop_app.settings import Settings
from desktop_app.workers.inference import InferenceWorker
from desktop_app.workers.lifetime import WorkerThread

__all__ = ["Controller", "Picture", "State"]


class Controller(QObject):
    state_changed = Signal(object)  # State
    message = Signal(str)  # every sentence the user should hear, in order
    message_continued = Signal(str)  # more of the last message (a caption's next phrase): said after it
    picture_added = Signal(object)  # Picture, now first in the history
    picture_removed = Signal(object)  # Picture that left the history
    picture_changed = Signal(object)  # Picture: description or conversation updated
    current_changed = Signal(object)  # Picture
    error = Signal(str)
    model_ready = Signal(str)  # a sentence: which model on which device

    # To the worker (queued: they run on the inference thread).
    _load_requested = Signal(str, str, str)
    _run_requested = Signal(object)

    def __init__(self, settings: Settings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.core = ControllerCore(settings, Listener(
            on_state_changed=self.state_changed.emit, on_said=self.message.emit,
            on_said_more=self.message_continued.emit, on_error=self.error.emit,
            on_model_ready=self.model_ready.emit, on_picture_added=self.picture_added.emit,
            on_picture_removed=self.picture_removed.emit,
            on_picture_changed=self.picture_changed.emit, on_current_changed=self.current_changed.emit,
            on_request=self._run))
        self.worker = InferenceWorker()
        self._thread = WorkerThread(self.worker, "lookaloud-inference")
        self._load_requested.connect(self.worker.load)
        self._run_requested.connect(self.worker.run)
        # Each to a slot of this QObject, so that Qt queues it to the GUI thread (the core
        # is not thread-safe); a plain method of the core would run on the worker thread.
        self.worker.loading.connect(self._on_model_loading)
        self.worker.loaded.connect(self._on_model_loaded)
        self.worker.load_failed.connect(self._on_model_load_failed)
        self.worker.phrase_ready.connect(self._on_phrase_ready)
        self.worker.result_ready.connect(self._on_result_ready)
        self.worker.failed.connect(self._on_request_failed)
        self.worker.cancelled.connect(self._on_request_cancelled)
        self.worker.skipped.connect(self._on_request_skipped)
        self.worker.notice.connect(self.say)
        self._thread.thread.started.connect(self.worker.yield_to_window)
        self._thread.start()

    # ---- the core's state, read by the window, the app and the tests -------------------------

    @property
    def settings(self) -> Settings:
        return self.core.settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        self.core.settings = settings

    @property
    def state(self) -> State:
        return self.core.state

    @property
    def pictures(self) -> list[Picture]:
        return self.core.pictures

    @property
    def current(self) -> Picture | None:
        return self.core.current

    @property
    def last_spoken(self) -> str:
        return self.core.last_spoken

    @property
    def load_percent(self) -> int:
        return self.core.load_percent

    @property
    def _outstanding(self) -> dict[int, Request]:
        return self.core.outstanding

    # ---- lifecycle --------------------------------------------------------------------------

    def load_model(self, model: str | None = None) -> None:
        model = model or self.settings.model
        if self.core.begin_loading(model):
            self._load_requested.emit(model, self.settings.device, self.settings.precision)

    def apply(self, old: Settings, new: Settings) -> bool:
        """Use `new` from the next request on; reload the model when its choice changed.
        Returns whether a reload started."""
        self.settings = new
        if (new.model, new.device, new.precision) != (old.model, old.device, old.precision) and new.model:
            self.load_model()
            return True
        return False

    def shutdown(self) -> None:
        """Stop what runs, then end the thread: stop, quit, wait."""
        self.stop()
        self._thread.stop()

    # ---- what the user asks for -------------------------------------------------------------

    def describe_image(self, image: Any, source: str) -> Picture:
        """A new picture becomes the current one and is described (see ControllerCore)."""
        return self.core.describe_image(image, source)

    def ask(self, question: str, picture_id: int | None = None) -> bool:
        """Ask about the current picture, or the one the user began asking about (see ControllerCore)."""
        return self.core.ask(question, picture_id)

    def read_text(self) -> bool:
        return self.core.read_text()

    def select_picture(self, picture_id: int) -> None:
        self.core.select_picture(picture_id)

    def forget_pictures(self) -> None:
        """Empty the history (Settings' "Forget all pictures")."""
        self.core.forget_pictures()

    @Slot()
    def stop(self) -> None:
        """Cancel what the model is doing and everything waiting."""
        self.core.stop()

    def repeat_last(self) -> None:
        self.core.repeat_last()

    @Slot(str)
    def say(self, text: str) -> None:
        self.core.say(text)

    def _run(self, request: Request) -> None:
        """Send a request the core made to the worker thread."""
        if request.replaces_waiting:
            # Read by the worker thread before it starts each request (a plain int is atomic).
            self.worker.replace_before = request.id
        self._run_requested.emit(request)

    # ---- from the worker (queued to the GUI thread) -----------------------------------------

    @Slot(int)
    def _on_model_loading(self, percent: int) -> None:
        self.core.model_loading(percent)

    @Slot(str, str, str, str)
    def _on_model_loaded(self, name: str, device: str, precision: str, note: str) -> None:
        self.core.model_loaded(name, device, precision, note)

    @Slot(str)
    def _on_model_load_failed(self, message: str) -> None:
        self.core.model_load_failed(message)

    @Slot(int, str)
    def _on_phrase_ready(self, request_id: int, text: str) -> None:
        self.core.phrase_ready(request_id, text)

    @Slot(object)
    def _on_result_ready(self, result: Result) -> None:
        self.core.result_ready(result)

    @Slot(int, str)
    def _on_request_failed(self, request_id: int, message: str) -> None:
        self.core.request_failed(request_id, message)

    @Slot(int)
    def _on_request_cancelled(self, request_id: int) -> None:
        self.core.request_cancelled(request_id)

    @Slot(int)
    def _on_request_skipped(self, request_id: int) -> None:
        self.core.forget(request_id)
