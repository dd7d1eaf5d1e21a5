"""The interface every synthesizer of the own voice implements: `Synthesizer` (text -> sound,
on the speaker's owner thread), like NVDA's SynthDriver.

Qt-free; starts no engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from desktop_app.speech.audio_out import Sound
from desktop_app.speech.speaker import VoiceInfo


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
