"""Speech out: the `Speaker` interface, its queue and priorities, and Lookaloud's own voice.

Owns:
- `Priority` (NOW / NEXT / NORMAL, as in NVDA's speech/priorities.py) and `SpeechEvent`.
- `Speaker`: speak(text, priority) never blocks; stop() interrupts at once from any thread.
- `QueuedSpeaker`: the owner thread, the priority queue and sentence-by-sentence delivery that
  every real speaker shares (the own voice and the screen readers in screenreader.py).
- `PyttsxSpeaker`: the own voice. pyttsx3 (espeak-ng on Linux, SAPI5 on Windows, NSSpeech on
  macOS) only synthesizes each sentence to a WAV file, on the owner thread that created it;
  an `AudioOut` player plays it, so stop() is a kill of that player and takes milliseconds.
- `SilentSpeaker`: the end of the fallback chain (NVDA's synthDrivers/silence.py).
- `split_sentences()` for long text.

Qt-free. Event callbacks run on the speaker's own thread: hop to the GUI thread before
touching widgets.
"""

from __future__ import annotations

import enum
import importlib
import itertools
import re
import sys
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from desktop_app.speech.audio_out import AudioOut, Playback, default_audio_out, temp_folder


class Priority(enum.IntEnum):
    """How a new utterance relates to what is being said (NVDA's speech priorities)."""

    NOW = 0  # interrupt whatever is being said, drop the queue, say this at once
    NEXT = 1  # say this as soon as the current utterance ends, before anything queued
    NORMAL = 2  # say this after everything already queued


class SpeechEvent(enum.Enum):
    STARTED = "started"
    FINISHED = "finished"
    INTERRUPTED = "interrupted"
    FAILED = "failed"


# (event, text of the utterance). Runs on the speaker's thread.
SpeechListener = Callable[[SpeechEvent, str], None]


@dataclass(frozen=True)
class VoiceInfo:
    id: str
    name: str
    languages: tuple[str, ...] = ()


class Speaker(ABC):
    """Something that can say text. Every method is safe to call from any thread."""

    name: str = "speaker"

    @classmethod
    def check(cls) -> bool:
        """Whether this kind of speaker can work on this machine (cheap, starts nothing)."""
        return True

    @abstractmethod
    def speak(self, text: str, priority: Priority = Priority.NORMAL) -> None:
        """Queue text to be said; returns at once."""

    @abstractmethod
    def stop(self) -> None:
        """Stop talking now and forget everything queued."""

    @property
    @abstractmethod
    def is_speaking(self) -> bool: ...

    def wait_until_done(self, timeout: float | None = None) -> bool:
        """Block until everything queued has been said; True when it has."""
        return True

    def set_voice(self, voice_id: str | None) -> None:  # noqa: B027 - optional for screen readers
        pass

    def set_rate(self, words_per_minute: int) -> None:  # noqa: B027
        pass

    def set_volume(self, volume: float) -> None:  # noqa: B027
        pass

    def voices(self) -> list[VoiceInfo]:
        return []

    def close(self) -> None:  # noqa: B027
        pass


class SilentSpeaker(Speaker):
    """Says nothing; used when no voice and no screen reader is available."""

    name = "silent"

    def speak(self, text: str, priority: Priority = Priority.NORMAL) -> None:
        pass

    def stop(self) -> None:
        pass

    @property
    def is_speaking(self) -> bool:
        return False


# ---------------------------------------------------------------------------------------------
# Sentences

# A sentence ends at . ! ? (or an ellipsis) followed by space, unless the word is a short
# abbreviation that usually goes on ("Dr. Smith", "e.g. this").
_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+")
_ABBREVIATIONS = {"mr.", "mrs.", "ms.", "dr.", "st.", "vs.", "e.g.", "i.e.", "etc.", "no.", "fig.", "approx."}
_MAX_SENTENCE = 300  # characters; longer runs are cut at a comma or space so stop stays quick


def split_sentences(text: str) -> list[str]:
    """Split text into sentences to be spoken one by one; blank lines and line ends split too."""
    sentences: list[str] = []
    for line in re.split(r"\n\s*", text):
        line = " ".join(line.split())
        if not line:
            continue
        start = 0
        for m in _END.finditer(line):
            last_word = line[start : m.start()].rsplit(" ", 1)[-1].lower()
            if last_word in _ABBREVIATIONS:
                continue
            sentences.append(line[start : m.start()].strip())
            start = m.end()
        sentences.append(line[start:].strip())
    return [piece for s in sentences if s for piece in _cut_long(s)]


def _cut_long(sentence: str) -> list[str]:
    pieces: list[str] = []
    while len(sentence) > _MAX_SENTENCE:
        window = sentence[:_MAX_SENTENCE]
        cut = max(window.rfind(", "), window.rfind("; "))
        cut = cut + 1 if cut > _MAX_SENTENCE // 3 else window.rfind(" ")
        if cut <= 0:
            cut = _MAX_SENTENCE
        pieces.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip()
    pieces.append(sentence)
    return pieces


# ---------------------------------------------------------------------------------------------
# The queue and owner thread shared by every real speaker


@dataclass
class _Utterance:
    text: str
    priority: Priority
    generation: int


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
        with self._cond:
            item = _Utterance(text, priority, self._generation)
            if priority is Priority.NORMAL:
                self._queue.append(item)
            else:
                # After any NOW/NEXT already waiting, before the NORMAL ones.
                index = next((i for i, u in enumerate(self._queue) if u.priority is Priority.NORMAL), len(self._queue))
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
            except Exception:  # noqa: BLE001 - a listener bug must not stop speech
                pass

    # -- for subclasses ----------------------------------------------------------------------

    def _open(self) -> None:  # noqa: B027 - optional
        pass

    def _close_engine(self) -> None:  # noqa: B027 - optional
        pass

    @abstractmethod
    def _say(self, text: str, generation: int) -> None: ...

    @abstractmethod
    def _interrupt(self) -> None: ...


# ---------------------------------------------------------------------------------------------
# The own voice: pyttsx3 synthesizes, an AudioOut plays


_DRIVER = {"win32": "sapi5", "darwin": "nsss"}.get(sys.platform, "espeak")
# The espeak driver keeps global state (one synth callback per process): one synthesis at a time.
_SYNTH_LOCK = threading.Lock()


class PyttsxSpeaker(QueuedSpeaker):
    """Lookaloud's own offline voice. Rate is in words per minute, volume 0..1."""

    name = "own voice"

    def __init__(
        self,
        audio_out: AudioOut | None = None,
        *,
        voice: str | None = None,
        rate: int = 175,
        volume: float = 1.0,
        listener: SpeechListener | None = None,
    ) -> None:
        self.audio_out = audio_out or default_audio_out()
        self._wanted: dict[str, object] = {"voice": voice, "rate": int(rate), "volume": float(volume)}
        self._applied: dict[str, object] = {}
        self._voices: list[VoiceInfo] = []
        self._engine: object | None = None
        self._playback: Playback | None = None
        self._play_lock = threading.Lock()
        self._folder = temp_folder("lookaloud-speech-")
        self._counter = itertools.count()
        super().__init__(listener)

    @classmethod
    def check(cls) -> bool:
        try:
            importlib.import_module("pyttsx3")
            # Importing the driver loads its native library (libespeak-ng, SAPI, AppKit).
            importlib.import_module(f"pyttsx3.drivers.{'_espeak' if _DRIVER == 'espeak' else _DRIVER}")
        except Exception:  # noqa: BLE001 - any failure means "not installed"
            return False
        return True

    # settings: remembered here, applied on the owner thread before the next sentence
    def set_voice(self, voice_id: str | None) -> None:
        self._wanted["voice"] = voice_id

    def set_rate(self, words_per_minute: int) -> None:
        self._wanted["rate"] = int(words_per_minute)

    def set_volume(self, volume: float) -> None:
        self._wanted["volume"] = min(max(float(volume), 0.0), 1.0)

    def voices(self) -> list[VoiceInfo]:
        self.wait_until_ready(timeout=10)
        return list(self._voices)

    def _open(self) -> None:
        import pyttsx3  # noqa: PLC0415 - heavy, and only on the owner thread

        if _DRIVER == "espeak":
            # pyttsx3 prints "Audio saved to ..." after each file; keep the CLI's stdout clean.
            espeak_driver = importlib.import_module("pyttsx3.drivers.espeak")
            espeak_driver.print = lambda *args, **kwargs: None  # type: ignore[attr-defined]
        with _SYNTH_LOCK:
            engine = pyttsx3.init(_DRIVER)
            self._voices = [
                VoiceInfo(str(v.id), str(v.name or v.id), tuple(str(lang) for lang in (v.languages or ())))
                for v in engine.getProperty("voices")
            ]
        self._engine = engine

    def _close_engine(self) -> None:
        self._engine = None

    def _apply_settings(self) -> None:
        engine = self._engine
        for key in ("voice", "rate", "volume"):
            value = self._wanted[key]
            if value is not None and self._applied.get(key) != value:
                engine.setProperty(key, value)  # type: ignore[attr-defined]
                self._applied[key] = value

    def synthesize(self, text: str, path: Path) -> Path:
        """Write `text` as speech to a WAV file. Owner thread only."""
        with _SYNTH_LOCK:
            self._apply_settings()
            self._engine.save_to_file(text, str(path))  # type: ignore[attr-defined]
            self._engine.runAndWait()  # type: ignore[attr-defined]
        return path

    def _say(self, text: str, generation: int) -> None:
        suffix = ".aiff" if sys.platform == "darwin" else ".wav"
        wav = self._folder / f"sentence-{next(self._counter) % 4}{suffix}"
        self.synthesize(text, wav)
        with self._play_lock:
            # stop() may have come while synthesizing; then this sentence must not start.
            if self._current_generation() != generation:
                return
            playback = self._playback = self.audio_out.start(wav)
        playback.wait()
        with self._play_lock:
            self._playback = None
        if not playback.ok:
            raise RuntimeError("The audio player failed.")

    def _interrupt(self) -> None:
        with self._play_lock:
            playback = self._playback
        if playback is not None:
            playback.stop()
