"""pyttsx3 as the own voice's synthesizer: `PyttsxSynthesizer` (SAPI 5 on Windows,
NSSpeechSynthesizer on macOS, libespeak-ng elsewhere).

Created and run on the speaker's one owner thread. pyttsx3 can only write a file: one in the
private folder (desktop_app.private_files), read back and deleted at once where it is a plain
WAV, or handed to the player and released after (macOS AIFF). Qt-free.
"""

from __future__ import annotations

import importlib
import sys
import wave
from pathlib import Path
from typing import Any

from desktop_app.private_files import private_folder
from desktop_app.speech.audio_out import Sound
from desktop_app.speech.speaker import VoiceInfo
from desktop_app.speech.synthesizers.base import Synthesizer

_DRIVER = {"win32": "sapi5", "darwin": "nsss"}.get(sys.platform, "espeak")


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
