"""The espeak-ng program as the own voice's synthesizer on Linux: `EspeakNgSynthesizer`.

One short process per sentence; its WAV comes back through a pipe, so no sound of the
user's screen is ever written to disk. Qt-free.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from desktop_app.speech.audio_out import Sound
from desktop_app.speech.speaker import VoiceInfo
from desktop_app.speech.synthesizers.base import Synthesizer


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
