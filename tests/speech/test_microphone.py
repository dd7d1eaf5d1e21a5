"""Audio sources: the microphone (real sounddevice here, which finds no device; a fake
PortAudio device where the machine has none) and WAV files, held to one contract."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import sounddevice

from desktop_app.speech import microphone
from desktop_app.speech.listener import Listener, StopReason
from desktop_app.speech.microphone import (
    FRAME_SAMPLES,
    MICROPHONE_UNAVAILABLE,
    SAMPLE_RATE,
    AudioLibraryMissingError,
    AudioSource,
    MicrophoneError,
    MicrophonePermissionError,
    MicrophoneSource,
    NoMicrophoneError,
    WavSource,
    list_microphones,
    read_audio_file,
    resample,
)
from testkit.speech_audio import noise, shared_transcriber, speak, surround, words

QUESTION = "How many people are in the picture?"


class FakeInputStream:
    """Stands in for sounddevice.InputStream where no microphone exists: delivers `audio` (at
    `rate`) to the callback from its own thread, as PortAudio does, in real time."""

    audio = np.zeros(0, np.float32)
    rate = SAMPLE_RATE
    supported_rates: tuple[int, ...] = (SAMPLE_RATE, 48_000)
    opened: ClassVar[list[FakeInputStream]] = []

    def __init__(self, *, device, samplerate, channels, dtype, blocksize, callback) -> None:
        if samplerate not in self.supported_rates:
            raise sounddevice.PortAudioError("Error opening InputStream: Invalid sample rate [PaErrorCode -9997]")
        assert (channels, dtype) == (1, "float32")
        self.samplerate, self.blocksize, self.callback = samplerate, blocksize, callback
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        FakeInputStream.opened.append(self)

    def _run(self) -> None:
        audio = resample(self.audio, self.rate, self.samplerate)
        started = time.monotonic()
        for i in range(0, len(audio) - self.blocksize + 1, self.blocksize):
            if self._stopped.wait(max(0.0, started + i / self.samplerate - time.monotonic())):
                return
            self.callback(audio[i:i + self.blocksize].reshape(-1, 1), self.blocksize, None, None)
        # A real microphone keeps delivering room noise after the clip.
        while not self._stopped.wait(self.blocksize / self.samplerate):
            self.callback(noise(self.blocksize / self.samplerate).reshape(-1, 1), self.blocksize, None, None)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def close(self) -> None:
        self._stopped.set()


@pytest.fixture
def fake_microphone(monkeypatch: pytest.MonkeyPatch) -> type[FakeInputStream]:
    """One 48 kHz-capable input device at the sounddevice boundary."""
    device = {"name": "Fake USB Microphone", "max_input_channels": 1, "default_samplerate": 48_000.0}
    monkeypatch.setattr(sounddevice, "query_devices",
                        lambda device_=None, kind=None, **_: device if (device_ is not None or kind) else [device])
    monkeypatch.setattr(sounddevice, "InputStream", FakeInputStream)
    FakeInputStream.audio = surround(speak(QUESTION), before=0.3, after=1.2)
    FakeInputStream.rate = SAMPLE_RATE
    FakeInputStream.supported_rates = (SAMPLE_RATE, 48_000)
    FakeInputStream.opened = []
    return FakeInputStream


# --- The contract every AudioSource keeps, checked on the file source and the microphone.

def _wav_source(tmp_path: Path) -> AudioSource:
    return WavSource(samples=surround(speak(QUESTION), before=0.3, after=1.2), realtime=True)


def _microphone_source(tmp_path: Path) -> AudioSource:
    return MicrophoneSource()


@pytest.mark.parametrize("make_source", [_wav_source, _microphone_source], ids=["wav", "microphone"])
def test_every_source_gives_16khz_mono_float_frames_that_the_listener_understands(
    make_source, fake_microphone, tmp_path: Path
) -> None:
    source = make_source(tmp_path)
    with source:
        frames = []
        for frame in source.frames():
            frames.append(frame)
            if len(frames) == 20:
                break
    assert all(f.dtype == np.float32 and f.ndim == 1 and len(f) == FRAME_SAMPLES for f in frames)
    recording = Listener(make_source(tmp_path)).listen()
    assert recording.reason is StopReason.END_OF_SPEECH and recording.heard_speech
    assert {"people", "picture"} <= set(words(shared_transcriber().transcribe(recording.audio).text))


def test_microphone_that_only_runs_at_48khz_is_resampled(fake_microphone) -> None:
    fake_microphone.supported_rates = (48_000,)
    recording = Listener(MicrophoneSource()).listen()
    assert fake_microphone.opened[-1].samplerate == 48_000
    assert "people" in words(shared_transcriber().transcribe(recording.audio).text)


def test_microphone_is_closed_after_listening(fake_microphone) -> None:
    Listener(MicrophoneSource()).listen()
    assert fake_microphone.opened[-1]._stopped.is_set()


# --- Failures the user hears about.

def test_no_microphone_on_this_machine_is_a_clear_error() -> None:
    # Real sounddevice and PortAudio: the build machines have no sound card at all.
    if list_microphones():
        pytest.skip("This machine has a microphone, so the real no-microphone error cannot happen here.")
    with pytest.raises(NoMicrophoneError, match="No microphone was found"), MicrophoneSource():
        pass


def test_chosen_microphone_that_is_unplugged_falls_back_to_the_default(fake_microphone) -> None:
    source = MicrophoneSource("Headset that is at the office")
    with source:
        pass
    assert source.device_name == "Fake USB Microphone"


@pytest.mark.parametrize("message", [
    "Error opening InputStream: Unanticipated host error [PaErrorCode -9999]: 'Access is denied.'",
    "Error starting stream: Permission denied [PaErrorCode -9986]",
])
def test_permission_refused_is_a_clear_error(fake_microphone, monkeypatch: pytest.MonkeyPatch, message: str) -> None:
    def refuse(**_: object) -> None:
        raise sounddevice.PortAudioError(message)

    monkeypatch.setattr(sounddevice, "InputStream", refuse)
    with pytest.raises(MicrophonePermissionError, match="not allowed to use the microphone"):
        Listener(MicrophoneSource()).listen()


def test_microphone_held_by_another_program_is_not_called_missing(fake_microphone, monkeypatch: pytest.MonkeyPatch) -> None:
    def busy(**_: object) -> None:
        raise sounddevice.PortAudioError("Error opening InputStream: Device unavailable [PaErrorCode -9985]")

    monkeypatch.setattr(sounddevice, "InputStream", busy)
    with pytest.raises(MicrophoneError) as caught:
        MicrophoneSource().open()
    assert type(caught.value) is MicrophoneError
    assert str(caught.value) == MICROPHONE_UNAVAILABLE


def test_microphone_muted_by_the_system_is_reported_not_waited_on(fake_microphone) -> None:
    # macOS without permission (and a hardware mute) delivers exact digital silence.
    fake_microphone.audio = np.zeros(3 * SAMPLE_RATE, np.float32)
    stream_noise = FakeInputStream._run

    def zeros_forever(self: FakeInputStream) -> None:
        while not self._stopped.wait(self.blocksize / self.samplerate):
            self.callback(np.zeros((self.blocksize, 1), np.float32), self.blocksize, None, None)

    fake_microphone._run = zeros_forever  # type: ignore[method-assign]
    try:
        with pytest.raises(MicrophonePermissionError, match="only silence"):
            Listener(MicrophoneSource()).listen()
    finally:
        fake_microphone._run = stream_noise  # type: ignore[method-assign]


def test_missing_portaudio_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails as without the library
    with pytest.raises(AudioLibraryMissingError, match="PortAudio"):
        MicrophoneSource().open()
    assert list_microphones() == []


# --- Files.

def test_wav_file_is_read_as_16khz_mono(tmp_path: Path) -> None:
    import wave

    stereo_44k = np.repeat(resample(speak(QUESTION), SAMPLE_RATE, 44_100)[:, None], 2, axis=1)
    path = tmp_path / "stereo.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44_100)
        w.writeframes((stereo_44k * 32767).astype("<i2").tobytes())
    audio = read_audio_file(path)
    assert audio.dtype == np.float32
    assert abs(len(audio) - len(speak(QUESTION))) < 10


def test_unreadable_files_say_why(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="There is no file"):
        read_audio_file(tmp_path / "missing.wav")
    junk = tmp_path / "notes.wav"
    junk.write_text("not a sound")
    with pytest.raises(ValueError, match="not a sound file"):
        read_audio_file(junk)


def test_realtime_wav_source_never_runs_ahead_of_the_clock() -> None:
    source = WavSource(samples=noise(0.5), realtime=True)
    started = time.monotonic()
    delivered = 0
    with source:
        frames: Iterator[np.ndarray] = source.frames()
        for frame in frames:
            delivered += len(frame)
            # A microphone cannot hand over audio before it has been spoken.
            assert time.monotonic() - started >= delivered / SAMPLE_RATE - 0.005
    assert delivered == len(noise(0.5))


def test_sources_never_touch_the_disk_beyond_reading(monkeypatch: pytest.MonkeyPatch, fake_microphone) -> None:
    import builtins

    real_open = builtins.open

    def read_only_open(file, mode="r", *args, **kwargs):
        assert not any(flag in mode for flag in "wax+"), f"audio code tried to write {file}"
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", read_only_open)
    assert microphone.MicrophoneSource  # the module is loaded before the guard
    recording = Listener(MicrophoneSource()).listen()
    assert recording.heard_speech
