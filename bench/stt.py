"""Benchmark for asking aloud: speech-recognition word error rate and latency, offline, on two
sets of spoken questions made by different code, and noise-only clips that must give no words.

- set 1: testkit/speech_audio.py (espeak-ng, 6 voices, 140-200 wpm, numpy hiss) and the
  questions and commands below; 4 noise-only clips of that hiss.
- set 2: bench/stt_set2.py (other sentences, 10 other voices, 130-220 wpm, sox noise at 30 to
  10 dB SNR, sox reverb; 20 noise-only clips: fan, hiss, hum, breath, clicks, typing,
  knocks, earcons, silence). Written once to a folder (see stt_set2.py).

Paths (--path):
- listener: WavSource -> Listener (voice activity detection) -> Transcriber: the app's path.
- file: Transcriber.transcribe(the whole clip): `lookaloud transcribe`'s path.
- plain: faster-whisper's WhisperModel.transcribe(file, language="en", vad_filter=True) with
  its own defaults, on the same model folder: the reference Lookaloud must not be worse than.

Reports per model: WER on the questions, words produced on noise-only clips, and latency
from the end of speech (the transcribe call after the listener stopped; the listener's
0.9 s end-of-speech silence comes before it) for questions of 2.5-3.5 s, the fastest of
--repeat runs, with CPU time.

Run by hand (never as a test), e.g.:
    nice -n 5 .venv/bin/python bench/stt.py --set 1 --set 2 --model tiny.en --model base
    nice -n 5 .venv/bin/python bench/stt.py --set 2 --path plain -v
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import numpy as np
import stt_set2

from desktop_app.models.store import resolve_stt_model
from desktop_app.speech.listener import Listener
from desktop_app.speech.microphone import SAMPLE_RATE, WavSource, read_audio_file
from desktop_app.speech.stt import Transcriber
from desktop_app.speech.vad import VadSettings
from desktop_app.speech.voice_commands import recognise_command
from testkit.speech_audio import noise, speak, surround, words

QUESTIONS = [
    "What color is the car?",
    "How many people are in the picture?",
    "Is there a dog in this photo?",
    "What is written on the sign?",
    "What is the man holding?",
    "Is the window open?",
    "What time does the clock show?",
    "Where is the cat sitting?",
    "What is on the table?",
    "Is there any text on this page?",
    "What is the name of the button at the top?",
    "Which app is open right now?",
    "What does the error message say?",
    "Is the light on or off?",
    "How many windows are open on the screen?",
    "What is the woman wearing?",
    "Is it day or night in this picture?",
    "What kind of food is on the plate?",
    "Are there any trees in the background?",
    "What is the title of this document?",
    "Is the checkbox ticked?",
    "What animal is in the picture?",
    "What is the weather like in the photo?",
    "How much does the shirt cost?",
    "Who is sitting next to the girl?",
    "What is the biggest thing in the image?",
    "Describe the person on the left.",
    "What are the children playing with?",
    # Longer questions, about three seconds as spoken: the latency target is for these.
    "Can you tell me what is written on the big red sign next to the door?",
    "How many people are standing in front of the building on the left side?",
    "What is the name of the program that is open in the middle of my screen?",
    "Is there a button that says save or cancel at the bottom of the window?",
    "What colour are the flowers in the vase on the kitchen table by the window?",
    "Does the woman in the blue coat have a bag or an umbrella in her hand?",
]
COMMANDS = ["Describe it again.", "Read the text.", "Describe the screen.", "Stop."]
VOICES = ["en-us", "en", "en-gb-x-rp", "en-us+f3", "en-us+m3", "en-gb-scotland"]
SPEEDS = [140, 160, 180, 200]
NOISE_LEVELS = [0.002, 0.005, 0.01, 0.02]  # about -54 to -34 dBFS of hiss under and around the speech

# Spelling variants that are not recognition errors.
_SAME = {"colour": "color", "colours": "colors", "grey": "gray", "ok": "okay"}


def _norm(text: str) -> list[str]:
    return [_SAME.get(w, w) for w in words(text)]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance in words, reference length)."""
    ref, hyp = _norm(reference), _norm(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1], len(ref)


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}"


def set1() -> list[dict[str, Any]]:
    clips = []
    for i, text in enumerate(QUESTIONS + COMMANDS):
        voice, speed = VOICES[i % len(VOICES)], SPEEDS[(i // 2) % len(SPEEDS)]
        speech = speak(text, voice=voice, speed=speed)
        audio = surround(speech, before=0.5 + (i % 3) * 0.5, after=2.5, level=NOISE_LEVELS[i % 4], seed=i)
        clips.append({"set": 1, "name": f"q{i:02d}", "text": text, "audio": audio, "voice": voice,
                      "speed": speed, "speech_s": round(len(speech) / SAMPLE_RATE, 2)})
    for j, level in enumerate(NOISE_LEVELS):
        clips.append({"set": 1, "name": f"n-hiss-{level}", "text": "", "audio": noise(3.0, level, seed=100 + j)})
    return clips


def set2(folder: Path) -> list[dict[str, Any]]:
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        stt_set2.make(folder)
    clips = []
    for row in json.loads(manifest.read_text()):
        clips.append({**row, "set": 2, "name": row["file"].removesuffix(".wav"),
                      "audio": read_audio_file(folder / row["file"])})
    return clips


class Plain:
    """faster-whisper as its README uses it, with the VAD filter: the reference."""

    def __init__(self, model: str, beam: int, threads: int) -> None:
        from faster_whisper import WhisperModel

        self.model = WhisperModel(str(resolve_stt_model(model)), device="cpu", compute_type="int8",
                                  cpu_threads=threads)
        self.beam = beam

    def transcribe(self, audio: np.ndarray) -> str:
        segments, _ = self.model.transcribe(audio, language="en", beam_size=self.beam, vad_filter=True)
        return " ".join(s.text.strip() for s in segments).strip()


def run_model(model: str, clips: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    kwargs: dict[str, Any] = {"beam_size": args.beam, "cpu_threads": args.threads}
    if args.prompt is not None:
        kwargs["prompt"] = None if args.prompt == "none" else args.prompt
    for name in ("temperature", "no_speech_max", "vad_threshold"):
        if getattr(args, name) is not None:
            kwargs[name] = getattr(args, name)
    if args.path == "plain":
        engine: Any = Plain(model, args.beam, args.threads)
        transcribe = engine.transcribe
    else:
        engine = Transcriber(model, **kwargs)
        engine.load()

        def transcribe(audio: np.ndarray) -> str:
            if args.trim is None:
                return engine.transcribe(audio).text
            return engine.transcribe(audio, trim_silence=args.trim == "on").text
    load_s = time.perf_counter() - started
    vad = VadSettings()
    rows = []
    for clip in clips:
        audio = clip["audio"]
        reason = "whole_clip"
        if args.path == "listener":
            recording = Listener(WavSource(samples=audio), vad_settings=vad).listen()
            reason = recording.reason.value
            audio = recording.audio if recording.heard_speech else None
        heard, latency, cpu = "", 0.0, 0.0
        if audio is not None:
            repeats = args.repeat if 2.5 <= clip.get("speech_s", 0) <= 3.5 else 1
            timings, cpus = [], []
            for _ in range(max(1, repeats)):
                t0, c0 = time.perf_counter(), time.process_time()
                heard = transcribe(audio)
                timings.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
            latency, cpu = min(timings), min(cpus)
        errors, n = word_errors(clip["text"], heard)
        row = {k: v for k, v in clip.items() if k != "audio"}
        row.update({"heard": heard, "reason": reason, "latency_s": round(latency, 3), "cpu_s": round(cpu, 3),
                    "errors": errors, "words": n, "heard_words": len(words(heard))})
        if clip["text"] in COMMANDS or clip.get("set") == 1 and clip["text"]:
            row["command_ok"] = recognise_command(heard) is recognise_command(clip["text"])
        rows.append(row)
        if args.verbose:
            mark = "" if errors == 0 else f"  [{errors} err]"
            print(f"{model} s{clip['set']} {clip['name']:>18} {latency:5.2f}s {clip['text']!r} -> {heard!r}{mark}",
                  file=sys.stderr, flush=True)
    summary: dict[str, Any] = {"model": model, "path": args.path, "model_load_s": round(load_s, 2)}
    try:
        folder = resolve_stt_model(model)
        summary["model_mb"] = round(sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) / 1e6)
    except Exception:  # noqa: BLE001 - a folder given directly, or not installed
        summary["model_mb"] = None
    for s in sorted({r["set"] for r in rows}):
        questions = [r for r in rows if r["set"] == s and r["text"]]
        noises = [r for r in rows if r["set"] == s and not r["text"]]
        three = [r for r in questions if 2.5 <= r.get("speech_s", 0) <= 3.5]
        summary[f"set{s}"] = {
            "questions": len(questions),
            "wer": round(sum(r["errors"] for r in questions) / sum(r["words"] for r in questions), 3)
            if questions else None,
            "clips_with_errors": sum(1 for r in questions if r["errors"]),
            "noise_clips": len(noises),
            "noise_clips_with_words": sum(1 for r in noises if r["heard_words"]),
            "noise_words": [r["heard"] for r in noises if r["heard_words"]],
            "latency_3s_median_s": round(statistics.median(r["latency_s"] for r in three), 3) if three else None,
            "latency_3s_max_s": max(r["latency_s"] for r in three) if three else None,
            "cpu_3s_median_s": round(statistics.median(r["cpu_s"] for r in three), 3) if three else None,
            "n_3s": len(three),
            "latency_all_median_s": round(statistics.median(r["latency_s"] for r in questions), 3)
            if questions else None,
        }
        if s == 1:
            commands = [r for r in questions if r["text"] in COMMANDS]
            summary["set1"]["commands_recognised"] = f"{sum(r['command_ok'] for r in commands)}/{len(commands)}"
            summary["set1"]["questions_taken_for_commands"] = sum(
                1 for r in questions if r["text"] not in COMMANDS and not r["command_ok"])
    return {"summary": summary, "rows": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="model name or folder; repeat for several")
    parser.add_argument("--set", action="append", type=int, choices=(1, 2), help="repeat for both; default both")
    parser.add_argument("--set2-dir", type=Path, default=stt_set2.DEFAULT_OUT)
    parser.add_argument("--path", choices=("listener", "file", "plain"), default="listener")
    parser.add_argument("--trim", choices=("on", "off"), default=None,
                        help="Transcriber's trim_silence (default: Transcriber's own default)")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--prompt", default=None, help='Whisper initial prompt; "none" for no prompt')
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--no-speech-max", type=float, default=None)
    parser.add_argument("--vad-threshold", type=float, default=None, help="Silero threshold inside transcribe")
    parser.add_argument("--threads", type=int, default=0, help="CTranslate2 CPU threads (0: its default)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="transcribe each 2.5-3.5 s question this many times and keep the fastest, "
                             "to see past other programs' load on a shared machine")
    parser.add_argument("--only", default=None, help="only clips whose name contains this (e.g. n- for noise)")
    parser.add_argument("--three", action="store_true", help="only the questions of 2.5-3.5 s (latency runs)")
    parser.add_argument("--json", type=Path, default=None, help="write every row and summary here")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every transcript")
    args = parser.parse_args()
    clips: list[dict[str, Any]] = []
    for s in args.set or [1, 2]:
        clips += set1() if s == 1 else set2(args.set2_dir)
    if args.only:
        clips = [c for c in clips if args.only in c["name"]]
    if args.three:
        clips = [c for c in clips if 2.5 <= c.get("speech_s", 0) <= 3.5]
    results = []
    for model in args.model or ["tiny.en"]:
        result = run_model(model, clips, args)
        results.append(result)
        print(json.dumps(result["summary"]), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "argv": sys.argv[1:], "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
