"""Speech in for the running app: `Listening` owns the Whisper transcriber, the microphone
choice and the ListenWorker in its thread, and `apply(old, new)` makes a change of speech
model, language or microphone take effect at the next question.

The "listening" sound comes at the key press: `listening_started` is emitted from listen() on
the GUI thread, before the worker thread loads Whisper or opens the microphone (the first
question used to wait seconds for the model before any sound). The worker opens the microphone
before it loads Whisper, and keeps what is said meanwhile.

GUI thread. The worker and its thread are built at the first question (Whisper costs memory
and seconds to load), and built again at the next question after a change made them stale:
never while a question is being heard, so applying settings never waits on a recording.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from desktop_app.settings import Settings
from desktop_app.speech.microphone import AudioSource, MicrophoneSource
from desktop_app.speech.stt import SttError, Transcriber
from desktop_app.workers.lifetime import WorkerThread
from desktop_app.workers.listen_worker import ListenWorker


class Listening(QObject):
    """The ask-aloud part. `listening_started`: the ask key was taken (play the listening sound
    now); the others are the worker's, passed on (see listen_worker.py)."""

    listening_started = Signal()
    listening_finished = Signal()
    transcribed = Signal(str)
    failed = Signal(str)

    def __init__(self, settings: Settings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self.transcriber: Transcriber | None = None
        # Where questions come from: a microphone by name (None: the system's default) or,
        # when set, this factory instead (tests hand in recorded speech here).
        self.microphone_factory: Callable[[str | None], AudioSource] = MicrophoneSource
        self.audio_source_factory: Callable[[], AudioSource] | None = None
        self._worker: ListenWorker | None = None
        self._thread: WorkerThread | None = None
        self._stale = False  # settings changed since the worker was built

    @property
    def is_listening(self) -> bool:
        return self._worker is not None and self._worker.is_listening

    def stop(self) -> None:
        """End the recording now and transcribe what was said (a second press of the ask key)."""
        if self._worker is not None:
            self._worker.stop()

    def listen(self) -> str | None:
        """Start hearing one question; None, or the sentence to say when listening cannot start."""
        if self._stale:
            self._close_worker()
        if self._worker is None:
            problem = self._build()
            if problem:
                return problem
        assert self._worker is not None
        self.listening_started.emit()  # the sound first: before Whisper loads and the microphone opens
        QTimer.singleShot(0, self._worker, self._worker.listen)
        return None

    def apply(self, old: Settings, new: Settings) -> None:
        """Use `new` from the next question on."""
        self._settings = new
        if (new.stt_model, new.language) != (old.stt_model, old.language):
            self.transcriber = None  # built from the new model and language at the next question
            self._stale = True
        if new.microphone != old.microphone:
            self._stale = True

    def close(self) -> None:
        """Drop any recording and end the thread (closing the app)."""
        self._close_worker()

    def _build(self) -> str | None:
        if self.transcriber is None:
            try:
                self.transcriber = Transcriber(self._settings.stt_model, language=self._settings.language)
            except SttError as exc:
                return str(exc)
        microphone = self._settings.microphone or None
        pick = self.microphone_factory
        source = self.audio_source_factory or (lambda: pick(microphone))
        worker = ListenWorker(self.transcriber, source_factory=source)
        worker.listening_finished.connect(self.listening_finished)
        worker.transcribed.connect(self.transcribed)
        worker.failed.connect(self.failed)
        self._worker, self._stale = worker, False
        self._thread = WorkerThread(worker, "lookaloud-listen", request_stop=worker.cancel)
        self._thread.start()
        return None

    def _close_worker(self) -> None:
        if self._thread is not None:
            self._thread.stop()
        self._worker = self._thread = None
