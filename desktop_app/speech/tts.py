"""Speech out: the `Speaker` interface, its queue and priorities, and Lookaloud's own voice.

Owns:
- `Priority` (NOW / NEXT / NORMAL, as in NVDA's speech/priorities.py) and `SpeechEvent`.
- `Speaker`: speak(text, priority) never blocks; stop() interrupts at once from any thread.
- `QueuedSpeaker`: the owner thread, the priority queue and sentence-by-sentence delivery that
  every real speaker shares (the own voice and the screen readers in screenreader.py).
- `OwnVoiceSpeaker`: the own voice. A `Synthesizer` only turns each sentence into a sound,
  on the speaker's owner thread (the espeak-ng program on Linux, whose WAV comes back through
  a pipe; pyttsx3 with SAPI 5 on Windows and NSSpeechSynthesizer on macOS, created and run on
  that one thread, which can only write a file: one in the private folder, read back
  and deleted at once where it is a plain WAV); an `AudioOut` player plays it, so stop() is a
  kill of that player and takes milliseconds. A sentence is a description of the user's
  screen: no sound of it is left on disk.
- `SilentSpeaker`: the end of the fallback chain (NVDA's synthDrivers/silence.py).
- `split_sentences()` for long text.

Qt-free. Event callbacks run on the speaker's own thread: hop to the GUI thread before
touching widgets.
"""

from __future__ import annotations

import enum
import importlib
import logging
import re
import shutil
import subprocess
import sys
import threading
import wave
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desktop_app.private_files import private_folder
from desktop_app.speech.audio_out import AudioOut, Playback, Sound, default_audio_out


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

    def set_voice(self, voice_id: str | None) -> None:
        pass

    def set_rate(self, words_per_minute: int) -> None:
        pass

    def set_volume(self, volume: float) -> None:
        pass

    def voices(self) -> list[VoiceInfo]:
        return []

    def close(self) -> None:
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

    @abstractmethod
    def _say(self, text: str, generation: int) -> None: ...

    @abstractmethod
    def _interrupt(self) -> None: ...


# ---------------------------------------------------------------------------------------------
# Synthesizers: text -> sound, on the speaker's owner thread


class Synthesizer(ABC):
    """Turns one sentence into a sound. Called only on the owning speaker's thread.

    synthesize() returns a `Sound` in memory, or, where the engine's file cannot be read here
    (macOS AIFF, an unusual SAPI format), the path of a file in the private folder
    (desktop_app.private_files.private_folder), which the caller releases once played."""

    name = "synthesizer"
    suffix = ".wav"

    @classmethod
    def check(cls) -> bool:
        return True

    def open(self) -> None:
        """Optional: runs first, on the owner thread."""

    @abstractmethod
    def voices(self) -> list[VoiceInfo]: ...

    @abstractmethod
    def synthesize(self, text: str, *, voice: str | None, rate: int, volume: float) -> Sound | Path: ...


class EspeakNgSynthesizer(Synthesizer):
    """The espeak-ng program (Linux): one short process per sentence, no shared state."""

    name = "espeak-ng"

    def __init__(self, program: str = "espeak-ng") -> None:
        self.program = program

    @classmethod
    def check(cls) -> bool:
        return shutil.which("espeak-ng") is not None

    def voices(self) -> list[VoiceInfo]:
        out = subprocess.run(
            [self.program, "--voices"], check=False, capture_output=True, text=True, timeout=10
        ).stdout
        voices = []
        for line in out.splitlines()[1:]:
            # Pty Language Age/Gender VoiceName File Other-languages
            fields = line.split()
            if len(fields) >= 5:
                voices.append(VoiceInfo(fields[4], fields[3].replace("_", " "), (fields[1],)))
        return voices

    def synthesize(self, text: str, *, voice: str | None, rate: int, volume: float) -> Sound | Path:
        command = [
            self.program,
            "--stdout",  # the WAV comes back through a pipe: never a file
            "-s",
            str(min(max(rate, 80), 450)),
            "-a",
            str(round(volume * 100)),
        ]
        if voice:
            command += ["-v", voice]
        # Text on stdin: a sentence starting with "-" must not be read as an option.
        done = subprocess.run(command, input=text.encode("utf-8"), check=True, timeout=30, capture_output=True)
        return Sound.from_wav_bytes(done.stdout)


_DRIVER = {"win32": "sapi5", "darwin": "nsss"}.get(sys.platform, "espeak")
# pyttsx3's espeak driver keeps global state (one synth callback per process): one at a time.
_SYNTH_LOCK = threading.Lock()


class PyttsxSynthesizer(Synthesizer):
    """pyttsx3: SAPI 5 on Windows, NSSpeechSynthesizer on macOS (and libespeak-ng elsewhere)."""

    name = "pyttsx3"
    suffix = ".aiff" if sys.platform == "darwin" else ".wav"

    def __init__(self) -> None:
        self._engine: Any = None
        self._applied: dict[str, object] = {}

    @classmethod
    def check(cls) -> bool:
        try:
            importlib.import_module("pyttsx3")
            # Importing the driver loads its native library (libespeak-ng, SAPI, AppKit).
            importlib.import_module(f"pyttsx3.drivers.{'_espeak' if _DRIVER == 'espeak' else _DRIVER}")
        except Exception:  # noqa: BLE001 - any failure means "not installed"
            return False
        return True

    def open(self) -> None:
        import pyttsx3  # heavy, and only ever on the owner thread

        if _DRIVER == "espeak":
            # pyttsx3 prints "Audio saved to ..." after each file; keep the CLI's stdout clean.
            espeak_driver = importlib.import_module("pyttsx3.drivers.espeak")
            espeak_driver.print = lambda *args, **kwargs: None  # type: ignore[attr-defined]
        self._engine = pyttsx3.init(_DRIVER)

    def voices(self) -> list[VoiceInfo]:
        return [
            VoiceInfo(str(v.id), str(v.name or v.id), tuple(str(lang) for lang in (v.languages or ())))
            for v in self._engine.getProperty("voices")
        ]

    def synthesize(self, text: str, *, voice: str | None, rate: int, volume: float) -> Sound | Path:
        # pyttsx3 2.99 queues setProperty behind its own busy/endLoop state machine, and on
        # espeak a changed rate was silently lost (checked here); the driver's own setProperty
        # applies at once. (Its espeak driver also sometimes wrote a sentence into the next
        # file, which is why Linux uses EspeakNgSynthesizer.)
        driver = getattr(getattr(self._engine, "proxy", None), "_driver", None)
        set_property = driver.setProperty if driver is not None else self._engine.setProperty
        for key, value in (("voice", voice), ("rate", rate), ("volume", volume)):
            if value is not None and self._applied.get(key) != value:
                set_property(key, value)
                self._applied[key] = value
        # pyttsx3 can only write a file: one in the private folder (made 0600 before the
        # engine writes it), deleted as soon as it has been read back.
        folder = private_folder()
        path = folder.new_file(self.suffix)
        try:
            self._engine.save_to_file(text, str(path))
            self._engine.runAndWait()
            sound = Sound.from_file(path)
        except (ValueError, EOFError, wave.Error):
            return path  # a format only the player reads (AIFF): played as a file, then released
        except BaseException:
            folder.release(path)
            raise
        folder.release(path)
        return sound


def default_synthesizer() -> Synthesizer | None:
    """espeak-ng on Linux, pyttsx3 (SAPI 5, NSSpeech) elsewhere; None when neither is installed."""
    for kind in (EspeakNgSynthesizer, PyttsxSynthesizer):
        if kind.check():
            return kind()
    return None


# ---------------------------------------------------------------------------------------------
# The own voice: a synthesizer makes each sentence's sound, an AudioOut plays it


class OwnVoiceSpeaker(QueuedSpeaker):
    """Lookaloud's own offline voice. Rate is in words per minute, volume 0..1."""

    name = "own voice"

    def __init__(
        self,
        audio_out: AudioOut | None = None,
        synthesizer: Synthesizer | None = None,
        *,
        voice: str | None = None,
        rate: int = 175,
        volume: float = 1.0,
        listener: SpeechListener | None = None,
    ) -> None:
        synthesizer = synthesizer or default_synthesizer()
        if synthesizer is None:
            raise RuntimeError("No speech engine is installed.")
        self.synthesizer = synthesizer
        self.audio_out = audio_out or default_audio_out()
        self.voice, self.rate, self.volume = voice, int(rate), float(volume)
        self._voices: list[VoiceInfo] = []
        self._playback: Playback | None = None
        self._play_lock = threading.Lock()
        super().__init__(listener)

    @classmethod
    def check(cls) -> bool:
        return EspeakNgSynthesizer.check() or PyttsxSynthesizer.check()

    # Settings take effect from the next sentence.
    def set_voice(self, voice_id: str | None) -> None:
        self.voice = voice_id or None

    def set_rate(self, words_per_minute: int) -> None:
        self.rate = int(words_per_minute)

    def set_volume(self, volume: float) -> None:
        self.volume = min(max(float(volume), 0.0), 1.0)

    def voices(self) -> list[VoiceInfo]:
        self.wait_until_ready(timeout=10)
        return list(self._voices)

    def _open(self) -> None:
        with _SYNTH_LOCK:
            self.synthesizer.open()
            self._voices = self.synthesizer.voices()

    def synthesize(self, text: str) -> Sound | Path:
        """Turn `text` into speech (a Path is a file in the private folder). Owner thread only."""
        with _SYNTH_LOCK:
            return self.synthesizer.synthesize(text, voice=self.voice, rate=self.rate, volume=self.volume)

    def _say(self, text: str, generation: int) -> None:
        sound = self.synthesize(text)
        try:
            self._play(sound, generation)
        finally:
            if isinstance(sound, Path):
                private_folder().release(sound)

    def _play(self, sound: Sound | Path, generation: int) -> None:
        with self._play_lock:
            # stop() may have come while synthesizing; then this sentence must not start.
            if self._current_generation() != generation:
                return
            playback = self._playback = self.audio_out.start(sound)
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
