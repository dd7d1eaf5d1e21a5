"""Opening files the user names (pictures, sound files) without hanging or running out of memory.

A path from the user can be anything: a FIFO (reading blocks until a writer comes, forever),
/dev/zero or a link to it (never ends), a folder, or a sparse 3 GB file. open_regular_file()
looks first and opens only regular files up to a size limit, without ever blocking.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO


def megabytes(size: int) -> str:
    """A size as the user hears it: "300 megabytes"."""
    return f"{size / (1024 * 1024):,.0f} megabytes"


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not an ordinary file"


def open_regular_file(path: Path, limit: int, who: str, what: str,
                      error: type[Exception] = ValueError) -> IO[bytes]:
    """`path` opened for binary reading if it is a regular file of at most `limit` bytes.

    Otherwise raises `error` with one sentence: `who` names the file ("The file a.png"), `what`
    is what it should have been ("a picture"). FIFOs, devices and sockets are refused from their stat; the file is then opened
    non-blocking and checked again through its descriptor, in case it was swapped meanwhile.
    """
    name = path.name or str(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise error(f"{who} does not exist.") from None
    except OSError as exc:
        raise error(f"{who} could not be read: {exc.strerror or exc}.") from exc
    if stat.S_ISDIR(info.st_mode):
        raise error(f"{name} is a folder, not {what}.")
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{who} is {_kind(info.st_mode)}, not {what}.")
    if info.st_size > limit:
        raise error(f"{who} is too large to open: {megabytes(info.st_size)}, "
                    f"and the limit is {megabytes(limit)}.")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise error(f"{who} could not be read: {exc.strerror or exc}.") from exc
    again = os.fstat(fd)
    if not stat.S_ISREG(again.st_mode) or again.st_size > limit:
        os.close(fd)
        raise error(f"{who} changed while it was being opened; try again.")
    return os.fdopen(fd, "rb")
