"""The Qt side of asking aloud: `ListenWorker`, a QObject that lives in its own QThread and
turns one press of the ask key into a transcript.

It adapts the Qt-free Listener (speech/listener.py) and Transcriber (speech/stt.py) to
signals. Wiring (workers/listening.py does it for the app):

    worker = ListenWorker(Transcriber(model, language=lang), lambda: MicrophoneSource(settings.microphone))
    thread = WorkerThread(worker, "lookaloud-listen", request_stop=worker.cancel); thread.start()
    ask_requested.connect(worker.listen)          # queued: runs in the worker thread
    second press -> worker.stop()                  # direct call: listen() is busy in that thread
    shutdown     -> thread.stop()                  # worker.cancel(), quit(), wait()

Signals, in order: listening_started (the microphone is open), listening_finished (speech was
heard and the recording is over: play the end sound), then transcribed(text) or failed(message).
Nothing heard (silence), a microphone that cannot open or fails, and a speech model that is not
installed each give failed(message) alone: one error sound and one sentence, never the end sound
as well. The app's "listening" sound does not wait for this thread: workers/listening.py plays
it at the key press, and this worker opens the microphone before it loads Whisper (its frames
wait in the microphone's queue meanwhile), so a question asked right after the sound is kept.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from desktop_app.models.speech_catalog import SttModelError
from desktop_app.models.store import resolve_stt_model
from desktop_app.speech.listener import Listener, StopReason
from desktop_app.speech.microphone import AudioSource, MicrophoneError, MicrophoneSource
from desktop_app.speech.stt import SttError, Transcriber

log = logging.getLogger(__name__)

NOTHING_HEARD = "I did not hear a question."
RECOGNITION_FAILED = "Speech recognition failed, so your question was not understood. Please try again."


def _message(exc: Exception) -> str:
    """The sentence to speak for a failure: ours are already sentences; anything else is logged."""
    if isinstance(exc, (MicrophoneError, SttError, SttModelError)):
        return str(exc)
    log.error("Asking aloud failed", exc_info=exc)
    return RECOGNITION_FAILED


class ListenWorker(QObject):
    listening_started = Signal()
    listening_finished = Signal()
    transcribed = Signal(str)
    failed = Signal(str)

    def __init__(self, transcriber: Transcriber,
                 source_factory: Callable[[], AudioSource] = MicrophoneSource,
                 listener_factory: Callable[[AudioSource], Listener] = Listener,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.transcriber = transcriber
        self._source_factory = source_factory
        self._listener_factory = listener_factory
        self._lock = threading.Lock()
        self._listener: Listener | None = None
        self._busy = False  # from listen() being entered until the recording ends
        self._called_off = False  # stop()/cancel() came before the microphone opened

    @property
    def is_listening(self) -> bool:
        """True from the start of listen() (the model may still be loading) until the recording
        ends; a second press of the ask key in that time should call stop(). Any thread."""
        with self._lock:
            return self._busy

    def stop(self) -> None:
        """End the recording and transcribe what was said. Call directly from any thread.
        Before the recording has begun (Whisper still loading), it calls the question off instead."""
        with self._lock:
            if self._listener is not None:
                self._listener.stop()
            elif self._busy:
                self._called_off = True

    def cancel(self) -> None:
        """End the recording and drop it (closing the app). Call directly from any thread."""
        with self._lock:
            if self._listener is not None:
                self._listener.cancel()
            elif self._busy:
                self._called_off = True

    @Slot()
    def preload(self) -> None:
        """Load the speech model ahead of the first question. Runs in the worker thread."""
        try:
            self.transcriber.load()
        except Exception as exc:  # noqa: BLE001
            self.failed.emit(_message(exc))

    @Slot()
    def listen(self) -> None:
        """Record one question and transcribe it. Runs in the worker thread; blocks it while
        recording (up to 30 seconds), which is why stop() and cancel() are direct calls."""
        with self._lock:
            self._busy, self._called_off = True, False
        try:
            self._listen()
        finally:
            with self._lock:
                self._busy = False

    def _listen(self) -> None:
        try:
            if not self.transcriber.loaded:
                # Before the microphone opens: a missing model must not cost the user a spoken
                # question. Finding the folder is quick; loading it comes after the microphone.
                resolve_stt_model(self.transcriber.model_name)
        except Exception as exc:  # noqa: BLE001
            self.failed.emit(_message(exc))
            return
        recording = None
        error = ""
        try:
            with self._lock:
                if self._called_off:  # pressed again already: never open the microphone
                    return
                source = self._source_factory()
            source.open()  # listening from here: what is said while Whisper loads waits in its queue
            try:
                self.listening_started.emit()
                self.transcriber.load()
                with self._lock:
                    if self._called_off:  # pressed again while Whisper loaded: the question is off
                        return
                    listener = self._listener_factory(_AlreadyOpen(source))
                    self._listener = listener
                recording = listener.listen()
            finally:
                with self._lock:
                    self._listener, self._busy = None, False
                source.close()
        except Exception as exc:  # noqa: BLE001 - a worker must report, never die silently
            error = _message(exc)
        if recording is None:
            self.failed.emit(error)
            return
        if recording.reason is StopReason.CANCELLED:
            return
        if not recording.heard_speech:
            self.failed.emit(NOTHING_HEARD)  # one error sound and one sentence: no end sound first
            return
        self.listening_finished.emit()
        try:
            text = self.transcriber.transcribe(recording.audio).text
        except Exception as exc:  # noqa: BLE001
            self.failed.emit(_message(exc))
            return
        if text:
            self.transcribed.emit(text)
        else:
            self.failed.emit(NOTHING_HEARD)


class _AlreadyOpen(AudioSource):
    """A source the worker opened itself, handed to the Listener, whose `with` must neither open
    it a second time nor close it (the worker does, once)."""

    def __init__(self, source: AudioSource) -> None:
        self._source = source

    def open(self) -> None:
        pass

    def frames(self) -> Iterator[np.ndarray]:
        return self._source.frames()

    def close(self) -> None:
        pass
