"""Earcons and the audio output they share with the voice.

One contract for every AudioOut (the paced null output, aplay into ALSA's null device, paplay
into a real-time null sink), then what the user hears: four short distinct sounds generated
by the script in the repo, at the chosen volume or not at all, and a tick every 2 seconds
while the model works that stops when it is told to.
"""

from __future__ import annotations

import importlib.util
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from desktop_app.paths import resource
from desktop_app.speech.audio_out import AudioOut, CommandAudioOut, NullAudioOut, read_wav, write_wav
from desktop_app.speech.earcons import TICK_INTERVAL_S, Earcon, EarconPlayer, WorkingTicker, earcon_path

REPO = Path(__file__).resolve().parents[2]


def _make_earcons():
    spec = importlib.util.spec_from_file_location("make_earcons", REPO / "tools" / "make_earcons.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(params=["null", "aplay-null-device", "paplay-null-sink"])
def audio_out(request) -> AudioOut:
    if request.param == "null":
        return NullAudioOut()
    if request.param == "aplay-null-device":
        if not shutil.which("aplay"):
            pytest.skip("aplay (Debian alsa-utils) is not installed.")
        return CommandAudioOut(["aplay", "-q", "-D", "null"])
    return CommandAudioOut(["paplay"], env={"PULSE_SERVER": request.getfixturevalue("pulse_server")})


# -- the AudioOut contract -------------------------------------------------------------------


def test_a_sound_plays_to_its_end(audio_out: AudioOut) -> None:
    playback = audio_out.start(earcon_path(Earcon.DONE))
    assert playback.wait(10)
    assert playback.ok


def test_stop_ends_a_long_sound_at_once(audio_out: AudioOut, tmp_path: Path) -> None:
    long_tone = tmp_path / "long.wav"
    t = np.arange(22050 * 20) / 22050
    write_wav(long_tone, (3000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16), 22050)
    playback = audio_out.start(long_tone)
    playback.stop()
    assert playback.wait(0)  # stop() returns only once the sound is over
    assert playback.ok  # being stopped is not a failure


def test_sounds_can_be_started_from_several_threads(audio_out: AudioOut) -> None:
    playbacks = []
    threads = [threading.Thread(target=lambda: playbacks.append(audio_out.start(earcon_path(Earcon.WORKING))))
               for _ in range(3)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(playbacks) == 3 and all(p.wait(10) and p.ok for p in playbacks)


# -- the sounds ------------------------------------------------------------------------------


def test_the_committed_earcons_are_what_the_script_makes(tmp_path: Path) -> None:
    written = _make_earcons().write(tmp_path)
    assert sorted(p.name for p in written) == sorted(f"{e.value}.wav" for e in Earcon)
    for path in written:
        assert path.read_bytes() == resource("earcons", path.name).read_bytes(), path.name


def _dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float32)))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()])


def test_the_earcons_are_short_and_tell_apart() -> None:
    sounds = {e: read_wav(earcon_path(e)) for e in Earcon}
    durations = {e: len(s) / rate for e, (s, rate) in sounds.items()}
    assert all(0.01 < d < 0.5 for d in durations.values()), durations
    assert durations[Earcon.WORKING] < 0.1  # a tick, not a tune, every 2 seconds
    pitch = {e: _dominant_hz(s, rate) for e, (s, rate) in sounds.items()}
    # Error is low; accepted, done and the tick are higher: heard as bad news versus progress.
    assert pitch[Earcon.ERROR] < 400 < min(pitch[Earcon.ACCEPTED], pitch[Earcon.DONE], pitch[Earcon.WORKING])
    assert len({round(d, 2) for d in durations.values()}) == 4
    peak = {e: np.abs(s.astype(np.int32)).max() for e, (s, _) in sounds.items()}
    assert peak[Earcon.WORKING] < 0.5 * peak[Earcon.ACCEPTED]  # the tick is soft


# -- the player ------------------------------------------------------------------------------


def test_earcons_play_at_the_chosen_volume() -> None:
    out = NullAudioOut(paced=False)
    player = EarconPlayer(out, volume=1.0)
    player.play(Earcon.ACCEPTED)
    player.volume = 0.25
    player.play(Earcon.ACCEPTED)
    (full, _), (quiet, _) = out.played
    original, _ = read_wav(earcon_path(Earcon.ACCEPTED))
    assert np.array_equal(full, original)
    assert np.abs(quiet.astype(np.int32)).max() == pytest.approx(
        0.25 * np.abs(original.astype(np.int32)).max(), abs=2
    )


def test_earcons_switched_off_are_silent() -> None:
    out = NullAudioOut()
    player = EarconPlayer(out, enabled=False)
    assert player.play(Earcon.ERROR) is None
    player.enabled, player.volume = True, 0.0
    assert player.play(Earcon.ERROR) is None
    assert out.played == []


def test_earcons_reach_a_real_player_process() -> None:
    player = EarconPlayer(CommandAudioOut(["aplay", "-q", "-D", "null"]))
    playback = player.play(Earcon.DONE)
    assert playback is not None and playback.wait(10) and playback.ok


# -- the working tick ------------------------------------------------------------------------


def test_the_working_tick_comes_every_two_seconds_until_stopped() -> None:
    out = NullAudioOut(paced=False)
    assert WorkingTicker(EarconPlayer(out)).interval == TICK_INTERVAL_S == 2.0
    ticker = WorkingTicker(EarconPlayer(out), interval=0.05)  # the same loop, faster
    ticker.start()
    deadline = time.monotonic() + 10
    while ticker.ticks < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    ticker.stop()
    heard = len(out.played)
    assert heard >= 3
    tick, _ = read_wav(earcon_path(Earcon.WORKING))
    assert all(len(samples) == len(tick) for samples, _ in out.played)
    time.sleep(0.3)
    assert len(out.played) == heard  # nothing after stop()
    assert not ticker.running


def test_a_quick_answer_never_ticks() -> None:
    out = NullAudioOut(paced=False)
    ticker = WorkingTicker(EarconPlayer(out))
    ticker.start()
    ticker.stop()
    assert out.played == []
