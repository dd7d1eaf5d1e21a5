"""A second, independent set of spoken questions for bench/stt.py, made by other code than
testkit/speech_audio.py (which makes set 1), so that nothing tuned on one set can pass
unseen on the other.

Everything here goes through sox instead of numpy: espeak-ng writes its own 22 050 Hz audio
to a pipe, sox resamples it to 16 kHz (its own band-limited resampler, not Lookaloud's),
adds room reverberation (`reverb`), and makes the noise (`synth`, repeatable with `-R`).
Only the final mix at a chosen signal-to-noise ratio is numpy. Different sentences (about
colours, shapes, text, signs, screens, windows, buttons, pictures), different espeak-ng
voices and variants, 130-220 words a minute, noise from none to loud, and 20 noise-only or
silent clips (fan, hiss, hum, breath, clicks, typing, knocks, Lookaloud's own earcons).

Debian 12's main archive has no MBROLA voices (they are in contrib/non-free, which this
project's machines do not enable), so only espeak-ng voices are used.

    .venv/bin/python bench/stt_set2.py [--out DIR]    # writes DIR/*.wav and DIR/manifest.json

Deterministic: the same command writes the same files.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

RATE = 16_000
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = Path(tempfile.gettempdir()) / "lookaloud-stt-set2"

SENTENCES = [
    "What colour is the square in the corner?",
    "Read the words on the blue button.",
    "Is there a red circle on the screen?",
    "What does the sign above the door say?",
    "How many triangles can you see?",
    "What shape is the green object?",
    "Which window is in front?",
    "What is the picture on the wall?",
    "Is the text on this screen large or small?",
    "What colour is the background of the window?",
    "Can you read the label under the picture?",
    "Where is the close button?",
    "What is printed on the yellow sign?",
    "Is the star orange or purple?",
    "How many buttons are on the toolbar?",
    "What is drawn inside the rectangle?",
    "Tell me the colours in this picture.",
    "Is there a warning sign on the screen?",
    "What does the heading at the top say?",
    "Which shape is the biggest?",
    "Is the circle above or below the line?",
    "What is the text in the search box?",
    "What colour are the letters on the sign?",
    "Are there two windows side by side?",
    "What is shown in the small picture on the right?",
    "Is the button grey or white?",
    "Does the screen show a map?",
    "What kind of chart is in this window?",
    "Is there a face in the photo?",
    "What number is written on the page?",
    "What is the shape next to the blue square?",
    "Read me the first line of text.",
    "Which way is the arrow pointing?",
    "What is the name of this window?",
    "Is the picture dark or bright?",
    "What does the small print at the bottom say?",
    # About three seconds as spoken: the latency target is for these.
    "What colour is the large circle in the middle of the picture on my screen?",
    "Can you read the text on the sign that is next to the green button?",
    "How many windows are open and which one is in front of the others?",
    "Is there a picture of a house behind the text in the top left corner?",
]

# espeak-ng voices and variants that set 1 does not use.
VOICES = ["en-029", "en-us-nyc", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us+f4", "en-gb+f2",
          "en-us+klatt2", "en+male5", "en-us+Andy", "en-gb-x-rp+f5"]
SPEEDS = [130, 150, 170, 190, 205, 220]
PITCHES = [35, 45, 55, 65, 70]
# (kind of noise, signal-to-noise ratio in dB; None: no noise at all). 10 dB is loud.
NOISES = [("none", None), ("pink", 30), ("fan", 20), ("white", 25), ("brown", 15), ("pink", 10),
          ("fan", 12), ("white", 18)]
# sox reverb reverberance (percent) and room scale; None: dry.
REVERBS = [None, None, (40, 60), None, (70, 100), (55, 80)]

# Noise-only and silent clips: (name, kind, peak level in dBFS, seconds).
NOISE_ONLY = [
    ("silence", "zero", None, 3.0), ("hiss-quiet", "white", -60, 3.0), ("hiss-loud", "white", -30, 3.0),
    ("pink", "pink", -35, 4.0), ("pink-loud", "pink", -22, 3.0), ("brown", "brown", -28, 4.0),
    ("fan-quiet", "fan", -45, 4.0), ("fan", "fan", -32, 4.0), ("fan-loud", "fan", -20, 4.0),
    ("hum", "hum", -30, 3.0), ("breath", "breath", -30, 4.0), ("breath-close", "breath", -18, 4.0),
    ("clicks", "clicks", -12, 3.0), ("typing", "typing", -20, 4.0), ("knocks", "knocks", -10, 3.0),
    ("earcon-accepted", "earcon:accepted", None, 2.0), ("earcon-done", "earcon:done", None, 2.0),
    ("earcon-error", "earcon:error", None, 2.0), ("earcon-working", "earcon:working", None, 2.5),
    ("earcons-and-fan", "earcons+fan", -35, 4.0),
]


def _sox_to_array(args: list[str], stdin: bytes | None = None) -> np.ndarray:
    """Run sox with output to a raw 16 kHz mono 16-bit pipe and return float32 samples."""
    out = subprocess.run(["sox", "-R", "-V1", *args], input=stdin, check=True, capture_output=True).stdout
    return np.frombuffer(out, dtype="<i2").astype(np.float32) / 32768.0


RAW_OUT = ["-t", "raw", "-r", str(RATE), "-e", "signed", "-b", "16", "-c", "1", "-"]


def spoken(text: str, voice: str, speed: int, pitch: int, reverb: tuple[int, int] | None) -> np.ndarray:
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
                         check=True, capture_output=True).stdout
    effects = ["gain", "-3"]
    if reverb is not None:
        effects += ["reverb", str(reverb[0]), "50", str(reverb[1])]
    # A reverb tail makes the file longer; keep it (it is what a room does).
    return _sox_to_array(["-t", "wav", "-", *RAW_OUT, *effects], stdin=wav)


def synth(kind: str, seconds: float, seed: int) -> np.ndarray:
    """Noise made by sox (repeatable: -R); `seed` varies it by trimming a different stretch."""
    offset = 0.37 * (seed % 11)
    total = f"{seconds + offset:.3f}"
    trim = ["trim", f"{offset:.3f}"]
    if kind in ("white", "pink", "brown"):
        return _sox_to_array(["-n", *RAW_OUT, "synth", total, f"{kind}noise", *trim])
    if kind == "hum":  # mains hum with harmonics
        return _sox_to_array(["-n", *RAW_OUT, "synth", total, "sine", "50", "sine", "100", "sine", "150",
                              "remix", "1-3", *trim])
    if kind == "fan":  # a fan: rumble, a motor tone, some air hiss
        rumble = _sox_to_array(["-n", *RAW_OUT, "synth", total, "brownnoise", "lowpass", "400", *trim])
        tone = _sox_to_array(["-n", *RAW_OUT, "synth", total, "sine", "120", *trim])
        hiss = _sox_to_array(["-n", *RAW_OUT, "synth", total, "pinknoise", "highpass", "2000", *trim])
        n = min(len(rumble), len(tone), len(hiss))
        return rumble[:n] + 0.2 * tone[:n] + 0.3 * hiss[:n]
    if kind == "breath":  # in and out through the nose near a microphone: band-passed bursts
        air = _sox_to_array(["-n", *RAW_OUT, "synth", total, "pinknoise", "bandpass", "900", "1200", *trim])
        t = np.arange(len(air)) / RATE
        envelope = np.clip(np.sin(2 * np.pi * t / 1.6 + seed), 0, None) ** 2
        return air * envelope
    if kind in ("clicks", "typing", "knocks"):
        n = int(seconds * RATE)
        out = np.zeros(n, np.float32)
        rng = np.random.default_rng(1000 + seed)
        count = {"clicks": 6, "typing": 28, "knocks": 4}[kind]
        decay = {"clicks": 0.002, "typing": 0.004, "knocks": 0.03}[kind]
        tone = {"clicks": 3000.0, "typing": 1800.0, "knocks": 180.0}[kind]
        tt = np.arange(int(0.15 * RATE)) / RATE
        burst = (np.sin(2 * np.pi * tone * tt) * np.exp(-tt / decay)).astype(np.float32)
        for at in np.sort(rng.uniform(0.1, seconds - 0.2, count)):
            i = int(at * RATE)
            out[i:i + len(burst)] += burst[: n - i] * rng.uniform(0.5, 1.0)
        return out
    raise ValueError(kind)


def _read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        raw, rate, channels = w.readframes(w.getnframes()), w.getframerate(), w.getnchannels()
    data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1)
    if rate != RATE:
        data = _sox_to_array(["-t", "raw", "-r", str(rate), "-e", "signed", "-b", "16", "-c", "1", "-", *RAW_OUT],
                             stdin=(data * 32767).astype("<i2").tobytes())
    return data


def _at_peak(audio: np.ndarray, dbfs: float) -> np.ndarray:
    peak = float(np.max(np.abs(audio))) or 1.0
    return audio * (10 ** (dbfs / 20) / peak)


def _rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) or 1e-9


def noise_only(kind: str, level: float | None, seconds: float, seed: int) -> np.ndarray:
    n = int(seconds * RATE)
    if kind == "zero":
        return np.zeros(n, np.float32)
    if kind.startswith("earcon"):
        names = ["accepted", "working", "done"] if kind == "earcons+fan" else [kind.split(":", 1)[1]]
        out = np.zeros(n, np.float32)
        at = int(0.3 * RATE)
        for name in names:
            sound = _read_wav(ROOT / "resources" / "earcons" / f"{name}.wav")[: n - at]
            out[at:at + len(sound)] += sound
            at += len(sound) + int(0.4 * RATE)
            if at >= n:
                break
        if kind == "earcons+fan" and level is not None:
            out += _at_peak(synth("fan", seconds, seed)[:n], level)
        return out
    assert level is not None
    return _at_peak(synth(kind, seconds, seed)[:n], level)


def _write(path: Path, audio: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())


def make(out: Path) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, text in enumerate(SENTENCES):
        voice, speed = VOICES[i % len(VOICES)], SPEEDS[(i * 5) % len(SPEEDS)]
        pitch, reverb = PITCHES[(i * 3) % len(PITCHES)], REVERBS[i % len(REVERBS)]
        kind, snr = NOISES[(i * 7 + i // 8) % len(NOISES)]
        speech = spoken(text, voice, speed, pitch, reverb)
        before, after = 0.4 + 0.3 * (i % 4), 1.5 + 0.5 * (i % 3)
        audio = np.concatenate([np.zeros(int(before * RATE), np.float32), speech,
                                np.zeros(int(after * RATE), np.float32)])
        if snr is not None:
            background = synth(kind, len(audio) / RATE + 0.1, seed=i)[: len(audio)]
            background = background * (_rms(speech) / _rms(background) / 10 ** (snr / 20))
            audio[: len(background)] += background
        name = f"q{i:02d}.wav"
        _write(out / name, audio)
        rows.append({"file": name, "text": text, "voice": voice, "speed": speed, "pitch": pitch,
                     "reverb": reverb, "noise": kind if snr is not None else "none", "snr_db": snr,
                     "speech_s": round(len(speech) / RATE, 2), "speech_start_s": before})
    for j, (label, kind, level, seconds) in enumerate(NOISE_ONLY):
        name = f"n-{label}.wav"
        _write(out / name, noise_only(kind, level, seconds, seed=j))
        rows.append({"file": name, "text": "", "noise": kind, "level_dbfs": level, "seconds": seconds})
    (out / "manifest.json").write_text(json.dumps(rows, indent=1))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    rows = make(args.out)
    print(f"{sum(1 for r in rows if r['text'])} questions and {sum(1 for r in rows if not r['text'])} "
          f"noise-only clips in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
