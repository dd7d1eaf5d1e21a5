"""The one private folder for what must briefly be a file: sounds a player or synthesizer
can only take as a file name, and picture strips the text reader reads.

Both can describe the user's screen, so nothing goes to a shared temporary folder: one folder
per process, `<runtime folder>/files-<pid>` (0700, files 0600), each file deleted once used,
the folder removed at exit, and the folders of runs that ended without cleaning up (a crash,
a kill; and the `lookaloud-speech-*`, `-earcons-*` and `-ocr-*` folders older versions left in
$TMPDIR) removed at the next start: only this user's, only ours by name, never one whose
process still runs. Qt-free; any thread.
"""

from __future__ import annotations

import atexit
import itertools
import os
import re
import shutil
import stat
import tempfile
import threading
import warnings
from pathlib import Path

from desktop_app import paths

_FOLDER = re.compile(r"^files-(\d+)$")  # ours, inside paths.runtime_dir()
# In $TMPDIR: ours where the runtime folder cannot be used, and those made by the versions
# before this one (tempfile.mkdtemp with these prefixes; never removed).
_TMP_FOLDER = re.compile(r"^lookaloud-files-(\d+)-[^/]+$")
_OLD_TMP_FOLDER = re.compile(r"^lookaloud-(?:speech|earcons|ocr)-[a-z0-9_]{8}$")


class PrivateFolder:
    """One private folder (0700) for this process's files. Any thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._in_use: set[Path] = set()
        self._names = itertools.count()

    def new_file(self, suffix: str, data: bytes = b"") -> Path:
        """A new file readable by this user only, holding `data`; release() it once used."""
        with self._lock:
            path = self.path / f"file-{next(self._names)}{suffix}"
            self._in_use.add(path)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        except BaseException:
            self.release(path)
            raise
        return path

    def release(self, path: Path) -> None:
        """Delete a file once it has been used (or could not be)."""
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass  # Windows may still hold it for a moment; the folder goes at exit
        with self._lock:
            self._in_use.discard(path)

    def idle(self) -> bool:
        with self._lock:
            return not self._in_use

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


_folder: PrivateFolder | None = None
_folder_lock = threading.Lock()
_swept = False


def _runtime_dir() -> Path:
    # platformdirs warns on stderr where XDG_RUNTIME_DIR is unset (an ssh session): a line
    # `lookaloud describe --speak` must not print just because it looked for old sound folders.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return paths.runtime_dir()


def _owned_by_us(info: os.stat_result) -> bool:
    return stat.S_ISDIR(info.st_mode) and (not hasattr(os, "getuid") or info.st_uid == os.getuid())


def _make_private(path: Path) -> None:
    """Make `path` a new folder only this user can enter, or raise OSError."""
    os.mkdir(path, 0o700)
    os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask; this is not
    info = os.lstat(path)
    if not _owned_by_us(info) or (os.name == "posix" and stat.S_IMODE(info.st_mode) != 0o700):
        raise OSError(f"{path} could not be made private.")


def _create_folder() -> PrivateFolder:
    pid = os.getpid()
    try:
        base = _runtime_dir()
        base.mkdir(exist_ok=True, mode=0o700)  # its parent is the system's per-user folder
        if not _owned_by_us(os.lstat(base)):
            raise OSError(f"{base} is not this user's folder.")
        path = base / f"files-{pid}"
        if os.path.lexists(path):
            _remove_entry(path)  # left by an earlier process with our pid, so one that has ended
        _make_private(path)
    except OSError:
        # No usable runtime folder: a private one (mkdtemp makes it 0700) in $TMPDIR, found
        # by its name at the next start.
        path = Path(tempfile.mkdtemp(prefix=f"lookaloud-files-{pid}-"))
    return PrivateFolder(path)


def private_folder() -> PrivateFolder:
    """This process's private sound folder, made on first use and removed at exit."""
    global _folder
    with _folder_lock:
        if _folder is None or not _folder.path.is_dir():
            remove_leftovers()
            _folder = _create_folder()
            atexit.register(_remove_at_exit, _folder)
        return _folder


def _remove_at_exit(folder: PrivateFolder) -> None:
    folder.remove()


def release_private_folder() -> None:
    """Remove this process's sound folder unless a sound in it is still playing (at shutdown;
    the next sound that needs a file makes a new one)."""
    global _folder
    with _folder_lock:
        if _folder is not None and _folder.idle():
            _folder.remove()
            _folder = None


def _remove_entry(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    import psutil

    return pid == os.getpid() or psutil.pid_exists(pid)


def remove_leftovers() -> None:
    """Remove the sound folders of Lookaloud runs that ended without cleaning up (a crash, a
    kill) and those of earlier versions in $TMPDIR: only this user's, only ours by name, and
    never one whose process still runs. Once per process; called at start."""
    global _swept
    if _swept:
        return
    _swept = True
    places: list[tuple[Path, tuple[re.Pattern[str], ...]]] = [
        (Path(tempfile.gettempdir()), (_TMP_FOLDER, _OLD_TMP_FOLDER)),
        (_runtime_dir(), (_FOLDER,)),
    ]
    for place, patterns in places:
        try:
            entries = list(os.scandir(place))
        except OSError:
            continue
        for entry in entries:
            match = next((m for m in (p.match(entry.name) for p in patterns) if m), None)
            if match is None:
                continue
            try:
                if not _owned_by_us(os.lstat(entry.path)):
                    continue  # another user's, or a link someone planted: not ours to touch
            except OSError:
                continue
            if match.groups() and _process_alive(int(match.group(1))):
                continue  # a Lookaloud that is running (the app while the CLI speaks)
            shutil.rmtree(entry.path, ignore_errors=True)
