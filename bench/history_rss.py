"""How much the app's memory grows while the user describes large pictures one after another.

Runs the real controller and inference thread around a tiny BLIP-2 (testkit/tiny_models.py),
describes COUNT different SIDE x SIDE pictures in a row, waits for each description, and prints
the process's resident memory (VmRSS) before and after. --unbounded keeps every picture whole,
as the history did before it kept a bounded copy.

    PYTHONPATH=$PWD QT_QPA_PLATFORM=offscreen .venv/bin/python bench/history_rss.py [--unbounded]
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--unbounded", action="store_true", help="keep every picture whole (the old history)")
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--side", type=int, default=8000)
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    from desktop_app.controller import Controller, State
    from desktop_app.settings import Settings
    from desktop_app.vision import images
    from testkit import tiny_models

    if args.unbounded:
        images.bounded_copy = lambda image, max_pixels=0: image  # type: ignore[assignment]
    app = QApplication([])
    model = tiny_models.build_blip2(Path(tempfile.mkdtemp()) / "opt", "opt")
    controller = Controller(Settings(model=str(model), include_text=False, precision="fp32"))
    controller.load_model()

    def wait(done) -> None:
        deadline = time.monotonic() + 600
        while not done() and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)

    wait(lambda: controller.state == State.IDLE)
    rng = np.random.default_rng(0)
    # A first small picture warms up the model's buffers, so the baseline counts them.
    first = controller.describe_image(Image.new("RGB", (64, 64), "white"), "warm-up")
    wait(lambda: bool(first.description))
    gc.collect()
    before = rss_mb()
    for i in range(args.count):
        pixels = rng.integers(0, 255, (args.side // 8, args.side // 8, 3), dtype=np.uint8)
        image = Image.fromarray(pixels).resize((args.side, args.side), Image.Resampling.NEAREST)
        del pixels
        picture = controller.describe_image(image, f"picture {i + 1}")
        del image
        wait(lambda picture=picture: bool(picture.description))
        gc.collect()
        print(f"after {i + 1} pictures: {rss_mb():,.0f} MB")
    after = rss_mb()
    kept = controller.pictures[0].image.size
    print(f"{'unbounded' if args.unbounded else 'bounded'}: {before:,.0f} MB -> {after:,.0f} MB "
          f"(+{after - before:,.0f} MB for {args.count} pictures of {args.side} x {args.side}; kept as {kept})")
    controller.shutdown()


if __name__ == "__main__":
    main()
