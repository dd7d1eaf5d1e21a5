"""OCR benchmark: time to read a 1080p screenshot and character accuracy on generated
screenshots with known text (several fonts, sizes down to 9 px, dark mode, two columns),
for each engine. Run by hand, never as a test:

    .venv/bin/python bench/ocr.py [--engines tesseract,rapidocr] [--repeat 3] [--quick]

Accuracy is difflib's matching-character ratio between the known text in reading order and
the engine's text (whitespace runs made single spaces), so reading-order mistakes count too.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from desktop_app.ocr.reader import get_engine, read_text
from testkit.pictures import Screenshot, available_fonts, make_document, make_photo, make_screenshot
from tests.ocr.conftest import char_accuracy


def cases(quick: bool) -> list[tuple[str, Screenshot]]:
    fonts = available_fonts()[:2] if quick else available_fonts()
    sizes = (9, 12) if quick else (9, 11, 13, 16)
    out = []
    for font in fonts:
        for size in sizes:
            out.append(
                (f"{font} {size}px", make_screenshot(font=font, size=size, width=900, height=420, seed=size))
            )
    for size in (9, 12):
        out.append(
            (f"dark {size}px", make_screenshot(size=size, dark=True, width=900, height=420, seed=size))
        )
        out.append(
            (
                f"two columns {size}px",
                make_screenshot(size=size, columns=2, width=1100, height=420, seed=size),
            )
        )
    out.append(("document 15px", make_document(width=850, height=700)))
    out.append(("photo with a STOP sign", Screenshot(make_photo(sign="STOP"), "STOP", [])))
    return out


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (Tesseract runs as a child): the
    cost of a read regardless of how busy the shared machine is."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="tesseract,rapidocr")
    parser.add_argument("--repeat", type=int, default=3, help="Timed reads of the 1080p screenshot.")
    parser.add_argument("--quick", action="store_true", help="Fewer fonts and sizes.")
    args = parser.parse_args()
    engines = [name for name in args.engines.split(",") if get_engine(name).supports("en")]
    print(f"CPU: {cpu_name()}, {os.cpu_count()} logical cores; load average {os.getloadavg()[0]:.1f}")

    full_hd = {
        "1080p window, 12px, two columns, full of text": make_screenshot(
            "Quarterly Report - Document Viewer",
            size=12,
            columns=2,
            width=1920,
            height=1080,
            lines_per_column=None,
        ),
        "1080p window, 13px, 12 lines": make_screenshot(
            "Settings - Accessibility", size=13, columns=2, width=1920, height=1080, lines_per_column=6
        ),
    }
    print("\n| engine | picture | characters | wall s (median) | CPU s (median) | accuracy |")
    print("|---|---|---|---|---|---|")
    for name in engines:
        read_text(full_hd["1080p window, 13px, 12 lines"].image, engine=name)  # load models, warm caches
        for label, shot in full_hd.items():
            times, cpu, result = [], [], None
            for _ in range(args.repeat):
                started, started_cpu = time.perf_counter(), cpu_seconds()
                result = read_text(shot.image, engine=name)
                times.append(time.perf_counter() - started)
                cpu.append(cpu_seconds() - started_cpu)
            assert result is not None
            accuracy = char_accuracy(shot.text, result.text)
            print(
                f"| {name} | {label} | {len(shot.text)} | {statistics.median(times):.2f} | {statistics.median(cpu):.2f} | {accuracy:.3f} |"
            )

    print("\n| picture | " + " | ".join(f"{n} accuracy | {n} wall s | {n} CPU s" for n in engines) + " |")
    print("|---|" + "---|---|---|" * len(engines))
    totals: dict[str, list[float]] = {name: [] for name in engines}
    for label, shot in cases(args.quick):
        row = [label]
        for name in engines:
            started, started_cpu = time.perf_counter(), cpu_seconds()
            result = read_text(shot.image, engine=name)
            elapsed, cpu = time.perf_counter() - started, cpu_seconds() - started_cpu
            accuracy = char_accuracy(shot.text, result.text)
            totals[name].append(accuracy)
            row += [f"{accuracy:.3f}", f"{elapsed:.2f}", f"{cpu:.2f}"]
        print("| " + " | ".join(row) + " |")
    print(
        "| **mean (min)** | "
        + " | ".join(f"**{statistics.mean(v):.3f}** ({min(v):.3f}) | | " for v in totals.values())
        + "|"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
