"""Writing the properties: into a sidecar, or into the picture itself, never half-way.

Everything is first written by exiftool to a new hidden temporary file beside the target
(`.lookaloud-XXXXXXXX.tmp.jpg`), read back by exiftool and compared with what was meant,
then moved over the target in one step (`os.replace`, atomic on one file system). A failure,
a wrong read-back or Ctrl+C (KeyboardInterrupt, with exiftool in its own session and stopped
by subprocess.run) removes the temporary file: the target is either as it was or complete.

Embedding also proves the pixels unchanged (pixels.fingerprint of the original and of the
written copy) and refuses to replace a picture that changed on disk since it was read. Every
function blocks for as long as exiftool runs.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from desktop_app.alttext.caption import Caption
from desktop_app.alttext.exiftool import Exiftool, ExiftoolError, clean_value
from desktop_app.alttext.files import sidecar_path
from desktop_app.alttext.pixels import fingerprint
from desktop_app.vision.images import PictureError

TEMP_PREFIX = ".lookaloud-"


class WriteError(RuntimeError):
    """The properties could not be written; str() is one sentence for the user."""


def temporary_beside(target: Path, suffix: str) -> Path:
    """A name for a new file in the target's folder that exists nowhere yet (short, so a
    long file name cannot make it too long)."""
    while True:
        candidate = target.with_name(f"{TEMP_PREFIX}{secrets.token_hex(4)}.tmp{suffix}")
        if not os.path.lexists(candidate):
            return candidate


@contextlib.contextmanager
def _removed_unless_kept(path: Path) -> Iterator[list[bool]]:
    """Removes `path` on the way out unless the body set its flag (it moved the file)."""
    kept = [False]
    try:
        yield kept
    finally:
        if not kept[0]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _verify(tool: Exiftool, written: Path, caption: Caption, name: str) -> None:
    found = tool.read(written)
    if found.alt_text != clean_value(caption.alt_text) or found.extended != clean_value(caption.extended):
        raise WriteError(f"The alt text read back from {name} was not what was written, so {name} was left as it was.")


def _flush_to_disk(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _take_owner_and_mode(written: Path, original: os.stat_result) -> None:
    os.chmod(written, stat.S_IMODE(original.st_mode))
    with contextlib.suppress(OSError):  # only root may give a file away; keeping ours is fine
        if os.getuid() in (0, original.st_uid):
            os.chown(written, original.st_uid, original.st_gid)


def write_sidecar(tool: Exiftool, picture: Path, caption: Caption) -> Path:
    """Set the properties in `picture`'s sidecar (made when there is none; another tool's
    sidecar keeps everything else it holds). The picture is never opened for writing."""
    sidecar = sidecar_path(picture)
    existing: os.stat_result | None = None
    if os.path.lexists(sidecar):
        existing = sidecar.lstat()
        if not stat.S_ISREG(existing.st_mode):
            raise WriteError(f"{sidecar.name} is not an ordinary file, so no alt text was written for {picture.name}.")
    temporary = temporary_beside(sidecar, ".xmp")
    try:
        with _removed_unless_kept(temporary) as kept:
            tool.write(sidecar if existing else None, temporary, caption.alt_text, caption.extended)
            _verify(tool, temporary, caption, sidecar.name)
            if existing:
                _take_owner_and_mode(temporary, existing)
            _flush_to_disk(temporary)
            os.replace(temporary, sidecar)
            kept[0] = True
    except ExiftoolError as exc:
        raise WriteError(str(exc)) from exc
    except OSError as exc:
        raise WriteError(f"The sidecar {sidecar.name} could not be written: {exc.strerror or exc}.") from exc
    return sidecar


def file_state(path: Path) -> tuple[int, int, int]:
    """What tells that a file changed on disk: its inode, size and modification time."""
    info = Path(os.path.realpath(path)).stat()
    return info.st_ino, info.st_size, info.st_mtime_ns


def embed(tool: Exiftool, picture: Path, caption: Caption, state: tuple[int, int, int] | None = None) -> Path:
    """Set the properties inside `picture` (through a link, in the file it points to).
    `state` is file_state() from when the picture was read: a picture changed since then is
    left alone. Raises WriteError, and leaves the picture as it was, on any failure."""
    target = Path(os.path.realpath(picture))
    name = picture.name
    try:
        original = target.stat()
        if state is not None and state != file_state(target):
            raise WriteError(f"{name} changed while Lookaloud was describing it, so it was left as it is.")
        before = fingerprint(target)
        temporary = temporary_beside(target, target.suffix)
        with _removed_unless_kept(temporary) as kept:
            tool.write(target, temporary, caption.alt_text, caption.extended)
            _verify(tool, temporary, caption, name)
            if fingerprint(temporary) != before:
                raise WriteError(f"Writing alt text into {name} would have changed its pixels, so it was left as it was.")
            _take_owner_and_mode(temporary, original)
            _flush_to_disk(temporary)
            if file_state(target) != (original.st_ino, original.st_size, original.st_mtime_ns):
                raise WriteError(f"{name} changed while its alt text was written, so it was left as it is.")
            os.replace(temporary, target)
            kept[0] = True
    except ExiftoolError as exc:
        raise WriteError(str(exc)) from exc
    except PictureError as exc:
        raise WriteError(f"{exc} Its alt text was not written.") from exc
    except OSError as exc:
        raise WriteError(f"The alt text could not be written into {name}: {exc.strerror or exc}.") from exc
    return target
