"""Voice activity detection: is the user speaking, and have they finished?

Owns `VoiceActivityDetector`, a streaming wrapper around the Silero VAD model that
faster-whisper ships as ONNX (onnxruntime, no torch). Audio is fed in as it arrives; the
detector reports when speech starts and when it has ended (a run of silence after speech),
which is how a push-to-talk question stops by itself.

Qt-free. Not thread-safe: one detector belongs to one listening loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

SAMPLE_RATE = 16_000
# Silero v6 works on 512-sample windows (32 ms at 16 kHz) with 64 samples of left context.
WINDOW_SAMPLES = 512
_CONTEXT_SAMPLES = 64


class VadEvent(Enum):
    SPEECH_STARTED = "speech_started"
    SPEECH_ENDED = "speech_ended"


@dataclass(frozen=True)
class VadSettings:
    """Tuning for push-to-talk questions.

    threshold: speech probability above which a window counts as speech (Silero's default).
    min_speech_ms: speech shorter than this (a click, a cough) does not start a question.
    end_silence_ms: silence after speech that ends the question. Long enough for a pause
        between words, short enough that the user is not left waiting.
    """

    threshold: float = 0.5
    min_speech_ms: int = 120
    end_silence_ms: int = 900

    @property
    def neg_threshold(self) -> float:
        # Hysteresis as in faster-whisper: once speaking, only clearly silent windows count as silence.
        return max(self.threshold - 0.15, 0.01)


def _silero_session():  # type: ignore[no-untyped-def]
    # faster-whisper caches one ONNX session per process; reuse it rather than loading our own copy.
    from faster_whisper.vad import get_vad_model

    return get_vad_model().session


class VoiceActivityDetector:
    """Streaming speech start/end detection over 16 kHz mono float32 audio.

    Call `accept(samples)` with each block as it arrives (any length); it returns the events
    that block caused. `speech_start_sample` / `speech_end_sample` locate the speech in the
    stream so the caller can cut it out.
    """

    def __init__(self, settings: VadSettings | None = None) -> None:
        self.settings = settings or VadSettings()
        self._session = _silero_session()
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, _CONTEXT_SAMPLES), dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._position = 0  # samples already turned into probabilities
        self._candidate_start: int | None = None
        self._silence_start: int | None = None
        self.in_speech = False
        self.speech_start_sample: int | None = None
        self.speech_end_sample: int | None = None
        self.ended = False

    def probability(self, window: np.ndarray) -> float:
        """Speech probability of one 512-sample window, carrying the model's state forward."""
        block = window.reshape(1, WINDOW_SAMPLES)
        out, self._h, self._c = self._session.run(
            None, {"input": np.concatenate([self._context, block], axis=1), "h": self._h, "c": self._c}
        )
        self._context = block[:, -_CONTEXT_SAMPLES:]
        return float(np.asarray(out).reshape(-1)[0])

    def accept(self, samples: np.ndarray) -> list[VadEvent]:
        """Feed audio; returns SPEECH_STARTED / SPEECH_ENDED events caused by it (at most one each)."""
        events: list[VadEvent] = []
        self._pending = np.concatenate([self._pending, np.asarray(samples, dtype=np.float32).reshape(-1)])
        s = self.settings
        min_speech = s.min_speech_ms * SAMPLE_RATE // 1000
        end_silence = s.end_silence_ms * SAMPLE_RATE // 1000
        while len(self._pending) >= WINDOW_SAMPLES and not self.ended:
            window, self._pending = self._pending[:WINDOW_SAMPLES], self._pending[WINDOW_SAMPLES:]
            start = self._position
            self._position += WINDOW_SAMPLES
            p = self.probability(window)
            if not self.in_speech:
                if p >= s.threshold:
                    if self._candidate_start is None:
                        self._candidate_start = start
                    if self._position - self._candidate_start >= min_speech:
                        self.in_speech = True
                        self.speech_start_sample = self._candidate_start
                        events.append(VadEvent.SPEECH_STARTED)
                elif p < s.neg_threshold:
                    self._candidate_start = None
                continue
            if p >= s.threshold:
                self._silence_start = None
            elif p < s.neg_threshold:
                if self._silence_start is None:
                    self._silence_start = start
                if self._position - self._silence_start >= end_silence:
                    self.ended = True
                    self.speech_end_sample = self._silence_start
                    events.append(VadEvent.SPEECH_ENDED)
        return events


def speech_bounds(audio: np.ndarray, settings: VadSettings | None = None) -> tuple[int, int] | None:
    """(start, end) sample of the first complete-or-unfinished stretch of speech in `audio`, or None."""
    vad = VoiceActivityDetector(settings)
    vad.accept(audio)
    if vad.speech_start_sample is None:
        return None
    end = vad.speech_end_sample if vad.speech_end_sample is not None else len(audio)
    return vad.speech_start_sample, end
