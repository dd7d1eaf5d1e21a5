"""Speech to text: `Transcriber`, offline Whisper through faster-whisper (CTranslate2).

Owns loading one Whisper model (base by default, see models/speech_catalog.py) and turning 16 kHz
mono float32 audio, or a sound file, into a `Transcript`: speech cut out by Silero VAD,
Whisper with a question prompt at temperature 0, and nothing at all from noise or silence. Qt-free. The model loads lazily on
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


# Whisper's initial prompt: example questions in the words users ask about (colours, shapes,
# text, signs, screens, windows, buttons, pictures). It lowered the word error rate on both
# benchmark sets (docs/stt.md). It holds no command phrase ("stop", "read the text"), so even
# an echo could never be obeyed, and echoes on non-speech are dropped by NO_SPEECH_MAX.
QUESTION_PROMPT = (
    "Questions about a picture on the screen: What color is the circle? "
    "Is there any writing on the sign? How many windows and buttons can you see? What shape is it?"
)
# A segment whose no-speech probability is above this is not speech (a prompt echoed on fan
# noise, breath or clicks); no real question in either benchmark set went above about 0.55.
NO_SPEECH_MAX = 0.8
# Whisper's own rule, kept: unsure it is speech and unsure of the words is not speech either.
_UNSURE_SPEECH, _UNSURE_WORDS = 0.6, -1.0
# Above this, the prompt may have put its own words in (a short "Stop." came out as "What is
# it?" with base): decode once more without the prompt and keep that. The same is done when
# the transcript is a piece of the prompt itself (see _echoes).
PROMPT_DOUBT = 0.5
# Silero VAD's speech threshold for the cut inside transcribe (its default is 0.5). At 0.5
# Lookaloud's four earcons over hiss passed as speech and base heard "Who?" in them (on this
# machine's CPU; the CI machine's gave no words); 0.6 drops them, and bench/stt.py gave the
# same word error rate on both sets at 0.5 and 0.6 (0.110 and 0.161), no words on any of the
# 24 noise-only clips.
VAD_THRESHOLD = 0.6
# Greedy at temperature 0, and no sampling fallback: the same audio always gives the same
# words (the fallback re-decodes unsure clips at random, and did not lower the error rate).
TEMPERATURE = 0.0


class Transcriber:
    """One Whisper model, loaded once, transcribing many questions.

    model: a catalog name (tiny.en, base, ...) or a folder holding a CTranslate2 Whisper model.
    language: a language code ("en", "fr"), or "auto" to detect (multilingual models only).
    beam_size: 5 costs little for a short question (Whisper's encoder, which always sees 30
        seconds, dominates) and made fewer word errors than greedy (see docs/stt.md).
    prompt: Whisper's initial prompt, to bias it toward the words users ask about; the question
        prompt by default (English only: no prompt for other languages), None for none.
    temperature: a float (0: repeatable), or a sequence for faster-whisper's fallback.
    no_speech_max: segments Whisper itself rates as more likely non-speech than this are dropped.
    """

    def __init__(self, model: str | Path = DEFAULT_STT_MODEL, *, language: str = "en",
                 device: str = "cpu", compute_type: str = "int8", cpu_threads: int = 0,
                 beam_size: int = 5, prompt: str | None = QUESTION_PROMPT,
                 temperature: float | tuple[float, ...] = TEMPERATURE,
                 no_speech_max: float = NO_SPEECH_MAX, vad_threshold: float = VAD_THRESHOLD) -> None:
        self.model_name = str(model)
        self.language = language.strip().lower()
        self.device = device
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads
        self.beam_size = beam_size
        # An English prompt would pull another language's words toward English ones.
        self.prompt = prompt if self.language in ("en", *AUTO_LANGUAGE) else None
        self.temperature = temperature
        self.no_speech_max = no_speech_max
        self.vad_threshold = vad_threshold
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
        """Load the model if needed. Runs off the GUI thread (about a second for base; its first use
        joins the model from its packages, about two seconds more).

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

    def transcribe(self, audio: np.ndarray | str | Path, *, trim_silence: bool = True) -> Transcript:
        """What was said; "" when nothing was said (silence, noise, clicks). Runs off the GUI
        thread; loads the model on first use.

        audio: 16 kHz mono float32 samples (as the listener records) or a sound file.
        trim_silence: let Silero VAD cut the audio to its speech first (on by default, for the
            listener's recordings too: Whisper left alone invents words on noise, and silence
            around a question makes it worse).
        """
        if not isinstance(audio, np.ndarray):
            audio = read_audio_file(audio)
        audio = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        with self._lock:
            self._load_locked()
            started = time.perf_counter()
            segments, info = self._decode(audio, self.prompt, trim_silence)
            text = self._text(segments)
            if self.prompt and (any(s.no_speech_prob > PROMPT_DOUBT for s in segments)
                                or _echoes(text, self.prompt)):
                segments, info = self._decode(audio, None, trim_silence)
                text = self._text(segments)
            seconds = time.perf_counter() - started
        return Transcript(text=text, language=info.language, audio_seconds=len(audio) / SAMPLE_RATE,
                          seconds=seconds)

    def _decode(self, audio: np.ndarray, prompt: str | None, vad: bool) -> tuple[list[Any], Any]:
        language = None if self.language in AUTO_LANGUAGE else self.language
        segments, info = self._model.transcribe(
            audio,
            language=language,
            beam_size=self.beam_size,
            temperature=self.temperature,
            # Each question stands alone; carrying text over invites repetition loops.
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=vad,
            vad_parameters={"threshold": self.vad_threshold} if vad else None,
            initial_prompt=prompt,
            no_speech_threshold=None,  # every segment comes back with its scores; _is_speech decides
        )
        return list(segments), info

    def _text(self, segments: list[Any]) -> str:
        return " ".join(s.text.strip() for s in segments if self._is_speech(s)).strip()

    def _is_speech(self, segment: Any) -> bool:
        if segment.no_speech_prob > self.no_speech_max:
            return False
        return not (segment.no_speech_prob > _UNSURE_SPEECH and segment.avg_logprob < _UNSURE_WORDS)


def _echoes(text: str, prompt: str) -> bool:
    """True when the transcript is only words of the prompt in its order (a short "Stop." came
    out as the prompt's "What shape is it?"): then it is decoded again without the prompt."""
    def plain(t: str) -> str:
        return " ".join("".join(c if c.isalnum() else " " for c in t.lower()).split())
    said = plain(text)
    return bool(said) and f" {said} " in f" {plain(prompt)} "


def heard_sentence(text: str) -> str:
    """What Lookaloud says before answering a spoken question, so that a misheard question is
    noticed before its answer is trusted: "You asked: what colour is the square?"."""
    text = " ".join(text.split())
    if text and text[-1] not in ".?!":
        text += "."
    return f"You asked: {text}"
