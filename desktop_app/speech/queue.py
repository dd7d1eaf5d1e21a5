"""The queue and owner thread every real speaker shares: `QueuedSpeaker`.

Owns the priority queue (what `Priority` NOW / NEXT / NORMAL do, see speech/speaker.py), the
one owner thread per speaker on which its engine is opened, used and closed, the delivery
sentence by sentence (speech/sentences.py), the events for each utterance, and the real
interrupt: stop() from any thread drops the queue and cuts the sentence being said short
through the subclass's `_interrupt()`. The own voice (speech/own_voice.py) and the screen
readers reached through their own API (Orca, JAWS in speech/screenreader.py) are built on it.

Qt-free. Event callbacks run on the owner thread.
"""

from __future__ import annotations

import logging
import threading
from abc import abstractmethod
from collections import deque
from dataclasses import dataclass

from desktop_app.speech.sentences import split_sentences
from desktop_app.speech.speaker import Priority, Speaker, SpeechEvent, SpeechListener


@dataclass
class _Utterance:
    text: str
    priority: Priority
    generation: int
    braille_only: bool = False  # shown on the braille display, never spoken (see _show_braille)


class QueuedSpeaker(Speaker):
    """A speaker with its own thread reading a priority queue.

    Subclasses implement `_open()` (runs first on the owner thread), `_say(text, generation)`
    (says one sentence on the owner thread and returns when it has been said or was
    interrupted) and `_interrupt()` (called by stop() on the caller's thread; cuts `_say` short).
    """

    split_long_text = True

    def __init__(self, listener: SpeechListener | None = None) -> None:
        self.listener = listener
        self._cond = threading.Condition()
        self._queue: deque[_Utterance] = deque()
        self._generation = 0
        self._busy = False
        self._closed = False
        self._opened = threading.Event()
        self._open_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"speech-{self.name}", daemon=True)
        self._thread.start()

    # -- public API (any thread) -------------------------------------------------------------

    def speak(self, text: str, priority: Priority = Priority.NORMAL) -> None:
        text = text.strip()
        if priority is Priority.NOW:
            self.stop()
        if not text:
            return
        self._enqueue(text, priority)

    def _enqueue(self, text: str, priority: Priority, braille_only: bool = False) -> None:
        with self._cond:
            item = _Utterance(text, priority, self._generation, braille_only)
            if priority is Priority.NORMAL:
                self._queue.append(item)
            else:
                # After any NOW/NEXT already waiting, before the NORMAL ones.
                index = next(
                    (i for i, u in enumerate(self._queue) if u.priority is Priority.NORMAL), len(self._queue)
                )
                self._queue.insert(index, item)
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._generation += 1
            self._queue.clear()
        self._interrupt()

    @property
    def is_speaking(self) -> bool:
        with self._cond:
            return self._busy or bool(self._queue)

    def wait_until_done(self, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._busy and not self._queue or self._closed, timeout)

    def wait_until_ready(self, timeout: float | None = None) -> bool:
        """Block until the owner thread has started its engine; False if it could not."""
        return self._opened.wait(timeout) and self._open_error is None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self.stop()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    # -- owner thread ------------------------------------------------------------------------

    def _current_generation(self) -> int:
        with self._cond:
            return self._generation

    def _run(self) -> None:
        try:
            self._open()
        except Exception as exc:  # noqa: BLE001 - reported through FAILED and wait_until_ready
            self._open_error = exc
        self._opened.set()
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._closed)
                if self._closed:
                    self._busy = False
                    self._cond.notify_all()
                    break
                item = self._queue.popleft()
                self._busy = True
            self._deliver(item)
            with self._cond:
                self._busy = False
                self._cond.notify_all()
        self._close_engine()

    def _deliver(self, item: _Utterance) -> None:
        if item.braille_only:
            try:
                self._show_braille(item.text)
            except Exception:
                logging.getLogger(__name__).debug("Braille failed.", exc_info=True)
            return
        if self._open_error is not None:
            self._emit(SpeechEvent.FAILED, item.text)
            return
        self._emit(SpeechEvent.STARTED, item.text)
        parts = split_sentences(item.text) if self.split_long_text else [item.text]
        try:
            for part in parts:
                if self._current_generation() != item.generation:
                    break
                self._say(part, item.generation)
        except Exception:  # noqa: BLE001 - a broken engine must never kill the speech thread
            self._emit(SpeechEvent.FAILED, item.text)
            return
        interrupted = self._current_generation() != item.generation
        self._emit(SpeechEvent.INTERRUPTED if interrupted else SpeechEvent.FINISHED, item.text)

    def _emit(self, event: SpeechEvent, text: str) -> None:
        if self.listener is not None:
            try:
                self.listener(event, text)
            except Exception:  # a listener bug must not stop speech
                logging.getLogger(__name__).exception("A speech listener failed.")

    # -- for subclasses ----------------------------------------------------------------------

    def _open(self) -> None:
        """Optional: starts the engine, first thing on the owner thread."""

    def _close_engine(self) -> None:
        pass

    def _show_braille(self, text: str) -> None:
        """Optional: shows text on the braille display without speaking it, on the owner thread."""

    @abstractmethod
    def _say(self, text: str, generation: int) -> None: ...

    @abstractmethod
    def _interrupt(self) -> None: ...
