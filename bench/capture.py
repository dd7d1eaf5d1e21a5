"""Benchmark: screen capture and conversion to the vision engine's input, for 1080p and 4K
screens, in milliseconds. Run by hand (never as a test):

    .venv/bin/python bench/capture.py [--repeat 20]

Each size gets its own Xvfb (so the numbers do not depend on the desktop you run it from).
Stages, median and 90th percentile of --repeat runs:
  capture      capture_screen("all"): monitor list, X connection, XShm grab, BGRX -> RGB PIL
  processor    the BLIP-2 image processor on the full picture -> 1x3x224x224 float tensor
               (what desktop_app.vision.session does with a captured picture)
  pre-resized  PIL resize to 224x224 (reducing_gap=3) first, then the processor
A BLIP-2 caption on CPU takes 10-16 s here (shared/NOTES.md), about 1-2 s on a GPU.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZES = ((1920, 1080), (3840, 2160))


def start_xvfb(width: int, height: int) -> tuple[subprocess.Popen[bytes], str]:
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp",
         "+extension", "RANDR", "-noreset"],  # no reset when our last connection closes
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        return proc, f":{f.readline().strip()}"


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    fn()  # warm-up: first calls load libraries and shared memory segments
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.9))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    import torch
    from PIL import Image
    from transformers.image_utils import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

    from desktop_app.capture.screen import capture_screen

    torch.set_num_threads(1)
    # BLIP-2's preprocessor_config: 224 px, bicubic, CLIP mean/std.
    processor = BlipImageProcessorPil(
        size={"height": 224, "width": 224}, image_mean=OPENAI_CLIP_MEAN, image_std=OPENAI_CLIP_STD
    )

    def to_tensor(image: Image.Image) -> object:
        return processor(images=image, return_tensors="pt")["pixel_values"]

    print(f"{'screen':>10} {'stage':>12} {'median ms':>10} {'p90 ms':>8}")
    for width, height in SIZES:
        proc, display = start_xvfb(width, height)
        os.environ["DISPLAY"] = display
        os.environ.pop("WAYLAND_DISPLAY", None)
        try:
            image = capture_screen("all")
            assert image.size == (width, height), image.size
            rows = {
                "capture": timed(lambda: capture_screen("all"), args.repeat),
                "processor": timed(lambda image=image: to_tensor(image), args.repeat),
                "pre-resized": timed(
                    lambda image=image: to_tensor(image.resize((224, 224), Image.Resampling.BICUBIC, reducing_gap=3.0)),
                    args.repeat,
                ),
            }
        finally:
            proc.terminate()
            proc.wait(timeout=5)
        for stage, (median, p90) in rows.items():
            print(f"{width}x{height:<5} {stage:>12} {median:>10.1f} {p90:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
