"""Audio playback for Lookaloud's own voice and earcons: sounds in memory, killable players.

Owns: `Sound` (mono 16-bit samples in memory: what the synthesizers make and the earcons are),
the `AudioOut` interface (start a sound, get a `Playback` that can be waited on or stopped
from any thread), the real players (a child-process player such as paplay/pw-play/aplay/afplay,
and winsound on Windows), `NullAudioOut` (paced like real audio, records what it was given, for
tests and for machines with no sound), `default_audio_out()` which picks one, and the one
rest is in desktop_app/private_files.py: the private folder for the rare sound that has to be a file.

Why child processes: pyttsx3's own Linux playback runs aplay synchronously and cannot be cut
short. Playing each sound in a player process of our own means stop() is a kill, which ends
the sound at once, even in the middle of a sentence.

Why in memory: a spoken sentence is a description of the user's screen. Players that read
standard input (aplay, paplay) are fed the WAV through a pipe, so nothing is written to disk.
A player that only takes a file name (afplay, winsound, an unknown LOOKALOUD_AUDIO_PLAYER)
gets a file in the private folder (desktop_app/private_files.py), deleted as soon as it has
played.
Qt-free.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import threading
import wave
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desktop_app.private_files import private_folder


@dataclass(frozen=True, eq=False)
class Sound:
    """A sound in memory: mono int16 samples and their rate."""

    samples: np.ndarray
    rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / float(self.rate)

    def wav_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as f:
            f.setnchannels(1)
            f.setsampwidth(2)
            f.setframerate(self.rate)
            f.writeframes(np.asarray(self.samples, dtype="<i2").tobytes())
        return buffer.getvalue()

    @classmethod
    def from_wav_bytes(cls, data: bytes) -> Sound:
        """Parses a 16-bit PCM WAV, also one streamed to a pipe (espeak-ng --stdout writes
        placeholder sizes there, which Python's wave module would take at their word)."""
        if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
            raise ValueError("This is not a WAV sound.")
        pos, fmt, pcm = 12, None, None
        while pos + 8 <= len(data) and pcm is None:
            kind, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
            body = data[pos + 8 : pos + 8 + size]  # a placeholder size runs to the end
            if kind == b"fmt ":
                fmt = body
            elif kind == b"data":
                pcm = body
            pos += 8 + size + (size & 1)
        if fmt is None or pcm is None:
            raise ValueError("This WAV sound has no audio in it.")
        channels = int.from_bytes(fmt[2:4], "little")
        rate = int.from_bytes(fmt[4:8], "little")
        width = int.from_bytes(fmt[14:16], "little") // 8
        if int.from_bytes(fmt[0:2], "little") != 1 or width != 2 or channels < 1:
            raise ValueError("This WAV sound is not 16-bit PCM.")
        usable = len(pcm) - len(pcm) % (2 * channels)
        return cls(_mono(np.frombuffer(pcm[:usable], dtype="<i2"), channels), rate)

    @classmethod
    def from_file(cls, path: Path) -> Sound:
        samples, rate = read_wav(path)
        return cls(samples, rate)

    def scaled(self, volume: float) -> Sound:
        """This sound at `volume` (0..1); players have no common volume option."""
        volume = min(max(volume, 0.0), 1.0)
        if volume == 1.0:
            return self
        return Sound(np.round(self.samples.astype(np.float32) * volume).astype(np.int16), self.rate)


def _mono(samples: np.ndarray, channels: int) -> np.ndarray:
    if channels > 1:
        return samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return samples


SoundSource = Sound | Path


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
    """Somewhere sounds can be played. start() never waits for the sound to end."""

    name: str = "audio"

    @abstractmethod
    def start(self, sound: SoundSource) -> Playback:
        """Start playing a sound in memory or a WAV file; returns at once. Any thread."""

    def available(self) -> bool:
        return True


# ---------------------------------------------------------------------------------------------
# A player in a child process (Linux, macOS)


class _ProcessPlayback(Playback):
    """A player process; `feed` (bytes for its stdin) and `release` (a file to delete once it
    has ended) are handled on a small thread of their own, so start() returns at once."""

    def __init__(
        self, proc: subprocess.Popen[bytes], feed: bytes | None = None, release: Callable[[], None] | None = None
    ) -> None:
        self._proc = proc
        self._stopped = False
        self._feed_failed = False
        self._ended = threading.Event()
        self._feed, self._release = feed, release
        if feed is None and release is None:
            self._thread: threading.Thread | None = None
        else:
            self._thread = threading.Thread(target=self._run, name="audio-player", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            if self._feed is not None and self._proc.stdin is not None:
                try:
                    self._proc.stdin.write(self._feed)
                except OSError:  # the player died or was stopped: the pipe is broken
                    self._feed_failed = not self._stopped
                finally:
                    try:
                        self._proc.stdin.close()
                    except OSError:
                        pass
                self._feed = None
            self._proc.wait()
        finally:
            if self._release is not None:
                self._release()  # the sound is over: its file goes at once
            self._ended.set()

    def wait(self, timeout: float | None = None) -> bool:
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        if self._thread is not None:
            self._ended.wait()  # only the file's deletion or the pipe's close is left
        return True

    def stop(self) -> None:
        self._stopped = True
        if self._proc.poll() is None:
            # SIGKILL, not SIGTERM: some players drain their buffer on TERM, which the user hears.
            self._proc.kill()
        self._proc.wait()
        if self._thread is not None:
            self._ended.wait()

    @property
    def ok(self) -> bool:
        return self._stopped or (self._proc.returncode == 0 and not self._feed_failed)

    @property
    def pid(self) -> int:
        return self._proc.pid


# Players known to read a WAV from standard input when given no file name.
_READS_STDIN = {"aplay", "paplay"}


class CommandAudioOut(AudioOut):
    """Plays each sound with a command-line player, e.g. ["paplay"] or ["aplay", "-q", "-D", "null"].

    A sound in memory goes to the player's standard input when it reads one (`stdin`; by
    default for aplay and paplay), else to a file in the private sound folder that is deleted
    as soon as it has played.
    """

    def __init__(self, command: list[str], env: dict[str, str] | None = None, *, stdin: bool | None = None) -> None:
        self.command = list(command)
        self.env = env  # extra environment for the player, e.g. {"PULSE_SERVER": ...}
        self.name = " ".join(self.command)
        self.stdin = Path(self.command[0]).name in _READS_STDIN if stdin is None else stdin

    def available(self) -> bool:
        return shutil.which(self.command[0]) is not None

    def _popen(self, args: list[str], stdin: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [*self.command, *args],
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **self.env} if self.env else None,
        )

    def start(self, sound: SoundSource) -> Playback:
        if isinstance(sound, Path):
            return _ProcessPlayback(self._popen([str(sound)], subprocess.DEVNULL))
        if self.stdin:
            return _ProcessPlayback(self._popen([], subprocess.PIPE), feed=sound.wav_bytes())
        folder = private_folder()
        path = folder.new_file(".wav", sound.wav_bytes())
        try:
            proc = self._popen([str(path)], subprocess.DEVNULL)
        except BaseException:
            folder.release(path)
            raise
        return _ProcessPlayback(proc, release=lambda: folder.release(path))


# ---------------------------------------------------------------------------------------------
# A sound that ends after its known duration (winsound and the null output)


class _TimedPlayback(Playback):
    """A sound whose end is its known duration: for players that cannot report the end."""

    def __init__(self, duration: float, on_end: Callable[[], None] | None = None) -> None:
        self._done = threading.Event()
        self._on_end = on_end
        self._end_lock = threading.Lock()
        self._timer = threading.Timer(duration, self._end)
        self._timer.daemon = True
        self._timer.start()

    def _end(self) -> None:
        with self._end_lock:
            on_end, self._on_end = self._on_end, None
        if on_end is not None:
            on_end()
        self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def stop(self) -> None:
        self._timer.cancel()
        self._end()

    @property
    def ok(self) -> bool:
        return True


# ---------------------------------------------------------------------------------------------
# Windows: winsound plays asynchronously and SND_PURGE cuts it short.


class _WinsoundPlayback(_TimedPlayback):
    def __init__(self, winsound: object, duration: float, on_end: Callable[[], None] | None = None) -> None:
        self._winsound = winsound
        super().__init__(duration, on_end)  # winsound cannot report the end of a sound

    def stop(self) -> None:
        self._winsound.PlaySound(None, self._winsound.SND_PURGE)  # type: ignore[attr-defined]
        super().stop()


class WinsoundAudioOut(AudioOut):
    """Windows playback through the standard library's winsound (one sound at a time).

    winsound cannot play from memory asynchronously, so a sound in memory becomes a file in
    the private sound folder for as long as it plays.
    """

    name = "winsound"

    def __init__(self, winsound: object | None = None) -> None:
        if winsound is None:
            import winsound as _winsound  # Windows only

            winsound = _winsound
        self._winsound = winsound

    def start(self, sound: SoundSource) -> Playback:
        flags = self._winsound.SND_FILENAME | self._winsound.SND_ASYNC  # type: ignore[attr-defined]
        if isinstance(sound, Path):
            self._winsound.PlaySound(str(sound), flags)  # type: ignore[attr-defined]
            return _WinsoundPlayback(self._winsound, wav_duration(sound))
        folder = private_folder()
        path = folder.new_file(".wav", sound.wav_bytes())
        try:
            self._winsound.PlaySound(str(path), flags)  # type: ignore[attr-defined]
        except BaseException:
            folder.release(path)
            raise
        return _WinsoundPlayback(self._winsound, sound.duration, on_end=lambda: folder.release(path))


# ---------------------------------------------------------------------------------------------
# Null: paced like a real device, keeps a copy of what it was given.


class NullAudioOut(AudioOut):
    """Plays nothing, taking as long as the sound lasts (or no time when paced=False).

    `played` keeps the samples of every sound it was given, in order, so tests can check what
    would have been heard; `keep=False` turns that off for long-running use.
    """

    name = "null"

    def __init__(self, paced: bool = True, keep: bool = True) -> None:
        self.paced = paced
        self.keep = keep
        self.played: list[tuple[np.ndarray, int]] = []
        self._lock = threading.Lock()

    def start(self, sound: SoundSource) -> Playback:
        samples, rate = read_wav(sound) if isinstance(sound, Path) else (sound.samples, sound.rate)
        if self.keep:
            with self._lock:
                self.played.append((samples, rate))
        return _TimedPlayback(len(samples) / rate if self.paced else 0.0)


# ---------------------------------------------------------------------------------------------
# WAV helpers


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono int16 samples and the sample rate of a 16-bit PCM WAV (stereo is mixed down)."""
    with wave.open(str(path), "rb") as f:
        rate, channels, width = f.getframerate(), f.getnchannels(), f.getsampwidth()
        data = f.readframes(f.getnframes())
    if width != 2:
        raise ValueError(f"{path} is not a 16-bit WAV file.")
    return _mono(np.frombuffer(data, dtype="<i2"), channels), rate


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(np.asarray(samples, dtype="<i2").tobytes())


def wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as f:
        return f.getnframes() / float(f.getframerate())


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
