"""Recording one spoken question: from the ask key to the end of speech.

Owns `Listener`, which reads an `AudioSource` until the user stops speaking (voice activity
detection), presses the key again (`stop()`), or 30 seconds have passed, and returns the
speech cut out of the stream, with a little margin. The audio stays in memory and is never
written to disk. Qt-free; `listen()` blocks and runs off the GUI thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import numpy as np

from desktop_app.speech.microphone import SAMPLE_RATE, AudioSource
from desktop_app.speech.vad import VadEvent, VadSettings, VoiceActivityDetector

MAX_SECONDS = 30.0
# Nobody spoke: give up rather than keep the microphone open.
NO_SPEECH_SECONDS = 8.0
# Margin kept around the speech so first and last sounds are not clipped.
PAD_SECONDS = 0.3


class StopReason(Enum):
    END_OF_SPEECH = "end_of_speech"  # silence after speech
    STOPPED = "stopped"  # the user pressed the key again
    TIME_LIMIT = "time_limit"  # the 30-second cap
    NO_SPEECH = "no_speech"  # nothing was said
    SOURCE_ENDED = "source_ended"  # a file ran out
    CANCELLED = "cancelled"  # the app is closing or the user cancelled


@dataclass(frozen=True)
class Recording:
    audio: np.ndarray  # 16 kHz mono float32: the speech plus margins (all of it when no speech was heard)
    reason: StopReason
    heard_speech: bool

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE


class Listener:
    """Records one question from a source. Create one per question.

    `listen()` blocks (off the GUI thread); `stop()` and `cancel()` may be called from any
    thread and take effect within one frame (32 ms).
    """

    def __init__(self, source: AudioSource, *, vad_settings: VadSettings | None = None,
                 max_seconds: float = MAX_SECONDS, no_speech_seconds: float = NO_SPEECH_SECONDS,
                 pad_seconds: float = PAD_SECONDS) -> None:
        self.source = source
        self.vad_settings = vad_settings or VadSettings()
        self.max_seconds = max_seconds
        self.no_speech_seconds = no_speech_seconds
        self.pad_seconds = pad_seconds
        self._stop = threading.Event()
        self._cancel = threading.Event()

    def stop(self) -> None:
        """End the recording now and keep what was said (the second press of the ask key)."""
        self._stop.set()

    def cancel(self) -> None:
        """End the recording now and discard it."""
        self._cancel.set()
        self._stop.set()

    def listen(self, on_started: Callable[[], None] | None = None) -> Recording:
        """Record until end of speech, stop(), the time limit, or silence. Raises MicrophoneError
        from the source (no microphone, no permission). `on_started` is called once the source
        is open, which is when the user may start speaking (the start sound)."""
        vad = VoiceActivityDetector(self.vad_settings)
        chunks: list[np.ndarray] = []
        total = 0
        max_samples = int(self.max_seconds * SAMPLE_RATE)
        no_speech_samples = int(self.no_speech_seconds * SAMPLE_RATE)
        reason = StopReason.SOURCE_ENDED
        with self.source:
            if on_started is not None:
                on_started()
            for frame in self.source.frames():
                if self._stop.is_set():
                    break
                frame = frame[: max_samples - total]
                chunks.append(frame)
                total += len(frame)
                if VadEvent.SPEECH_ENDED in vad.accept(frame):
                    reason = StopReason.END_OF_SPEECH
                    break
                if total >= max_samples:
                    reason = StopReason.TIME_LIMIT
                    break
                if not vad.in_speech and total >= no_speech_samples:
                    reason = StopReason.NO_SPEECH
                    break
        if self._stop.is_set():
            reason = StopReason.CANCELLED if self._cancel.is_set() else StopReason.STOPPED
        audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
        start = vad.speech_start_sample
        if start is None or reason is StopReason.CANCELLED:
            return Recording(audio=audio, reason=reason, heard_speech=False)
        pad = int(self.pad_seconds * SAMPLE_RATE)
        end = vad.speech_end_sample if vad.speech_end_sample is not None else len(audio)
        return Recording(audio=audio[max(0, start - pad): end + pad], reason=reason, heard_speech=True)
