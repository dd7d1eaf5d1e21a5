"""Every sound file in the bad-inputs corpus gets one sentence from the real `lookaloud
transcribe`: exit 2, one line naming the file, never a hang, a traceback or a memory blow-up;
the odd but valid WAVs (8, 24 and 32 bit, stereo at 48 kHz) read as the same tone."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from desktop_app.speech.microphone import read_audio_file
from testkit import badinputs

HANG_GUARD_S = 30  # a FIFO used to block forever; anything that returns at all is fine
MEMORY_LIMIT = 3 * 1024**3  # a 3 GB file read whole, or a 1 Hz file resampled, goes past it


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _skip_unreadable_as_root(name: str) -> None:
    if name == "unreadable" and badinputs.is_root():
        pytest.skip("root reads files without read permission")


@pytest.mark.parametrize("name", sorted(badinputs.BAD_SOUNDS))
def test_transcribe_refuses_a_bad_sound_file_with_one_sentence(tmp_path: Path, name: str) -> None:
    _skip_unreadable_as_root(name)
    path = badinputs.make(badinputs.BAD_SOUNDS, name, tmp_path)
    # No model is installed under this name: a file that got past the checks would exit 3.
    result = subprocess.run(
        [sys.executable, "-m", "desktop_app", "transcribe", str(path), "--model", str(tmp_path / "no-model")],
        capture_output=True, text=True, timeout=HANG_GUARD_S, check=False, preexec_fn=_limit_memory,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    assert path.name in lines[0] and lines[0].endswith("."), lines[0]
    assert "Traceback" not in result.stderr and "buffer" not in lines[0] and "division" not in lines[0]
    assert result.stdout == ""


@pytest.mark.parametrize("name", sorted(badinputs.BAD_SOUNDS))
def test_read_audio_file_refuses_a_bad_sound_file(tmp_path: Path, name: str) -> None:
    _skip_unreadable_as_root(name)
    path = badinputs.make(badinputs.BAD_SOUNDS, name, tmp_path)
    with pytest.raises(ValueError) as info:  # FileNotFoundError is for missing files only
        read_audio_file(path)
    assert path.name in str(info.value)


@pytest.mark.parametrize("name", sorted(badinputs.ODD_SOUNDS))
def test_odd_wavs_read_as_the_same_tone(tmp_path: Path, name: str) -> None:
    audio = read_audio_file(badinputs.make(badinputs.ODD_SOUNDS, name, tmp_path))
    expected = badinputs.tone().astype(np.float32)
    assert audio.dtype == np.float32 and abs(len(audio) - len(expected)) <= 2
    n = min(len(audio), len(expected))
    assert float(np.max(np.abs(audio[:n] - expected[:n]))) < 0.02
