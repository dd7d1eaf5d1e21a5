"""How long the window's event loop can go without running while a model describes pictures.

Builds the real app (window, controller, inference thread) around a model folder — by default
the real-size random-weight blip2-opt-2.7b that bench/engine.py saves — describes N pictures,
and reports the longest gap between 5 ms timer ticks on the GUI thread, raw and without the
time the kernel kept the thread waiting for a CPU (other programs). Run by hand:

    .venv/bin/python bench/ui_gap.py [--model FOLDER] [--pictures 3]

It needs a display (DISPLAY, e.g. under xvfb-run) or QT_QPA_PLATFORM=offscreen.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_MODEL = "/tmp/lookaloud-bench/blip2-opt-2.7b-random"


def run_queue_wait_ms() -> float:
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1]) / 1e6
    except OSError:
        return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--pictures", type=int, default=3)
    parser.add_argument("--precision", default="auto")
    args = parser.parse_args()

    from PIL import Image
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop_app.app import LookaloudApp
    from desktop_app.controller import State
    from desktop_app.settings import Settings
    from desktop_app.speech.audio_out import NullAudioOut
    from desktop_app.speech.output import SpeechOutput, SpeechSettings

    class NoHotkeys:
        def apply(self, bindings):
            return {}

        def stop(self) -> None:
            pass

    qapp = QApplication([])
    speech = SpeechOutput(SpeechSettings(earcons=False), audio_out=NullAudioOut(), screen_reader=None,
                          own_voice=lambda: None)
    start = time.perf_counter()
    app = LookaloudApp(qapp, Settings(model=args.model, precision=args.precision, include_text=False),
                       speech=speech, hotkeys=NoHotkeys())
    clock = QElapsedTimer()
    clock.start()
    raw: list[float] = []
    net: list[float] = []
    last = [0.0, 0.0]
    pictures: list = []
    phase = {"load_gaps": [], "loaded_s": 0.0}

    def tick() -> None:
        now, waited = clock.nsecsElapsed() / 1e6, run_queue_wait_ms()
        if last[0]:
            target = raw if phase["loaded_s"] else phase["load_gaps"]
            target.append(now - last[0])
            if phase["loaded_s"]:
                net.append((now - last[0]) - (waited - last[1]))
        last[:] = [now, waited]

    def step() -> None:
        controller = app.controller
        if controller.state in (State.LOADING,):
            QTimer.singleShot(50, step)
            return
        if controller.state == State.NO_MODEL:
            print("The model could not be loaded:", app.controller.last_spoken)
            qapp.quit()
            return
        if not phase["loaded_s"]:
            phase["loaded_s"] = time.perf_counter() - start
        if pictures and not pictures[-1].description:
            QTimer.singleShot(20, step)
            return
        if len(pictures) == args.pictures:
            qapp.quit()
            return
        i = len(pictures)
        pictures.append(controller.describe_image(Image.new("RGB", (640, 480), (40 * i, 120, 200)), f"p{i}"))
        QTimer.singleShot(20, step)

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(5)
    QTimer.singleShot(0, step)
    qapp.exec()
    total = time.perf_counter() - start
    app.shutdown()
    result = {
        "model": args.model, "pictures": len(pictures), "load_s": round(phase["loaded_s"], 1),
        "total_s": round(total, 1),
        "longest_gap_ms_while_describing": round(max(raw), 1) if raw else None,
        "longest_gap_ms_without_run_queue_waits": round(max(net), 1) if net else None,
        "longest_gap_ms_while_loading": round(max(phase["load_gaps"]), 1) if phase["load_gaps"] else None,
        "machine": f"{platform.processor() or platform.machine()}, {platform.python_version()}",
    }
    print(json.dumps(result, indent=2))
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "ui_gap.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
