"""Audio playback for Lookaloud's own voice and earcons: one small interface, killable players.

Owns: the `AudioOut` interface (start a WAV, get a `Playback` that can be waited on or stopped
from any thread), the real players (a child-process player such as paplay/pw-play/aplay/afplay,
and winsound on Windows), `NullAudioOut` (paced like real audio, records what it was given, for
tests and for machines with no sound), and `default_audio_out()` which picks one.

Why child processes: pyttsx3's own Linux playback runs aplay synchronously and cannot be cut
short. Playing each synthesized WAV in a player process of our own means stop() is a kill,
which ends the sound at once, even in the middle of a sentence. Qt-free.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import wave
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np


class Playback(ABC):
    """One sound being played. All methods may be called from any thread."""

    @abstractmethod
    def wait(self, timeout: float | None = None) -> bool:
        """Block until the sound has ended (or was stopped); True when it has ended."""

    @abstractmethod
    def stop(self) -> None:
        """End the sound now. Returns once the sound can no longer be heard."""

    @property
    @abstractmethod
    def ok(self) -> bool:
        """False when the player failed (no device, missing file), known once it has ended."""


class AudioOut(ABC):
    """Somewhere WAV files can be played. start() never waits for the sound to end."""

    name: str = "audio"

    @abstractmethod
    def start(self, wav: Path) -> Playback:
        """Start playing a WAV file; returns at once. Callable from any thread."""

    def available(self) -> bool:
        return True


# ---------------------------------------------------------------------------------------------
# A player in a child process (Linux, macOS)


class _ProcessPlayback(Playback):
    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc
        self._stopped = False

    def wait(self, timeout: float | None = None) -> bool:
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def stop(self) -> None:
        self._stopped = True
        if self._proc.poll() is None:
            # SIGKILL, not SIGTERM: some players drain their buffer on TERM, which the user hears.
            self._proc.kill()
        self._proc.wait()

    @property
    def ok(self) -> bool:
        return self._stopped or self._proc.returncode == 0

    @property
    def pid(self) -> int:
        return self._proc.pid


class CommandAudioOut(AudioOut):
    """Plays each WAV with a command-line player, e.g. ["paplay"] or ["aplay", "-q", "-D", "null"]."""

    def __init__(self, command: list[str], env: dict[str, str] | None = None) -> None:
        self.command = list(command)
        self.env = env  # extra environment for the player, e.g. {"PULSE_SERVER": ...}
        self.name = " ".join(self.command)

    def available(self) -> bool:
        return shutil.which(self.command[0]) is not None

    def start(self, wav: Path) -> Playback:
        proc = subprocess.Popen(
            [*self.command, str(wav)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **self.env} if self.env else None,
        )
        return _ProcessPlayback(proc)


# ---------------------------------------------------------------------------------------------
# A sound that ends after its known duration (winsound and the null output)


class _TimedPlayback(Playback):
    """A sound whose end is its known duration: for players that cannot report the end."""

    def __init__(self, duration: float) -> None:
        self._done = threading.Event()
        self._timer = threading.Timer(duration, self._done.set)
        self._timer.daemon = True
        self._timer.start()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def stop(self) -> None:
        self._timer.cancel()
        self._done.set()

    @property
    def ok(self) -> bool:
        return True


# ---------------------------------------------------------------------------------------------
# Windows: winsound plays asynchronously and SND_PURGE cuts it short.


class _WinsoundPlayback(_TimedPlayback):
    def __init__(self, winsound: object, duration: float) -> None:
        self._winsound = winsound
        super().__init__(duration)  # winsound cannot report the end of a sound

    def stop(self) -> None:
        self._winsound.PlaySound(None, self._winsound.SND_PURGE)  # type: ignore[attr-defined]
        super().stop()


class WinsoundAudioOut(AudioOut):
    """Windows playback through the standard library's winsound (one sound at a time)."""

    name = "winsound"

    def __init__(self, winsound: object | None = None) -> None:
        if winsound is None:
            import winsound as _winsound  # Windows only

            winsound = _winsound
        self._winsound = winsound

    def start(self, wav: Path) -> Playback:
        flags = self._winsound.SND_FILENAME | self._winsound.SND_ASYNC  # type: ignore[attr-defined]
        self._winsound.PlaySound(str(wav), flags)  # type: ignore[attr-defined]
        return _WinsoundPlayback(self._winsound, wav_duration(wav))


# ---------------------------------------------------------------------------------------------
# Null: paced like a real device, keeps a copy of what it was given.


class NullAudioOut(AudioOut):
    """Plays nothing, taking as long as the sound lasts (or no time when paced=False).

    `played` keeps the samples of every WAV it was given, in order, so tests can check what
    would have been heard; `keep=False` turns that off for long-running use.
    """

    name = "null"

    def __init__(self, paced: bool = True, keep: bool = True) -> None:
        self.paced = paced
        self.keep = keep
        self.played: list[tuple[np.ndarray, int]] = []
        self._lock = threading.Lock()

    def start(self, wav: Path) -> Playback:
        samples, rate = read_wav(wav)
        if self.keep:
            with self._lock:
                self.played.append((samples, rate))
        return _TimedPlayback(len(samples) / rate if self.paced else 0.0)


# ---------------------------------------------------------------------------------------------
# WAV helpers shared by the speaker and the earcons


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono int16 samples and the sample rate of a 16-bit PCM WAV (stereo is mixed down)."""
    with wave.open(str(path), "rb") as f:
        rate, channels, width = f.getframerate(), f.getnchannels(), f.getsampwidth()
        data = f.readframes(f.getnframes())
    if width != 2:
        raise ValueError(f"{path} is not a 16-bit WAV file.")
    samples = np.frombuffer(data, dtype="<i2")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return samples, rate


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(np.asarray(samples, dtype="<i2").tobytes())


def wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as f:
        return f.getnframes() / float(f.getframerate())


def scaled_copy(src: Path, volume: float, folder: Path) -> Path:
    """A copy of `src` at `volume` (0..1) in `folder`; players have no common volume option."""
    volume = min(max(volume, 0.0), 1.0)
    dst = folder / f"{src.stem}-{round(volume * 100):03d}.wav"
    if not dst.exists():
        samples, rate = read_wav(src)
        write_wav(dst, np.round(samples.astype(np.float32) * volume).astype(np.int16), rate)
    return dst


def _sound_server_running() -> bool:
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    return bool(os.environ.get("PULSE_SERVER")) or bool(runtime and Path(runtime, "pulse", "native").exists())


def default_audio_out() -> AudioOut:
    """The best player this machine has; NullAudioOut (silent) when it has none.

    LOOKALOUD_AUDIO_PLAYER overrides the choice with a command, e.g. "aplay -q -D hw:1".
    """
    override = os.environ.get("LOOKALOUD_AUDIO_PLAYER")
    if override:
        return CommandAudioOut(override.split())
    if sys.platform == "win32":
        return WinsoundAudioOut()
    if sys.platform == "darwin":
        return CommandAudioOut(["afplay"])
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    candidates: list[list[str]] = []
    if _sound_server_running():
        candidates.append(["paplay"])
    if runtime and Path(runtime, "pipewire-0").exists():
        candidates.append(["pw-play"])
    # aplay's default device goes through PipeWire/PulseAudio where they run, or to ALSA.
    candidates.append(["aplay", "-q"])
    for command in candidates:
        out = CommandAudioOut(command)
        if out.available():
            return out
    return NullAudioOut(keep=False)


def temp_folder(prefix: str) -> Path:
    """A private temporary folder for synthesized speech and scaled earcons."""
    return Path(tempfile.mkdtemp(prefix=prefix))
