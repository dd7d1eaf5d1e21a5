"""One `lookaloud alt-text` run: every file offered, captioned when it needs alt text, written.

For each file: open it as a picture within the bounds of vision/images.py (anything that is
not one gets one sentence and is skipped); read its alt text and its sidecar's with exiftool;
keep what is there unless overwriting; otherwise caption it (the function handed in; this
module loads no model) and write the result in the chosen place and in the review sheet.
Progress goes to `say` ("3 of 12, 1.5 pictures a second, about 6 seconds left: a.jpg").
Runs on the calling thread and blocks until every file is done; Ctrl+C (KeyboardInterrupt)
passes through after the file in hand is either complete or untouched.
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop_app.alttext.caption import Caption
from desktop_app.alttext.exiftool import AltText, Exiftool, ExiftoolError
from desktop_app.alttext.files import sidecar_path
from desktop_app.alttext.review import ReviewSheet
from desktop_app.alttext.writing import WriteError, embed, file_state, write_sidecar
from desktop_app.vision.images import PictureError, open_picture


class WriteMode(enum.Enum):
    """Where the alt text goes."""

    SIDECAR = "sidecar"  # photo.jpg.xmp beside the picture; the picture is never touched
    XMP = "xmp"  # inside the picture, its pixels proven unchanged
    CSV = "csv"  # only the review sheet

    @classmethod
    def values(cls) -> list[str]:
        return [m.value for m in cls]


class CaptionError(RuntimeError):
    """One picture could not be captioned (the run goes on); str() is a sentence."""


@dataclass
class Tally:
    """What a run did, for the closing sentence."""

    offered: int = 0
    written: int = 0  # new alt text (written, or listed in csv mode)
    replaced: int = 0  # existing alt text replaced (--overwrite)
    kept: int = 0  # existing alt text kept
    skipped: int = 0  # not a picture, damaged or too large
    failed: int = 0  # a picture whose alt text could not be made or written
    done: int = 0  # files finished, whatever the outcome
    failures: list[str] = field(default_factory=list)


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def summary(tally: Tally, mode: WriteMode, stopped: bool = False) -> str:
    """The closing sentences, as the user hears them."""
    parts = []
    made = tally.written + tally.replaced
    if mode is WriteMode.CSV:
        parts.append(f"Alt text was made for {_plural(made, 'picture', 'pictures')} and listed for review.")
    else:
        where = "in sidecar files" if mode is WriteMode.SIDECAR else "into the pictures"
        parts.append(f"Alt text was written {where} for {_plural(made, 'picture', 'pictures')}.")
    if tally.replaced:
        parts.append(f"{_plural(tally.replaced, 'of them', 'of them')} replaced alt text that was there.")
    if tally.kept:
        parts.append(f"{_plural(tally.kept, 'picture', 'pictures')} kept the alt text {'it' if tally.kept == 1 else 'they'} had.")
    if tally.skipped:
        parts.append(f"{_plural(tally.skipped, 'file was', 'files were')} skipped.")
    if tally.failed:
        parts.append(f"{_plural(tally.failed, 'picture', 'pictures')} could not be done.")
    if stopped:
        parts.insert(0, f"Stopped after {tally.done} of {_plural(tally.offered, 'file', 'files')}; "
                        "no file was left half-written.")
    return " ".join(parts)


class Progress:
    """The "n of N" lines, with pictures a second once two files are done. The clock starts
    when the first file is finished, so the minute a model takes to load is not counted."""

    def __init__(self, total: int, say: Callable[[str], None], clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.say, self.clock = total, say, clock
        self.first_done: float | None = None

    def starting(self, index: int, path: Path) -> None:
        line = f"{index} of {self.total}"
        if index == 2:
            self.first_done = self.clock()
        elif index > 2 and self.first_done is not None:
            elapsed = self.clock() - self.first_done
            if elapsed > 0:
                rate = (index - 2) / elapsed
                line += f", {rate:.2g} pictures a second, about {_duration((self.total - index + 1) / rate)} left"
        self.say(f"{line}: {path}")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return _plural(max(1, round(seconds)), "second", "seconds")
    if seconds < 90 * 60:
        return _plural(round(seconds / 60), "minute", "minutes")
    return _plural(round(seconds / 3600), "hour", "hours")


def existing_alt_text(tool: Exiftool, picture: Path) -> AltText:
    """The alt text the picture already has: inside it, else in its sidecar."""
    inside = tool.read(picture)
    if inside.present:
        return inside
    sidecar = sidecar_path(picture)
    if sidecar.is_file():
        return tool.read(sidecar)
    return inside


def run_batch(files: list[Path], tool: Exiftool, captioner: Callable[[Any], Caption], mode: WriteMode,
              overwrite: bool, sheet: ReviewSheet | None, say: Callable[[str], None],
              tell: Callable[[Path, Caption, str], None] | None = None, tally: Tally | None = None) -> Tally:
    """Do every file in `files`; `tally` (updated as it goes) says what was done, also when
    KeyboardInterrupt or a fatal error from `captioner` ends the run early. `tell` hears each
    picture's result and status ("new", "replaced", "kept")."""
    tally = tally if tally is not None else Tally()
    tally.offered = len(files)
    progress = Progress(len(files), say)
    for index, path in enumerate(files, 1):
        progress.starting(index, path)
        try:
            state = file_state(path) if os.path.lexists(path) else None
            image = open_picture(path)
        except (PictureError, OSError) as exc:
            say(f"{exc if isinstance(exc, PictureError) else f'The file {path.name} could not be read.'} "
                "It was skipped.")
            tally.skipped += 1
            tally.done += 1
            continue
        try:
            found = existing_alt_text(tool, path)
            if found.present and not overwrite:
                status, result = "kept", Caption(found.alt_text, found.extended)
                tally.kept += 1
            else:
                status = "replaced" if found.present else "new"
                result = captioner(image)
                if mode is WriteMode.SIDECAR:
                    write_sidecar(tool, path, result)
                elif mode is WriteMode.XMP:
                    embed(tool, path, result, state)
                if status == "new":
                    tally.written += 1
                else:
                    tally.replaced += 1
        except (CaptionError, ExiftoolError, WriteError) as exc:
            say(str(exc))
            tally.failures.append(str(exc))
            tally.failed += 1
            tally.done += 1
            continue
        finally:
            del image
        if sheet is not None:
            sheet.add(path, result.alt_text, result.extended, status)
        if tell is not None:
            tell(path, result, status)
        tally.done += 1
    return tally
