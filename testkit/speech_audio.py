"""Spoken test audio for the speech-recognition tests and bench/stt.py: questions spoken by
espeak-ng, padded with silence and noise, and one Whisper model shared by the whole session.
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from desktop_app.speech.microphone import SAMPLE_RATE, read_audio_file
from desktop_app.speech.stt import Transcriber


@functools.lru_cache(maxsize=256)
def _spoken(text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    with tempfile.TemporaryDirectory(prefix="lookaloud-espeak-") as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path), text],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        audio = read_audio_file(path)
    audio.setflags(write=False)
    return audio


def speak(text: str, voice: str = "en-us", speed: int = 160, pitch: int = 50) -> np.ndarray:
    """`text` spoken by espeak-ng, as 16 kHz mono float32 (cached: the same call is free)."""
    return _spoken(text, voice, speed, pitch)


def noise(seconds: float, level: float = 0.003, seed: int = 0) -> np.ndarray:
    """Quiet background hiss (level 0.003 is about -50 dBFS: a fan in a quiet room)."""
    return _noise(int(seconds * SAMPLE_RATE), level, seed)


def _noise(samples: int, level: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, level, samples).astype(np.float32)


def surround(speech: np.ndarray, before: float = 1.0, after: float = 2.0, level: float = 0.003,
             seed: int = 0) -> np.ndarray:
    """Speech with `before`/`after` seconds of room noise around it, noise under the speech too."""
    audio = np.concatenate([np.zeros(int(before * SAMPLE_RATE), np.float32), speech,
                            np.zeros(int(after * SAMPLE_RATE), np.float32)])
    return audio + _noise(len(audio), level, seed)


def words(text: str) -> list[str]:
    """Lower-case words without punctuation, for loose transcript checks and word error rate."""
    cleaned = "".join(c if c.isalnum() or c in " '" else " " for c in text.lower())
    return cleaned.split()


@functools.lru_cache(maxsize=1)
def shared_transcriber() -> Transcriber:
    """One Transcriber of the default model for the test session: loading Whisper once saves CPU."""
    transcriber = Transcriber()
    transcriber.load()
    return transcriber
