"""Where spoken audio comes from: the `AudioSource` interface and its two implementations.

- `MicrophoneSource`: the user's microphone through sounddevice (PortAudio); the device chosen
  in settings, else the system default. Failures become `MicrophoneError`s whose message is
  one sentence a screen reader can speak (no device, no permission, PortAudio missing).
- `WavSource`: a sound file or an array, for `lookaloud transcribe`, benchmarks and tests;
  optionally paced in real time so a listener sees frames as a microphone would deliver them.

Every source yields 16 kHz mono float32 frames of `FRAME_SAMPLES`. Nothing is written to disk.
Qt-free; sources are opened, read and closed on one (worker) thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
FRAME_SAMPLES = 512  # 32 ms: one VAD window
# A live stream that delivers nothing for this long has stalled (device unplugged, driver hung).
_STALL_SECONDS = 3.0
# A real microphone never delivers exact digital zeros for this long; the OS is muting us.
_ALL_ZEROS_SECONDS = 2.0


class MicrophoneError(Exception):
    """The microphone cannot be used; str(error) is one sentence to speak to the user."""


class NoMicrophoneError(MicrophoneError):
    pass


class MicrophonePermissionError(MicrophoneError):
    pass


class AudioLibraryMissingError(MicrophoneError):
    pass


NO_MICROPHONE = "No microphone was found. Plug one in, or choose one in Lookaloud's settings."
NO_PERMISSION = (
    "Lookaloud is not allowed to use the microphone. "
    "Allow microphone access for Lookaloud in your system's privacy settings."
)
SILENT_MICROPHONE = (
    "The microphone sends only silence. It may be muted, "
    "or Lookaloud may not be allowed to use it in your system's privacy settings."
)
NO_PORTAUDIO = (
    "The sound library PortAudio is missing, so Lookaloud cannot use the microphone. "
    "On Linux, install the package libportaudio2."
)
MICROPHONE_UNAVAILABLE = (
    "The microphone could not be started. Close other programs that may be using it, and try again."
)
MICROPHONE_STALLED = "The microphone stopped sending sound. Check that it is still connected."


class AudioSource(ABC):
    """A stream of 16 kHz mono float32 frames. Use as a context manager:

        with source:
            for frame in source.frames():
                ...

    Opening raises `MicrophoneError` (or OSError for unreadable files); `frames()` ends when the
    source has no more audio, and may raise `MicrophoneError` if a live device fails.
    """

    sample_rate = SAMPLE_RATE

    def __enter__(self) -> AudioSource:  # noqa: PYI034 - typing.Self needs Python 3.11
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def frames(self) -> Iterator[np.ndarray]: ...

    @abstractmethod
    def close(self) -> None: ...


def resample(audio: np.ndarray, from_rate: int, to_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Linear-interpolation resampling; plenty for speech recognition, and numpy only."""
    audio = np.asarray(audio, dtype=np.float32)
    if from_rate == to_rate or len(audio) == 0:
        return audio
    n_out = round(len(audio) * to_rate / from_rate)
    positions = np.arange(n_out, dtype=np.float64) * (from_rate / to_rate)
    return np.interp(positions, np.arange(len(audio)), audio).astype(np.float32)


# Sound files: refused before reading when larger than this (about 23 minutes of CD-quality
# stereo, hours of speech at 16 kHz), and WAVs when longer than MAX_AUDIO_SECONDS.
MAX_AUDIO_BYTES = 256 * 1024 * 1024
MAX_AUDIO_SECONDS = 2 * 3600
# Rates outside these are not recordings: a rate of 0 divided by zero, a rate of 1 Hz made
# resampling ask for 16,000 samples per sample.
MIN_FILE_RATE, MAX_FILE_RATE = 2_000, 768_000
_WAVE_PCM, _WAVE_FLOAT, _WAVE_EXTENSIBLE = 1, 3, 0xFFFE


@dataclass(frozen=True)
class _WavFormat:
    tag: int
    channels: int
    rate: int
    bits: int


def read_audio_file(path: str | Path) -> np.ndarray:
    """A sound file as 16 kHz mono float32. PCM and float WAV are read directly; other formats
    go through faster-whisper's decoder (PyAV). Raises FileNotFoundError when there is no such
    file and ValueError, with one sentence naming the file, when it cannot be used: not a
    regular file, too large, not sound, or a WAV whose header does not fit its contents."""
    from desktop_app.userfiles import open_regular_file

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"There is no file called {path}.")
    who = f"The file {path.name or path}"
    with open_regular_file(path, MAX_AUDIO_BYTES, who, "a sound file") as file:
        data = file.read(MAX_AUDIO_BYTES + 1)
    if not data:
        raise ValueError(f"{who} is empty.")
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        fmt, raw = _wav_chunks(data, who)
        if fmt.tag in (_WAVE_PCM, _WAVE_FLOAT):
            return _wav_samples(fmt, raw, who)
    return _decode_other(data, path.name or str(path))


def _wav_chunks(data: bytes, who: str) -> tuple[_WavFormat, memoryview]:
    """The format and the sound bytes of a RIFF WAVE file, checked against the file's length."""
    import struct

    view = memoryview(data)
    fmt: _WavFormat | None = None
    pos = 12
    while pos + 8 <= len(data):
        kind, size = bytes(view[pos:pos + 4]), struct.unpack_from("<I", data, pos + 4)[0]
        start = pos + 8
        if start + size > len(data):
            if kind == b"data":
                raise ValueError(f"{who} is cut short: it ends before the end of its sound.")
            raise ValueError(f"{who} is damaged: a part of its header runs past the end of the file.")
        if kind == b"fmt ":
            if size < 16:
                raise ValueError(f"{who} is damaged: its format header is too short.")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, start)
            if tag == _WAVE_EXTENSIBLE and size >= 26:
                tag = struct.unpack_from("<H", data, start + 24)[0]  # the sub-format's first field
            fmt = _WavFormat(tag, channels, rate, bits)
        elif kind == b"data":
            if fmt is None:
                raise ValueError(f"{who} is damaged: its sound comes before its format header.")
            return fmt, view[start:start + size]
        pos = start + size + (size & 1)  # chunks are padded to an even length
    if fmt is None:
        raise ValueError(f"{who} is damaged: it has no format header.")
    raise ValueError(f"{who} has no sound in it.")


def _wav_samples(fmt: _WavFormat, raw: memoryview, who: str) -> np.ndarray:
    if fmt.channels == 0:
        raise ValueError(f"{who} is damaged: it says it has no sound channels.")
    if not MIN_FILE_RATE <= fmt.rate <= MAX_FILE_RATE:
        raise ValueError(f"{who} is damaged: it says its sample rate is {fmt.rate} hertz.")
    readable = {_WAVE_PCM: (8, 16, 24, 32), _WAVE_FLOAT: (32, 64)}[fmt.tag]
    if fmt.bits not in readable:
        raise ValueError(f"{who} uses {fmt.bits}-bit samples, which Lookaloud cannot read.")
    frame = fmt.channels * fmt.bits // 8
    if len(raw) % frame:
        raise ValueError(f"{who} is cut short: it ends in the middle of a sample.")
    if len(raw) // frame > MAX_AUDIO_SECONDS * fmt.rate:
        raise ValueError(f"{who} is too long: Lookaloud transcribes at most {MAX_AUDIO_SECONDS // 3600} hours.")
    if fmt.tag == _WAVE_FLOAT:
        data = np.frombuffer(raw, dtype=f"<f{fmt.bits // 8}").astype(np.float32)
    elif fmt.bits == 8:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif fmt.bits == 16:
        data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif fmt.bits == 24:
        triples = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
        data = ((ints << 8) >> 8).astype(np.float32) / 8388608.0  # shift back to sign-extend
    else:
        data = np.frombuffer(raw, dtype="<i4").astype(np.float32) / 2147483648.0
    if fmt.channels > 1:
        data = data.reshape(-1, fmt.channels).mean(axis=1)
    return resample(data, fmt.rate)


def _decode_other(data: bytes, name: str) -> np.ndarray:
    import io

    from faster_whisper import decode_audio

    try:
        audio = decode_audio(io.BytesIO(data), sampling_rate=SAMPLE_RATE)
    except Exception as exc:  # PyAV raises many types for bad input
        raise ValueError(f"{name} is not a sound file Lookaloud can read.") from exc
    if len(audio) == 0:
        raise ValueError(f"The file {name} has no sound in it.")
    return np.asarray(audio, dtype=np.float32)


class WavSource(AudioSource):
    """Frames from a sound file or an array. realtime=True sleeps between frames as a live
    microphone would deliver them (for tests of stop() and of end-of-speech timing)."""

    def __init__(self, path: str | Path | None = None, *, samples: np.ndarray | None = None,
                 sample_rate: int = SAMPLE_RATE, realtime: bool = False) -> None:
        if (path is None) == (samples is None):
            raise ValueError("Give either a path or samples.")
        self._path = Path(path) if path is not None else None
        self._samples = None if samples is None else resample(samples, sample_rate)
        self.realtime = realtime
        self._audio: np.ndarray | None = None

    def open(self) -> None:
        self._audio = read_audio_file(self._path) if self._path is not None else self._samples

    def frames(self) -> Iterator[np.ndarray]:
        if self._audio is None:
            raise RuntimeError("Open the source before reading frames.")
        started = time.monotonic()
        for i in range(0, len(self._audio), FRAME_SAMPLES):
            if self.realtime:
                due = started + (i + FRAME_SAMPLES) / SAMPLE_RATE
                time.sleep(max(0.0, due - time.monotonic()))
            yield self._audio[i:i + FRAME_SAMPLES]

    def close(self) -> None:
        self._audio = None


@dataclass(frozen=True)
class MicrophoneInfo:
    """One input device, as offered in settings."""

    index: int
    name: str
    is_default: bool


def _sounddevice():  # type: ignore[no-untyped-def]
    try:
        import sounddevice
    except (OSError, ImportError) as exc:  # OSError: the PortAudio library is absent
        raise AudioLibraryMissingError(NO_PORTAUDIO) from exc
    return sounddevice


def list_microphones() -> list[MicrophoneInfo]:
    """Input devices for the settings dialog; empty when there are none or PortAudio is missing."""
    try:
        sd = _sounddevice()
        devices = sd.query_devices()
        try:
            default = sd.default.device[0]
        except Exception:  # noqa: BLE001 - no default device
            default = -1
    except Exception:  # noqa: BLE001 - listing must never break the settings dialog
        return []
    return [
        MicrophoneInfo(index=i, name=str(d["name"]), is_default=i == default)
        for i, d in enumerate(devices)
        if d.get("max_input_channels", 0) > 0
    ]


def _is_permission_error(message: str) -> bool:
    # Windows privacy settings surface as WASAPI/MME "Unanticipated host error" (-9999);
    # sandboxes and ALSA report access denied; macOS, when it reports at all, says permission.
    lowered = message.lower()
    return any(word in lowered for word in ("permission", "denied", "access", "-9999", "unanticipated host"))


class MicrophoneSource(AudioSource):
    """The user's microphone. `device` is the name (or part of it) chosen in settings, or None
    for the system default; a chosen device that is not plugged in falls back to the default
    (a USB headset left at work should not make Lookaloud deaf)."""

    def __init__(self, device: str | None = None) -> None:
        self.device = device
        self.device_name: str | None = None  # what was actually opened
        self._stream = None
        self._queue: queue.Queue[np.ndarray] = queue.Queue()
        self._native_rate = SAMPLE_RATE
        self._closed = threading.Event()

    def _find_device(self) -> int | None:
        if not self.device:
            return None
        wanted = self.device.casefold()
        for info in list_microphones():
            if info.name.casefold() == wanted:
                return info.index
        for info in list_microphones():
            if wanted in info.name.casefold():
                return info.index
        return None

    def open(self) -> None:
        sd = _sounddevice()
        index = self._find_device()
        try:
            info = sd.query_devices(index, kind="input") if index is None else sd.query_devices(index)
        except sd.PortAudioError as exc:
            raise self._translate(exc, opening=False) from exc
        except ValueError as exc:  # "No input device matching ..."
            raise NoMicrophoneError(NO_MICROPHONE) from exc
        if not info or info.get("max_input_channels", 0) < 1:
            raise NoMicrophoneError(NO_MICROPHONE)
        self.device_name = str(info.get("name", ""))
        self._closed.clear()
        try:
            self._stream = self._start(sd, index, SAMPLE_RATE)
        except sd.PortAudioError as exc:
            # Many devices (WASAPI shared mode) only run at their own rate; record at that and resample.
            native = int(info.get("default_samplerate") or 0)
            if "sample rate" not in str(exc).lower() or not native:
                raise self._translate(exc, opening=True) from exc
            try:
                self._stream = self._start(sd, index, native)
            except sd.PortAudioError as exc2:
                raise self._translate(exc2, opening=True) from exc2

    def _start(self, sd, index: int | None, rate: int):  # type: ignore[no-untyped-def]
        self._native_rate = rate
        blocksize = round(FRAME_SAMPLES * rate / SAMPLE_RATE)

        def callback(indata, frames, time_info, status) -> None:
            if not self._closed.is_set():
                self._queue.put(indata[:, 0].copy())

        stream = sd.InputStream(device=index, samplerate=rate, channels=1, dtype="float32",
                                blocksize=blocksize, callback=callback)
        stream.start()
        return stream

    @staticmethod
    def _translate(exc: Exception, *, opening: bool) -> MicrophoneError:
        message = str(exc)
        if _is_permission_error(message):
            return MicrophonePermissionError(NO_PERMISSION)
        if not opening or any(m in message.lower() for m in ("invalid device", "no device", "-9996")):
            return NoMicrophoneError(NO_MICROPHONE)
        # Busy (another program holds it exclusively), unavailable, driver trouble: the
        # PortAudio wording means nothing to the user, so keep it for the log.
        log.warning("Opening the microphone failed: %s", message)
        return MicrophoneError(MICROPHONE_UNAVAILABLE)

    def frames(self) -> Iterator[np.ndarray]:
        zeros_only: int | None = 0
        while not self._closed.is_set():
            try:
                block = self._queue.get(timeout=_STALL_SECONDS)
            except queue.Empty:
                raise MicrophoneError(MICROPHONE_STALLED) from None
            block = resample(block, self._native_rate)
            if zeros_only is not None:
                if np.any(block):
                    zeros_only = None  # real sound arrived; stop checking
                else:
                    zeros_only += len(block)
                    if zeros_only >= _ALL_ZEROS_SECONDS * SAMPLE_RATE:
                        raise MicrophonePermissionError(SILENT_MICROPHONE)
            yield block

    def close(self) -> None:
        self._closed.set()
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:  # closing a failed device must not hide the real error
                log.debug("Closing the microphone failed", exc_info=True)
        self._queue = queue.Queue()
