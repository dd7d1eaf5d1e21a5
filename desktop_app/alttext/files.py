"""Which files a folder holds for `lookaloud alt-text`, and where each picture's sidecar goes.

Folders are walked recursively in a stable (sorted) order without following links to
folders (a link loop cannot trap the walk). Hidden files and folders (".name", which includes
Lookaloud's own temporary files) and .xmp sidecars are not pictures and are passed over in
silence; every other regular file is offered, and whether it is a picture is decided from
its content when it is opened (vision/images.py), so an extensionless photo is found too.

Sidecars: `photo.jpg` -> `photo.jpg.xmp`, the name darktable and digiKam (its default) use
and read. It keeps `photo.jpg` and `photo.png` in one folder apart, which Adobe's
`photo.xmp` (Lightroom and Bridge, and for raw files only) cannot.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

SIDECAR_SUFFIX = ".xmp"


def sidecar_path(picture: Path) -> Path:
    """Where the sidecar of `picture` goes: the picture's full name plus .xmp."""
    return picture.with_name(picture.name + SIDECAR_SUFFIX)


def _passed_over(name: str) -> bool:
    return name.startswith(".") or name.lower().endswith(SIDECAR_SUFFIX)


def files_in(paths: Iterable[Path], leave_out: Iterable[Path] = ()) -> list[Path]:
    """Every file to offer under `paths` (folders, walked recursively, or single files), once
    each, in order; `leave_out` are files Lookaloud itself writes there (the review CSV)."""
    left_out = {os.path.realpath(p) for p in leave_out}
    seen: set[str] = set()
    found: list[Path] = []

    def offer(path: Path) -> None:
        real = os.path.realpath(path)
        if real in seen or real in left_out:
            return
        seen.add(real)
        found.append(path)

    for root in paths:
        if not root.is_dir():
            offer(root)  # a file named on the command line is offered whatever its name
            continue
        for folder, subfolders, names in os.walk(root, followlinks=False):
            subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
            for name in sorted(names):
                if not _passed_over(name):
                    offer(Path(folder, name))
    return found
