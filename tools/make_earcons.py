"""Generates Lookaloud's earcons into resources/earcons/ with numpy (nothing is downloaded).

    python tools/make_earcons.py [OUTPUT_FOLDER]

Sounds (22050 Hz, mono, 16-bit), each short and unlike the others so they can be told apart
without looking:
- accepted.wav: a quick rising two-note chirp: the picture was taken and the request accepted.
- working.wav:  a soft short tick, played every 2 seconds while the model works.
- done.wav:     a bright rising three-note arpeggio: the answer is ready.
- error.wav:    two low falling notes with a buzzier tone: something went wrong.

Deterministic: running it again writes the same bytes (a test checks the committed files).
"""

from __future__ import annotations

import sys
import wave
from pathlib import Path

import numpy as np

RATE = 22050
NAMES = ("accepted", "working", "done", "error")


def _tone(
    freq: float, seconds: float, *, harmonics: tuple[float, ...] = (1.0,), decay: float = 6.0
) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    wave_ = sum(a * np.sin(2 * np.pi * freq * (i + 1) * t) for i, a in enumerate(harmonics))
    attack = np.minimum(1.0, t / 0.005)  # 5 ms fade-in: no click at the start
    release = np.minimum(1.0, (seconds - t) / 0.01)  # 10 ms fade-out: no click at the end
    return wave_ * attack * release * np.exp(-decay * t)


def _join(*parts: np.ndarray, gap: float = 0.02) -> np.ndarray:
    silence = np.zeros(int(RATE * gap))
    out: list[np.ndarray] = []
    for part in parts:
        out += [part, silence]
    return np.concatenate(out[:-1])


def sounds() -> dict[str, np.ndarray]:
    """name -> float samples in -1..1."""
    return {
        "accepted": 0.6 * _join(_tone(880, 0.07), _tone(1320, 0.09)),
        "working": 0.25 * _tone(1800, 0.03, decay=60.0),
        "done": 0.55
        * _join(_tone(523.25, 0.08), _tone(659.25, 0.08), _tone(783.99, 0.18, decay=8.0), gap=0.0),
        "error": 0.6
        * _join(
            _tone(330, 0.16, harmonics=(1.0, 0.5, 0.3), decay=3.0),
            _tone(247, 0.22, harmonics=(1.0, 0.5, 0.3), decay=3.0),
            gap=0.04,
        ),
    }


def write(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for name, samples in sounds().items():
        path = folder / f"{name}.wav"
        pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
        with wave.open(str(path), "wb") as f:
            f.setnchannels(1)
            f.setsampwidth(2)
            f.setframerate(RATE)
            f.writeframes(pcm.tobytes())
        paths.append(path)
    return paths


def main(argv: list[str]) -> int:
    folder = (
        Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "resources" / "earcons"
    )
    for path in write(folder):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
