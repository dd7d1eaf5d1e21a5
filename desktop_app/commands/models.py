"""`lookaloud models list|download|path|prepare`: see, fetch, locate and prepare the models Lookaloud can use.

Lists the vision models of the catalog, the bundled demo model and the Whisper speech models;
downloads one on request (the only way Lookaloud reaches the network) with a progress bar that
shows percent, MB/s and time left, stops cleanly on Ctrl+C and continues on a rerun. `prepare`
makes the quantized copy that the processor loads (desktop_app/vision/prepared.py) once, saying
its progress in sentences; a download of a large vision model on a computer without a GPU
prepares it straight after (unless --no-prepare).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desktop_app.choices import Precision

HELP = "List, download and locate the models Lookaloud uses."
# Memory needs are shown for a concrete precision, so not "auto".
PRECISIONS = tuple(p.value for p in (Precision.FP16, Precision.BF16, Precision.FP32))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="show every model, what it is good for, its size and whether it is installed")
    ls.add_argument("--precision", default="fp16", choices=PRECISIONS,
                    help="the precision to show memory needs for (default fp16)")
    ls.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    dl = sub.add_parser("download", help="download a model (the only time Lookaloud uses the network)")
    dl.add_argument("name", metavar="NAME", help="a model name from `lookaloud models list`")
    dl.add_argument("--dir", default=None, metavar="DIR",
                    help="download into this folder instead of the Hugging Face cache")
    dl.add_argument("--no-prepare", action="store_true",
                    help="do not prepare the model for this computer's processor after the download")
    pa = sub.add_parser("path", help="print the folder that holds an installed model")
    pa.add_argument("name", metavar="NAME")
    pr = sub.add_parser("prepare", help="prepare a vision model for this computer's processor once "
                                        "(quantized weights saved in Lookaloud's data folder)")
    pr.add_argument("name", metavar="NAME_OR_FOLDER", help="a model name from `lookaloud models list`, or a folder")
    pr.add_argument("--precision", default="auto", choices=Precision.values(),
                    help="int8 or int4 for the language model; auto picks what the processor runs best")


@dataclass
class _Row:
    name: str
    kind: str  # "vision", "demo" or "speech"
    good_for: str
    download_mb: int | None  # None: comes with Lookaloud
    memory_gb: float | None  # None: unknown
    installed: bool
    path: Path | None


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _demo_params(folder: Path) -> float:
    """Parameters (in billions) of a saved model, read from its safetensors headers."""
    import struct

    total = 0
    for file in folder.rglob("*.safetensors"):
        with open(file, "rb") as fh:
            (length,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(length))
        for key, value in header.items():
            if key != "__metadata__":
                n = 1
                for dim in value["shape"]:
                    n *= dim
                total += n
    return total / 1e9


def _rows(precision: str) -> list[_Row]:
    from dataclasses import replace

    from desktop_app.models import speech_catalog, store
    from desktop_app.models import vision_catalog as catalog

    rows = []
    for spec in catalog.CATALOG.values():
        path = store.installed_path(spec)
        rows.append(_Row(spec.name, "vision", spec.label, spec.download_mb, spec.memory_gb(precision),
                         path is not None, path))
    try:
        demo = catalog.resolve(catalog.DEMO_MODEL)
    except catalog.UnknownModelError:
        rows.append(_Row(catalog.DEMO_MODEL, "demo", "A tiny demo model that knows simple coloured shapes; "
                         "it is not included in this copy.", None, None, False, None))
    else:
        folder = Path(demo.folder or catalog.demo_folder())
        demo = replace(demo, params_billion=_demo_params(folder))
        rows.append(_Row(demo.name, "demo", "A tiny demo model that knows simple coloured shapes; "
                         "try Lookaloud with no download.", None, demo.memory_gb(precision), True, folder))
    for model in speech_catalog.STT_MODELS.values():
        found = store.installed_path(model)
        # CTranslate2 keeps the weights as stored, so memory is about the download size.
        rows.append(_Row(model.name, "speech", f"Speech recognition: {model.label}", model.download_mb,
                         round(model.download_mb / 1000 + 0.2, 1), found is not None, found))
    return rows


def _size(mb: int | None) -> str:
    if mb is None:
        return "included"
    return f"{mb / 1000:.1f} GB" if mb >= 1000 else f"{mb} MB"


def _list(args: argparse.Namespace) -> int:
    rows = _rows(args.precision)
    if args.json:
        print(json.dumps([{
            "name": r.name, "kind": r.kind, "good_for": r.good_for, "download_mb": r.download_mb,
            "memory_gb": r.memory_gb, "precision": args.precision if r.kind != "speech" else None,
            "installed": r.installed, "path": str(r.path) if r.path else None,
        } for r in rows], indent=2))
        return 0
    header = ("Name", "Download", f"Memory ({args.precision})", "Installed", "Good for")
    table = [header] + [(r.name, _size(r.download_mb),
                         f"{r.memory_gb:.1f} GB" if r.memory_gb is not None else "unknown",
                         "yes" if r.installed else "no", r.good_for) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths)) + "  " + row[4])
    print("\nSpeech models run in their stored precision. Download one with: lookaloud models download NAME")
    return 0


def _path(args: argparse.Namespace) -> int:
    from desktop_app.cli import EXIT_BAD_INPUT, EXIT_NO_MODEL, EXIT_OK
    from desktop_app.models import store

    target = _target(args.name)
    if target is None:
        return EXIT_BAD_INPUT
    found = store.installed_path(target)
    if found is None:
        _say(f"The model {args.name} is not installed. Download it with: lookaloud models download {args.name}")
        return EXIT_NO_MODEL
    print(found)
    return EXIT_OK


def _target(name: str) -> Any:
    """The catalog spec or speech model called `name`, or None (after saying so)."""
    from desktop_app.models import speech_catalog
    from desktop_app.models import vision_catalog as catalog

    if name in catalog.CATALOG or name in catalog.RETRIEVAL_CATALOG or name in (catalog.DEMO_MODEL,
                                                                                 catalog.DEMO_SEARCH_MODEL):
        try:
            return catalog.resolve(name)
        except catalog.UnknownModelError as error:
            _say(str(error))
            return None
    model = speech_catalog.find_stt_model(name)
    if model is not None:
        return model
    names = ", ".join([*catalog.CATALOG, catalog.DEMO_MODEL, *speech_catalog.STT_MODELS])
    _say(f"There is no model called {name}. Known models: {names}.")
    return None


class _Bar:
    """A one-line progress bar on a terminal; on a pipe or a screen reader's log, a line per
    10 percent, so that nothing floods the speech."""

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()
        self.last_step = -1
        self.last_draw = 0.0

    def __call__(self, p: Any) -> None:
        from desktop_app.models.hub import spoken_duration

        if p.phase == "checking":
            return
        left = p.seconds_left
        speed = f"{p.mb_per_second:.1f} MB/s" if p.bytes_per_second > 0 else "-- MB/s"
        eta = f"{spoken_duration(left)} left" if left else ("done" if p.phase == "done" else "time left unknown")
        line = f"{p.percent:5.1f}%  {speed}  {eta}"
        if self.tty:
            now = time.monotonic()
            if now - self.last_draw < 0.25 and p.phase != "done":
                return
            self.last_draw = now
            filled = int(p.percent / 100 * 30)
            sys.stdout.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {line}  {p.filename[-30:]:<30}")
            if p.phase == "done":
                sys.stdout.write("\n")
            sys.stdout.flush()
            return
        step = int(p.percent // 10)
        if step > self.last_step or p.phase == "done":
            self.last_step = step
            print(line, flush=True)


def _download(args: argparse.Namespace) -> int:
    from desktop_app.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
    from desktop_app.models import hub, store

    target = _target(args.name)
    if target is None:
        return EXIT_BAD_INPUT
    if getattr(target, "folder", None) is not None:
        print(f"The model {args.name} comes with Lookaloud, so there is nothing to download. It is in {target.folder}.")
        return EXIT_OK
    if args.dir is None:
        found = store.installed_path(target)
        if found is not None:
            print(f"The model {args.name} is already installed in {found}.")
            return EXIT_OK
    where = Path(args.dir).expanduser().resolve() if args.dir else "the Hugging Face cache"
    print(f"Downloading {args.name} ({_size(target.download_mb)}) from {hub.server_name()} into {where}.",
          flush=True)
    cancel = threading.Event()
    outcome: dict[str, Any] = {}
    bar = _Bar()

    def work() -> None:
        try:
            outcome["path"] = hub.download_model(target, args.dir, bar, cancel)
        except hub.DownloadError as error:
            outcome["error"] = error
        except Exception as error:  # noqa: BLE001 - reported as one sentence, never a traceback
            outcome["error"] = hub.DownloadError(f"The download failed: {error}.", "server")

    # The download runs in a worker so that Ctrl+C here can stop it at a clean point.
    worker = threading.Thread(target=work, name="download", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        cancel.set()
        worker.join(10)
        if bar.tty:
            print()
        _say("Download stopped. Run the same command again to continue where it stopped.")
        return 130
    if bar.tty and "error" in outcome:
        print()
    error = outcome.get("error")
    if error is not None:
        _say(str(error))
        return EXIT_FAILED
    print(f"The model {args.name} is installed in {outcome['path']}.")
    if not args.no_prepare and getattr(target, "kind", "") and getattr(target, "repo_id", ""):
        return _prepare_after_download(args.name)
    return EXIT_OK


def _prepare_after_download(name: str) -> int:
    """Prepare a freshly downloaded vision model when this computer will run it on the processor
    in a quantized precision (a large model, no GPU); otherwise there is nothing to prepare."""
    from desktop_app.cli import EXIT_OK
    from desktop_app.vision import loader

    try:
        device = loader.choose_device("auto")
        spec = _vision_spec(name)
        folder = loader.model_folder(spec)
    except Exception:  # noqa: BLE001 - the download itself succeeded; the first load prepares instead
        return EXIT_OK
    if device != "cpu" or loader.choose_precision(device, "auto", *loader.size_of(spec, folder)) not in loader.QUANTIZED:
        return EXIT_OK
    return _prepare_spec(spec, name, "auto")


def _vision_spec(name: str) -> Any:
    from desktop_app.models import vision_catalog as catalog

    return catalog.resolve(name)


def _prepare(args: argparse.Namespace) -> int:
    from desktop_app.cli import EXIT_BAD_INPUT
    from desktop_app.models import vision_catalog as catalog

    try:
        spec = _vision_spec(args.name)
    except catalog.UnknownModelError as error:
        _say(str(error))
        return EXIT_BAD_INPUT
    return _prepare_spec(spec, args.name, args.precision)


def _prepare_spec(spec: Any, name: str, precision: str) -> int:
    from desktop_app.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_NO_MODEL, EXIT_OK
    from desktop_app.vision import loader

    try:
        folder = loader.model_folder(spec)
        chosen = loader.choose_precision("cpu", precision, *loader.size_of(spec, folder))
    except loader.ModelNotInstalledError as error:
        _say(str(error))
        return EXIT_NO_MODEL
    except (loader.ModelLoadError, ValueError) as error:
        _say(str(error))
        return EXIT_BAD_INPUT
    if chosen not in loader.QUANTIZED:
        print(f"The model {name} needs no preparation in {chosen}: it loads straight from its folder. "
              "Choose --precision int8 or int4 to prepare a quantized copy.")
        return EXIT_OK
    said: list[str] = []

    def progress(fraction: float, sentence: str) -> None:
        said.append(sentence)
        print(sentence, flush=True)

    try:
        loaded = loader.load_model(spec, device="cpu", precision=chosen, progress=progress)
    except loader.ModelLoadError as error:
        _say(str(error))
        return EXIT_FAILED
    except KeyboardInterrupt:
        _say("Preparation stopped; nothing was saved. Run the same command again to prepare the model.")
        return 130
    if loaded.note:
        _say(loaded.note)
    if not loaded.prepared:
        return EXIT_FAILED  # the note said why no copy could be saved
    verb = "is prepared" if said else "was already prepared"
    print(f"The model {name} {verb} in {chosen} for this computer, in {loaded.prepared}.")
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    return {"list": _list, "download": _download, "path": _path, "prepare": _prepare}[args.action](args)
