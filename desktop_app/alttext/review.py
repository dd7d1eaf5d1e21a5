"""The review sheet: a CSV of file, alt text, extended description and status.

Written to a hidden temporary file beside the chosen one and moved into place when the run
ends, also when it is stopped with Ctrl+C (then it holds every picture finished so far, each
row whole); without a file it goes to standard output, a row at a time. UTF-8; a cell that
would start with = + - @ (which spreadsheets run as a formula) starts with a ' instead.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
from pathlib import Path
from typing import BinaryIO

from desktop_app.alttext.writing import temporary_beside

COLUMNS = ("file", "alt_text", "extended_description", "status")
# status: "new" (the picture had no alt text), "replaced" (it had, and --overwrite was given),
# "kept" (it had, and the row shows that alt text, which was left as it was).


def _safe_cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


class ReviewSheet:
    """One CSV being written; add() a row per picture, then close()."""

    def __init__(self, target: Path | None, stdout: BinaryIO | None = None) -> None:
        self.target = target
        self._temporary: Path | None = None
        if target is None:
            self._out: BinaryIO = stdout if stdout is not None else os.fdopen(os.dup(1), "wb")
        else:
            self._temporary = temporary_beside(target, ".csv")
            self._out = open(self._temporary, "xb")  # noqa: SIM115 - closed in close()
        self._write(COLUMNS)

    def _write(self, row: tuple[str, ...]) -> None:
        line = io.StringIO()
        csv.writer(line).writerow([_safe_cell(cell) for cell in row])
        # surrogateescape: a file name that is not UTF-8 is written as the bytes it has.
        self._out.write(line.getvalue().encode("utf-8", "surrogateescape"))
        self._out.flush()

    def add(self, file: Path, alt_text: str, extended: str, status: str) -> None:
        self._write((str(file), alt_text, extended, status))

    def close(self) -> None:
        """Finish the sheet: the file is moved into place (what was added so far)."""
        if self._temporary is None:
            with contextlib.suppress(OSError):
                self._out.flush()
            return
        try:
            self._out.close()
            if self.target is not None:
                os.replace(self._temporary, self.target)
                self._temporary = None
        finally:
            if self._temporary is not None:
                with contextlib.suppress(FileNotFoundError):
                    self._temporary.unlink()
