"""`lookaloud index FOLDER... [--model NAME] [--captions] [--forget]`: make folders searchable by meaning.

Incremental and resumable: unchanged files (size, time and SHA-256) are skipped, finished
batches are kept when the run is stopped (Ctrl+C), and the next run continues. The progress
bar goes to stderr (a line per 10 percent when stderr is not a terminal, so that a screen
reader's log is not flooded); each picture that cannot be read is named in one line.
`--forget` forgets every indexed picture (or, with folders, the pictures under them).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from desktop_app.choices import Device, Precision

HELP = "Index folders of pictures so that lookaloud search can find them by what they show."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folders", nargs="*", metavar="FOLDER", help="folders (or picture files) to index")
    parser.add_argument("--model", default=None, metavar="NAME_OR_FOLDER",
                        help="the picture search model (default: the demo search model when included, "
                             "else blip2-itm-vit-g) or a folder holding one")
    parser.add_argument("--captions", action="store_true",
                        help="also describe every picture with the describing model, to show with results (slow "
                             "without a GPU)")
    parser.add_argument("--caption-model", default=None, metavar="NAME_OR_FOLDER",
                        help="the describing model for --captions (default: the demo model with the demo search "
                             "model, else blip2-opt-2.7b)")
    parser.add_argument("--device", default="auto", choices=Device.values())
    parser.add_argument("--precision", default="auto", choices=Precision.values())
    parser.add_argument("--forget", action="store_true",
                        help="forget every indexed picture (or only those under the folders given)")


def _error(message: str) -> None:
    print(f"lookaloud: {message}", file=sys.stderr, flush=True)


class ProgressBar:
    """Pictures done, pictures per second and time left, on stderr."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last_step = -1
        self.last_draw = 0.0
        self.drawn = False

    def __call__(self, p: Any) -> None:
        from desktop_app.models.hub import spoken_duration

        percent = 100.0 * p.done / p.total if p.total else 100.0
        speed = f"{p.per_second:.1f} pictures/s" if p.per_second > 0 else "-- pictures/s"
        left = (f"{spoken_duration(p.seconds_left)} left" if p.seconds_left
                else "done" if p.done == p.total else "time left unknown")
        line = f"{p.done}/{p.total} pictures  {speed}  {left}"
        if self.tty:
            now = time.monotonic()
            if now - self.last_draw < 0.25 and p.done != p.total:
                return
            self.last_draw = now
            filled = int(percent / 100 * 30)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {line}  ")
            sys.stderr.flush()
            self.drawn = True
            return
        step = int(percent // 10)
        if step > self.last_step:
            self.last_step = step
            print(line, file=sys.stderr, flush=True)

    def end_line(self) -> None:
        """Before another message: leave the bar's line."""
        if self.tty and self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.drawn = False


def _forget(folders: list[str]) -> int:
    from desktop_app.cli import EXIT_FAILED, EXIT_OK
    from desktop_app.retrieval.store import forget_all_pictures

    if not folders:
        print(forget_all_pictures())
        return EXIT_OK
    done, count = _in_index(lambda store: sum(store.forget_under(str(Path(f).expanduser().resolve()))
                                              for f in folders))
    if not done:
        return EXIT_FAILED
    print(f"Lookaloud forgot {count} indexed picture{'s' if count != 1 else ''}.")
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    from desktop_app.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_NO_MODEL, EXIT_OK

    if args.forget:
        return _forget(args.folders)
    if not args.folders:
        _error("Name at least one folder to index, or use --forget.")
        return EXIT_BAD_INPUT
    for folder in args.folders:
        try:
            folder.encode("utf-8")
        except UnicodeEncodeError:
            _error("A folder's name is not valid text, so it cannot be indexed; rename it.")
            return EXIT_BAD_INPUT
    missing = [f for f in args.folders if not Path(f).expanduser().exists()]
    if missing:
        _error(f"There is no folder or file called {missing[0]}.")
        return EXIT_BAD_INPUT
    from desktop_app.models import vision_catalog as catalog
    from desktop_app.retrieval.engine import load_retrieval_model
    from desktop_app.retrieval.indexer import Indexer
    from desktop_app.vision.loader import ModelLoadError, ModelNotInstalledError, load_model

    try:
        retrieval = load_retrieval_model(args.model, device=args.device, precision=args.precision)
        captioner = shared = None
        if args.captions:
            name = args.caption_model or (catalog.DEMO_MODEL if retrieval.model_name == catalog.DEMO_SEARCH_MODEL
                                          else catalog.DEFAULT_MODEL)
            # The captioner in the search model's precision, so that equal vision encoders hash equal.
            captioner = load_model(catalog.resolve(name), device=retrieval.device, precision=retrieval.precision)
            from desktop_app.retrieval.shared_vision import SharedVision

            shared = SharedVision(captioner.model, captioner.processor, retrieval)
    except (catalog.UnknownModelError, ModelNotInstalledError, ModelLoadError) as exc:
        _error(str(exc))
        return EXIT_NO_MODEL
    if shared is not None and shared.shared:
        print("The describing and the search model share their vision encoder: each picture is looked at once.",
              file=sys.stderr)
    bar = ProgressBar()

    def skipped(path: str, sentence: str) -> None:
        bar.end_line()
        _error(f"Skipped: {sentence}")

    done, result = _in_index(lambda store: (
        Indexer(store, retrieval, captioner, shared).run([Path(f) for f in args.folders], bar, skipped), store.count()))
    if not done:
        return EXIT_FAILED
    summary, total = result
    bar.end_line()
    done = f"{summary.embedded} new, {summary.unchanged + summary.reused} unchanged"
    if summary.skipped:
        done += f", {len(summary.skipped)} skipped"
    if summary.stopped:
        _error(f"Stopped. The pictures done so far are kept ({done}); run the same command again to continue.")
        return 130
    removed = f"; {summary.removed} gone from the folders and forgotten" if summary.removed else ""
    print(f"Indexed {summary.total} picture{'s' if summary.total != 1 else ''}: {done}{removed}. "
          f"The index holds {total} picture{'s' if total != 1 else ''}.")
    return EXIT_OK


def _in_index(work: Callable[[Any], Any]) -> tuple[bool, Any]:
    """(True, work(store)) on the open IndexStore; (False, None) after saying why it failed."""
    from desktop_app.retrieval.store import IndexStore, IndexUnusableError

    try:
        with IndexStore() as store:
            return True, work(store)
    except IndexUnusableError as exc:
        _error(str(exc))
    except sqlite3.Error as exc:  # busy for too long, disk full: what was committed stays
        _error(f"The picture index could not be written or read: {exc}.")
    return False, None
