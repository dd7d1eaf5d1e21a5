"""The speaker interface every speech output shares (NVDA's synthDriverHandler, in small).

Owns:
- `Priority` (NOW / NEXT / NORMAL) and what each one does; `SpeechEvent` and `SpeechListener`.
- `VoiceInfo`: one voice a speaker offers.
- `Speaker`: speak(text, priority) never blocks; stop() interrupts at once from any thread.
- `SilentSpeaker`: the end of the fallback chain (NVDA's synthDrivers/silence.py).

Qt-free. Event callbacks run on the speaker's own thread: hop to the GUI thread before
touching widgets.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass


class Priority(enum.IntEnum):
    """How a new utterance relates to what is being said. Names from NVDA's
    speech/priorities.py, but not its behaviour:

    - NOW stops what is being said and drops everything queued (earlier NOW and NEXT
      utterances included), then says this; nothing that was cut off comes back. In NVDA, NOW
      pauses lower-priority speech, which resumes once the NOW speech has been said, and does
      not cut off speech of its own priority.
    - NEXT waits for the utterance being said to end (all of its sentences), then goes before
      everything NORMAL that is queued, after any NOW or NEXT already waiting. NVDA's NEXT waits
      only for the end of the current utterance of lower priority (one piece of its speech
      sequence), and the rest of that lower-priority speech follows.
    - NORMAL goes after everything already queued, as in NVDA.

    This is the contract of `QueuedSpeaker` (the own voice, Orca, JAWS). Screen readers spoken
    to directly keep their own queue: NVDA cancels its speech for NOW and queues NEXT like
    NORMAL; an accessibility announcement (VoiceOver, Narrator) ignores the priority.
    The numbers are Lookaloud's own and sort the other way round from NVDA's (NOW = 0 here,
    2 there): never pass them to NVDA.
    """

    NOW = 0
    NEXT = 1
    NORMAL = 2


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
