"""Lookaloud's own offline voice: `OwnVoiceSpeaker`.

A `Synthesizer` (speech/synthesizers/) turns each sentence into a sound on the speaker's owner
thread (speech/queue.py); an `AudioOut` player (speech/audio_out.py) plays it, so stop() is a
kill of that player and takes milliseconds. A sentence is a description of the user's screen:
no sound of it is left on disk (a file the synthesizer had to write is released once played).

Qt-free. Event callbacks run on the speaker's own thread.
"""

from __future__ import annotations

import threading
from pathlib import Path

from desktop_app.private_files import private_folder
from desktop_app.speech.audio_out import AudioOut, Playback, Sound, default_audio_out
from desktop_app.speech.queue import QueuedSpeaker
from desktop_app.speech.speaker import SpeechListener, VoiceInfo
from desktop_app.speech.synthesizers import Synthesizer, default_synthesizer, synthesizer_available

# pyttsx3's espeak driver keeps global state (one synth callback per process): one synthesizer
# call at a time in the whole process.
_SYNTH_LOCK = threading.Lock()


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
        return synthesizer_available()

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
