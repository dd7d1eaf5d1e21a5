"""`lookaloud alt-text FOLDER...`: caption every picture in folders and write it as alt text.

The alt text is the caption of the app's description pipeline (describer.py: the model's
caption, and the text read in the picture for the extended description), written as the IPTC
accessibility properties through exiftool: into `.xmp` sidecars by default (the pictures are
never touched), into the pictures with `--write xmp`, or only into a review CSV with
`--write csv`. desktop_app/alttext/ does the files, exiftool and writing; this module parses
the arguments and owns the model, which it loads only when a picture needs a caption.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from desktop_app.choices import Device, Precision

HELP = "Write alt text for every picture in folders, for photo managers and web tools to read."
EXIT_NO_EXIFTOOL = 4  # exiftool is missing or too old: nothing was written
# alttext.batch.WriteMode's values, spelt here so that `lookaloud --help` imports no Pillow.
WRITE_CHOICES = ("sidecar", "xmp", "csv")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folders", nargs="+", metavar="FOLDER", help="folders (searched with their subfolders) or pictures")
    parser.add_argument("--write", default="sidecar", choices=WRITE_CHOICES,
                        help="sidecar: a .xmp file beside each picture (photo.jpg.xmp), the pictures untouched "
                             "(the default); xmp: inside the pictures, their pixels unchanged; "
                             "csv: only a CSV for review")
    parser.add_argument("--overwrite", action="store_true", help="replace alt text that pictures already have")
    parser.add_argument("--csv", default=None, metavar="FILE", type=Path,
                        help="also write a CSV of file, alt text, extended description and status "
                             "(with --write csv and no file, the CSV goes to standard output)")
    parser.add_argument("--model", default=None, metavar="NAME_OR_FOLDER",
                        help="a model name (see `lookaloud models list`) or a folder holding a model; "
                             "default: the model chosen in Settings")
    parser.add_argument("--device", default="auto", choices=Device.values())
    parser.add_argument("--precision", default="auto", choices=Precision.values())
    parser.add_argument("--no-text", action="store_true",
                        help="do not read the text in the pictures (no extended description)")
    parser.add_argument("--language", default="en", metavar="CODE", help="the language of the text to read")


def _error(message: str) -> None:
    print(f"lookaloud: {message}", file=sys.stderr, flush=True)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _Stop(Exception):
    """The run cannot go on (no model); str() is the sentence, `code` the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class ModelCaptioner:
    """Captions pictures with a vision model loaded on first use, on the calling thread."""

    def __init__(self, model: str, device: str, precision: str, include_text: bool, language: str) -> None:
        from desktop_app.describer import DescribeOptions

        self.model, self.device, self.precision = model, device, precision
        self.options = DescribeOptions(include_text=include_text, include_kind=False, language=language)
        self.loaded: Any = None

    def _load(self) -> None:
        from desktop_app.cli import EXIT_NO_MODEL
        from desktop_app.models import vision_catalog as catalog
        from desktop_app.vision.loader import ModelLoadError, ModelNotInstalledError, load_model

        _say(f"Loading the model {self.model}.")
        try:
            self.loaded = load_model(catalog.resolve(self.model), device=self.device, precision=self.precision)
        except (catalog.UnknownModelError, ModelNotInstalledError, ModelLoadError) as exc:
            raise _Stop(str(exc), EXIT_NO_MODEL) from exc
        if self.loaded.note:
            _say(self.loaded.note)

    def __call__(self, image: Any) -> Any:
        import torch

        from desktop_app.alttext.batch import CaptionError
        from desktop_app.alttext.caption import caption_for
        from desktop_app.cli import EXIT_NO_MODEL
        from desktop_app.describer import compose
        from desktop_app.ocr import OcrError
        from desktop_app.vision.loader import ModelLoadError, one_line, reload_on_cpu
        from desktop_app.vision.session import ImageSession

        if self.loaded is None:
            self._load()
        for attempt in (1, 2):
            try:
                caption = ImageSession(self.loaded, image).caption()
                break
            except torch.OutOfMemoryError as exc:
                if self.loaded.device == "cpu" or attempt == 2:
                    raise CaptionError("There is not enough memory to caption the picture.") from exc
                try:
                    self.loaded = reload_on_cpu(self.loaded)
                except ModelLoadError as load_exc:
                    raise _Stop(str(load_exc), EXIT_NO_MODEL) from load_exc
                _say(self.loaded.note)
            except Exception as exc:  # a model that loads but cannot run gets one sentence
                raise CaptionError(f"The model could not caption the picture: {one_line(exc)}.") from exc
        found_text = ""
        if self.options.include_text:
            try:
                found_text = compose(caption, image, self.options).found_text
            except OcrError as exc:
                _say(f"{exc} The alt text is the caption alone, from now on.")
                self.options = replace(self.options, include_text=False)
        return caption_for(caption, found_text)


def _default_model() -> str:
    from desktop_app import settings
    from desktop_app.models import vision_catalog as catalog

    try:
        return settings.load().model or catalog.DEFAULT_MODEL
    except Exception:  # noqa: BLE001 - unreadable settings: the default model
        return catalog.DEFAULT_MODEL


def run(args: argparse.Namespace) -> int:
    from desktop_app.alttext.batch import Tally, WriteMode, run_batch, summary
    from desktop_app.alttext.exiftool import Exiftool, ExiftoolMissingError
    from desktop_app.alttext.files import files_in
    from desktop_app.alttext.review import ReviewSheet
    from desktop_app.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK

    mode = WriteMode(args.write)
    roots = [Path(p) for p in args.folders]
    for root in roots:
        if not root.exists():
            _error(f"There is no folder or file called {root}.")
            return EXIT_BAD_INPUT
    if args.csv is not None and args.csv.is_dir():
        _error(f"{args.csv} is a folder; give a file name for the CSV.")
        return EXIT_BAD_INPUT
    try:
        tool = Exiftool.find()
    except ExiftoolMissingError as exc:
        _error(f"{exc} Nothing was written.")
        return EXIT_NO_EXIFTOOL
    files = files_in(roots, leave_out=[args.csv] if args.csv else [])
    if not files:
        _error("There are no files in " + ", ".join(str(r) for r in roots) + ".")
        return EXIT_BAD_INPUT
    csv_to_stdout = mode is WriteMode.CSV and args.csv is None
    try:
        sheet = ReviewSheet(None, sys.stdout.buffer) if csv_to_stdout else (
            ReviewSheet(args.csv) if args.csv is not None else None)
    except OSError as exc:
        _error(f"The CSV file {args.csv} could not be made: {exc.strerror or exc}.")
        return EXIT_BAD_INPUT

    def tell(path: Path, caption: Any, status: str) -> None:
        if not csv_to_stdout:
            word = {"new": "", "replaced": " (replaced)", "kept": " (kept)"}[status]
            print(f"{path}{word}: {caption.alt_text}", flush=True)

    captioner = ModelCaptioner(args.model or _default_model(), args.device, args.precision,
                               not args.no_text, args.language)
    _say(f"{len(files)} files to look at.")
    tally = Tally()
    try:
        with tool:
            run_batch(files, tool, captioner, mode, args.overwrite, sheet, _say, tell, tally)
    except KeyboardInterrupt:
        if sheet is not None:
            sheet.close()
        _say(summary(tally, mode, stopped=True))
        return 130
    except _Stop as exc:
        if sheet is not None:
            sheet.close()
        _error(str(exc))
        return exc.code
    if sheet is not None:
        sheet.close()
    _say(summary(tally, mode))
    if tally.failed:
        return EXIT_FAILED
    if tally.skipped == tally.offered:
        _error("None of the files is a picture Lookaloud can read.")
        return EXIT_BAD_INPUT
    return EXIT_OK
