"""Speech to text: `Transcriber`, offline Whisper through faster-whisper (CTranslate2).

Owns loading one Whisper model (tiny.en by default, see models/speech_catalog.py) and turning 16 kHz
mono float32 audio, or a sound file, into a `Transcript`. Qt-free. The model loads lazily on
first use, in whichever thread uses it first (the listen worker's thread in the app); calls
are serialised by a lock, so one Transcriber may be shared.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.models.speech_catalog import DEFAULT_STT_MODEL, find_stt_model
from desktop_app.models.store import resolve_stt_model
from desktop_app.speech.microphone import SAMPLE_RATE, read_audio_file

# Language settings that mean "let the model tell".
AUTO_LANGUAGE = ("", "auto")


class SttError(Exception):
    """Speech recognition cannot run; str(error) is one sentence to speak to the user."""


class SttLanguageError(SttError):
    """The chosen language is one the chosen model cannot recognise."""


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    audio_seconds: float
    seconds: float  # time spent transcribing, for the benchmark and logs


class Transcriber:
    """One Whisper model, loaded once, transcribing many questions.

    model: a catalog name (tiny.en, base.en, ...) or a folder holding a CTranslate2 Whisper model.
    language: a language code ("en", "fr"), or "auto" to detect (multilingual models only).
    beam_size: 5 costs next to nothing for a short question (Whisper's encoder, which always
        sees 30 seconds, dominates) and made fewer word errors than greedy (see docs/stt.md).
    prompt: Whisper's initial prompt, to bias it toward words; none by default because a prompt
        can be echoed back on noise, and an echoed command would be acted on.
    """

    def __init__(self, model: str | Path = DEFAULT_STT_MODEL, *, language: str = "en",
                 device: str = "cpu", compute_type: str = "int8", cpu_threads: int = 0,
                 beam_size: int = 5, prompt: str | None = None) -> None:
        self.model_name = str(model)
        self.language = language.strip().lower()
        self.device = device
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads
        self.beam_size = beam_size
        self.prompt = prompt
        self._model: Any = None
        self._lock = threading.Lock()
        entry = find_stt_model(self.model_name)
        # Catch a language the model cannot do before the user speaks, not after.
        if entry is not None and entry.english_only and self.language not in ("en", *AUTO_LANGUAGE):
            raise SttLanguageError(
                f"The speech model {entry.name} understands only English. "
                "Choose a multilingual speech model in settings to ask in another language."
            )

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        """Load the model if needed. Runs off the GUI thread (about half a second for tiny.en).

        Raises SttModelError (models.speech_catalog) when the model is not installed, SttError when it
        cannot be loaded.
        """
        with self._lock:
            self._load_locked()

    def _load_locked(self) -> None:
        if self._model is not None:
            return
        folder = resolve_stt_model(self.model_name)
        from faster_whisper import WhisperModel

        try:
            self._model = WhisperModel(str(folder), device=self.device, compute_type=self.compute_type,
                                       cpu_threads=self.cpu_threads, local_files_only=True)
        except Exception as exc:  # CTranslate2 raises RuntimeError or ValueError for bad files
            raise SttError(f"The speech model in {folder} could not be loaded. It may be damaged.") from exc
        if not self._model.model.is_multilingual and self.language not in ("en", *AUTO_LANGUAGE):
            self._model = None
            raise SttLanguageError(
                "This speech model understands only English. "
                "Choose a multilingual speech model in settings to ask in another language."
            )

    def transcribe(self, audio: np.ndarray | str | Path, *, trim_silence: bool = False) -> Transcript:
        """What was said. Runs off the GUI thread; loads the model on first use.

        audio: 16 kHz mono float32 samples (as the listener records) or a sound file.
        trim_silence: let Silero VAD drop long silences first (useful for files; the listener's
            recordings are already cut to the speech).
        """
        if not isinstance(audio, np.ndarray):
            audio = read_audio_file(audio)
        audio = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        with self._lock:
            self._load_locked()
            started = time.perf_counter()
            language = None if self.language in AUTO_LANGUAGE else self.language
            segments, info = self._model.transcribe(
                audio,
                language=language,
                beam_size=self.beam_size,
                # Each question stands alone; carrying text over invites repetition loops.
                condition_on_previous_text=False,
                without_timestamps=True,
                vad_filter=trim_silence,
                initial_prompt=self.prompt,
            )
            text = " ".join(s.text.strip() for s in segments).strip()
            seconds = time.perf_counter() - started
        return Transcript(text=text, language=info.language, audio_seconds=len(audio) / SAMPLE_RATE,
                          seconds=seconds)
