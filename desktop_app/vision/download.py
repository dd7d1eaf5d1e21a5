"""Model downloads from the Hugging Face Hub, only when the user asks for one.

This module owns everything that touches the network in Lookaloud and where downloaded
models live on disk:

- `download_model(spec)` / `download_repo(repo_id, ...)` fetch a model at a pinned commit,
  only safetensors weights and small config/tokenizer files (never pickles), into the
  standard Hugging Face cache (or a folder the user chose), with progress events (bytes,
  percent, MB/s, time left), cancellation within a second, resume with HTTP Range after an
  interruption or a restart (partial files are kept as `*.incomplete`), and an integrity
  check of every file (size, then sha256 for LFS files or the git blob hash for small files).
- `installed_path(spec)` / `repo_path(repo_id, ...)` find a downloaded model without any
  network access.

Catalog models with an empty revision are pinned at their first download: the commit that
the branch pointed to is recorded in `paths.data_dir()/downloads.json` before any byte is
fetched, and every later download, resume and load uses exactly that commit.

Nothing here imports Qt. The download functions block and run off the GUI thread; the
progress callback is called from the thread that runs them.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import re
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from desktop_app import paths
from desktop_app.vision.catalog import BLIP_PAIR, ModelSpec

# Weights in safetensors plus the small files processors and tokenizers read.
MODEL_FILE_PATTERNS: tuple[str, ...] = ("*.safetensors", "*.json", "*.txt", "*.model")
# Never fetched whatever a caller allows: pickled weights can run code when loaded.
FORBIDDEN_PATTERNS: tuple[str, ...] = (
    "*.pt", "*.pth", "*.pkl", "*.pickle", "*.ckpt", "*.msgpack", "*.h5",
    "pytorch_model*.bin", "training_args.bin", "optimizer*.bin", "scheduler*.bin", "rng_state*",
    # Indexes of weights that are never fetched: useless, and they could mislead a loader.
    "*.bin.index.json", "tf_model*", "flax_model*",
)
RECORD_FILE = "downloads.json"
WORK_FOLDER = ".lookaloud-download"  # partial files and the lock inside a chosen folder
PAIR_PARTS = ("caption", "vqa")

_READ_TIMEOUT_S = 1.0  # a stalled read wakes up this often to notice a cancel
_STALL_LIMIT_S = 30.0  # no byte for this long: the connection is lost
_RETRIES = 4  # reconnections in a row without a new byte before giving up
_PROGRESS_EVERY_S = 0.1
_SPEED_WINDOW_S = 5.0
_DISK_MARGIN = 50 * 1024 * 1024

ProgressCallback = Callable[["DownloadProgress"], None]


@dataclass(frozen=True)
class DownloadProgress:
    """One progress event. `bytes_done` includes bytes kept from an earlier, interrupted try."""

    bytes_done: int
    bytes_total: int
    bytes_per_second: float  # over the last few seconds; 0.0 until something arrived
    filename: str  # the file being fetched or checked now
    phase: str = "downloading"  # "downloading", "checking" or "done"

    @property
    def percent(self) -> float:
        return 100.0 if self.bytes_total <= 0 else min(100.0, 100.0 * self.bytes_done / self.bytes_total)

    @property
    def mb_per_second(self) -> float:
        return self.bytes_per_second / 1e6

    @property
    def seconds_left(self) -> float | None:
        """None while the speed is unknown."""
        if self.bytes_done >= self.bytes_total:
            return 0.0
        if self.bytes_per_second <= 0:
            return None
        return (self.bytes_total - self.bytes_done) / self.bytes_per_second


class DownloadError(Exception):
    """A download failed; str(error) is one plain sentence for the user.

    `kind` lets the interface choose what to offer: "offline", "network", "not_found",
    "disk_full", "corrupt", "unsafe", "busy", "server" or "cancelled".
    """

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class DownloadCancelled(DownloadError):
    def __init__(self) -> None:
        super().__init__("The download was cancelled. Start it again to continue where it stopped.", "cancelled")


# ---------------------------------------------------------------------------------------------
# The record of downloads: which commit each repository was pinned to, and where it went.


def _record_path() -> Path:
    return paths.data_dir() / RECORD_FILE


def _read_record() -> dict[str, Any]:
    try:
        data = json.loads(_record_path().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _update_record(repo_id: str, **fields: Any) -> None:
    path = _record_path()
    data = _read_record()
    entry = data.setdefault("repos", {}).setdefault(repo_id, {})
    entry.update(fields)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)  # atomic: a crash never leaves half a record


def _recorded(repo_id: str) -> dict[str, Any]:
    entry = _read_record().get("repos", {}).get(repo_id, {})
    return entry if isinstance(entry, dict) else {}


def _is_commit(revision: str) -> bool:
    return re.fullmatch(r"[0-9a-f]{40}", revision) is not None


def pinned_revision(repo_id: str, revision: str = "") -> str:
    """The commit to use for a repository: `revision` if it is a commit, else the commit
    recorded at the first download, else "" (not pinned yet; the next download pins it)."""
    if _is_commit(revision):
        return revision
    recorded = str(_recorded(repo_id).get("revision", ""))
    return recorded if _is_commit(recorded) else ""


# ---------------------------------------------------------------------------------------------
# Finding installed models (never touches the network).


def _hub_cache() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _has_weights(folder: Path) -> bool:
    return any(folder.glob("*.safetensors")) or (folder / "model.bin").is_file()


def repo_path(repo_id: str, revision: str = "") -> Path | None:
    """Where a downloaded repository's files are, or None if it is not (fully) downloaded.

    Looks at the folder recorded by a `dest_dir` download first, then at the Hugging Face cache
    snapshot of the pinned or recorded commit (which also finds models put there by other
    tools). Never touches the network.
    """
    from huggingface_hub import try_to_load_from_cache

    entry = _recorded(repo_id)
    revision = pinned_revision(repo_id, revision)
    if not revision:
        return None
    files = entry.get("files") if entry.get("revision") == revision and entry.get("complete") else None
    if files and entry.get("dir"):
        folder = Path(entry["dir"])
        if all((folder / f).is_file() for f in files):
            return folder
    found = try_to_load_from_cache(repo_id, "config.json", cache_dir=_hub_cache(), revision=revision)
    if not isinstance(found, str):
        return None
    folder = Path(found).parent
    if files:
        return folder if all((folder / f).is_file() for f in files) else None
    return folder if _has_weights(folder) else None


def _pair_folder(spec: ModelSpec, caption: Path, vqa: Path) -> Path | None:
    """A folder holding caption/ and vqa/ for a BLIP pair whose halves live apart (the cache)."""
    if caption.parent == vqa.parent and caption.name == "caption" and vqa.name == "vqa":
        return caption.parent
    folder = paths.data_dir() / "models" / spec.name
    try:
        for part, target in zip(PAIR_PARTS, (caption, vqa)):
            link = folder / part
            if link.is_dir() and link.resolve() == target.resolve():
                continue
            _remove_link(link)
            folder.mkdir(parents=True, exist_ok=True)
            _link_dir(target, link)
    except OSError:
        return None
    return folder


def _remove_link(link: Path) -> None:
    if link.is_symlink() or (os.name == "nt" and link.exists()):
        try:
            os.unlink(link)
        except OSError:
            os.rmdir(link)  # a Windows junction


def _link_dir(target: Path, link: Path) -> None:
    try:
        os.symlink(target, link, target_is_directory=True)
    except OSError:
        if os.name != "nt":
            raise
        import _winapi  # a junction needs no special privilege on Windows

        _winapi.CreateJunction(str(target), str(link))


def installed_path(spec: ModelSpec) -> Path | None:
    """Where a model's files are on disk, or None if it is not installed. No network.

    - A model with a folder (the demo model, a folder the user gave): that folder, if it holds
      a saved model.
    - A catalog model: its Hugging Face cache snapshot folder for the pinned (or recorded)
      commit, or the folder it was downloaded into with `dest_dir`.
    - The BLIP pair: always one folder holding `caption/` and `vqa/`. After a `dest_dir`
      download that is the folder itself; for the cache it is `data_dir()/models/<name>`, whose
      two entries link to the two snapshot folders.
    """
    if spec.folder is not None:
        folder = Path(spec.folder)
        ok = (folder / "config.json").is_file() or all((folder / p / "config.json").is_file() for p in PAIR_PARTS)
        return folder if ok else None
    if not spec.repo_id:
        return None
    main = repo_path(spec.repo_id, spec.revision)
    if spec.kind != BLIP_PAIR or main is None:
        return main
    vqa = repo_path(spec.vqa_repo_id, spec.vqa_revision)
    return _pair_folder(spec, main, vqa) if vqa is not None else None


# ---------------------------------------------------------------------------------------------
# Planning: which files to fetch, at which commit, to where.


@dataclass
class _File:
    repo_id: str
    name: str
    size: int
    sha256: str | None  # LFS files
    blob_id: str | None  # git object id; of the content for small files
    url: str = ""
    final: Path = field(default_factory=Path)  # where the verified file ends up
    partial: Path = field(default_factory=Path)  # bytes so far, kept across restarts
    link: Path | None = None  # cache only: the snapshot entry pointing at the blob

    @property
    def done(self) -> bool:
        return self.link.exists() if self.link is not None else self.final.is_file()


@dataclass
class _Plan:
    repo_id: str
    commit: str
    files: list[_File]
    folder: Path  # what repo_path() will return
    dest_dir: Path | None


def _endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT.rstrip("/")


def _server_name() -> str:
    from urllib.parse import urlparse

    return urlparse(_endpoint()).hostname or _endpoint()


def _translate(error: BaseException, repo_id: str) -> DownloadError:
    """One plain sentence for whatever went wrong while talking to the server."""
    import httpx2
    from huggingface_hub import errors

    server = _server_name()
    if isinstance(error, DownloadError):
        return error
    if isinstance(error, errors.OfflineModeIsEnabled):
        return DownloadError(
            "Downloads are turned off on this computer because HF_HUB_OFFLINE is set. "
            "Unset it to download models.", "offline")
    if isinstance(error, errors.GatedRepoError):
        return DownloadError(f"The model {repo_id} needs a login on {server}, which Lookaloud does not support.",
                             "not_found")
    if isinstance(error, errors.RevisionNotFoundError):
        return DownloadError(f"The model server no longer has the version of {repo_id} that Lookaloud needs.",
                             "not_found")
    if isinstance(error, (errors.RepositoryNotFoundError, errors.RemoteEntryNotFoundError)):
        return DownloadError(f"The model {repo_id} was not found on {server}.", "not_found")
    if isinstance(error, errors.HfHubHTTPError):
        status = error.response.status_code if error.response is not None else "unknown"
        return DownloadError(f"The model server {server} answered with error {status}. Try again later.", "server")
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return DownloadError("The disk is full. Free some space and start the download again to continue.",
                             "disk_full")
    if isinstance(error, (httpx2.TransportError, ConnectionError, TimeoutError)):
        return DownloadError(
            f"Lookaloud could not reach the model server {server}. Check the internet connection and "
            "try again; the download will continue where it stopped.", "network")
    if isinstance(error, OSError):
        return DownloadError(f"The model could not be saved: {error.strerror or error}.", "disk_full")
    return DownloadError(f"The download failed: {error}.", "server")


def _plan(repo_id: str, revision: str, allow_patterns: Sequence[str], dest_dir: Path | None,
          require_safetensors: bool) -> _Plan:
    """Ask the server which files the commit has (one small request), pin the commit, and
    decide where each file goes."""
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import OfflineModeIsEnabled
    from huggingface_hub.file_download import repo_folder_name
    from huggingface_hub.utils import filter_repo_objects

    if constants.is_offline_mode():
        raise _translate(OfflineModeIsEnabled("HF_HUB_OFFLINE is set"), repo_id)
    pinned = pinned_revision(repo_id, revision)
    try:
        # token=False: no stored login token is ever sent; the catalog models are public.
        info = HfApi(endpoint=_endpoint(), token=False).model_info(
            repo_id, revision=pinned or revision or "main", files_metadata=True, token=False, timeout=15)
    except Exception as error:
        raise _translate(error, repo_id) from error
    commit = info.sha or pinned
    if not commit:
        raise DownloadError(f"The model server did not say which version of {repo_id} it has.", "server")
    if pinned and commit != pinned:
        raise DownloadError(f"The model server sent a different version of {repo_id} than the one asked for.",
                            "server")
    if not pinned:
        # Pin before the first byte, so a resume after a restart continues the same commit.
        _update_record(repo_id, revision=commit, complete=False)

    siblings = list(filter_repo_objects(
        info.siblings or [], allow_patterns=list(allow_patterns), ignore_patterns=list(FORBIDDEN_PATTERNS),
        key=lambda s: s.rfilename))
    if not siblings:
        raise DownloadError(f"The model {repo_id} has none of the files Lookaloud needs.", "not_found")
    if require_safetensors and not any(s.rfilename.endswith(".safetensors") for s in siblings):
        raise DownloadError(
            f"The model {repo_id} has no weights in the safetensors format, and Lookaloud only loads that "
            "format because the other formats can run code on your computer.", "unsafe")

    storage = _hub_cache() / repo_folder_name(repo_id=repo_id, repo_type="model")
    files = []
    for s in siblings:
        if s.size is None or (s.lfs is None and s.blob_id is None):
            raise DownloadError(f"The model server sent no checksum for {s.rfilename}.", "server")
        sha256 = s.lfs.sha256 if s.lfs is not None else None
        etag = sha256 or str(s.blob_id)
        f = _File(repo_id, s.rfilename, int(s.size), sha256, s.blob_id if sha256 is None else None,
                  url=f"{_endpoint()}/{repo_id}/resolve/{commit}/{quote(s.rfilename)}")
        if dest_dir is None:
            f.final = storage / "blobs" / etag
            f.partial = storage / "blobs" / f"{etag}.incomplete"
            f.link = storage / "snapshots" / commit / s.rfilename
        else:
            f.final = dest_dir / s.rfilename
            f.partial = dest_dir / WORK_FOLDER / f"{etag}.incomplete"
        files.append(f)
    folder = dest_dir if dest_dir is not None else storage / "snapshots" / commit
    return _Plan(repo_id, commit, files, folder, dest_dir)


# ---------------------------------------------------------------------------------------------
# Fetching.


class _Meter:
    """Counts bytes for all files of a download and sends rate-limited progress events."""

    def __init__(self, total: int, done: int, callback: ProgressCallback | None) -> None:
        self.total, self.done, self.callback = total, done, callback
        self.samples: deque[tuple[float, int]] = deque([(time.monotonic(), done)])
        self.last_sent = 0.0
        self.filename = ""

    def speed(self) -> float:
        now = time.monotonic()
        while len(self.samples) > 1 and now - self.samples[0][0] > _SPEED_WINDOW_S:
            self.samples.popleft()
        t0, b0 = self.samples[0]
        return (self.done - b0) / (now - t0) if now > t0 and self.done > b0 else 0.0

    def add(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        self.samples.append((now, self.done))
        if now - self.last_sent >= _PROGRESS_EVERY_S:
            self.send()

    def rewind(self, n: int) -> None:
        """Bytes thrown away (a server that ignored Range, a damaged partial file)."""
        self.done -= n
        self.samples = deque([(time.monotonic(), self.done)])

    def send(self, phase: str = "downloading") -> None:
        self.last_sent = time.monotonic()
        if self.callback is not None:
            self.callback(DownloadProgress(self.done, self.total, self.speed(), self.filename, phase))


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise DownloadCancelled()


def _fetch_file(f: _File, meter: _Meter, cancel: threading.Event | None) -> None:
    """Bring f.partial up to f.size bytes with Range requests, reconnecting after cuts."""
    import httpx2
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    session = get_session()
    timeout = httpx2.Timeout(10.0, read=_READ_TIMEOUT_S)
    failures, stalled_since = 0, None
    f.partial.parent.mkdir(parents=True, exist_ok=True)
    while True:
        _check_cancel(cancel)
        have = f.partial.stat().st_size if f.partial.exists() else 0
        if have > f.size:  # not the file we expect: start over
            f.partial.unlink()
            meter.rewind(have)
            have = 0
        if have == f.size:
            return
        headers = build_hf_headers(token=False)
        headers["Accept-Encoding"] = "identity"  # byte offsets must mean file offsets
        if have:
            headers["Range"] = f"bytes={have}-"
        got_bytes = False
        try:
            with session.stream("GET", f.url, headers=headers, timeout=timeout, follow_redirects=True) as response:
                hf_raise_for_status(response)
                mode = "ab"
                if have and response.status_code != 206:  # the server ignored Range
                    meter.rewind(have)
                    mode = "wb"
                with open(f.partial, mode) as out:
                    for chunk in response.iter_bytes():  # as it arrives: cancel is checked often
                        _check_cancel(cancel)
                        if chunk:
                            out.write(chunk)
                            meter.add(len(chunk))
                            got_bytes, failures, stalled_since = True, 0, None
        except DownloadError:
            raise
        except (httpx2.TransportError, httpx2.StreamError) as error:
            # A cut or a stall: keep the bytes and ask for the rest, unless nothing moves.
            now = time.monotonic()
            if isinstance(error, httpx2.ReadTimeout):
                if got_bytes or stalled_since is None:
                    stalled_since = now - _READ_TIMEOUT_S
                if now - stalled_since < _STALL_LIMIT_S:
                    continue
            else:
                failures = 0 if got_bytes else failures + 1
                if failures < _RETRIES:
                    if cancel is not None and cancel.wait(0.5 * failures):
                        raise DownloadCancelled() from error
                    continue
            raise _translate(error, f.repo_id) from error
        except Exception as error:
            raise _translate(error, f.repo_id) from error


def _git_blob_id(path: Path) -> str:
    h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())  # git's object id, not a security hash
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verify(f: _File, meter: _Meter, cancel: threading.Event | None) -> None:
    """Size and checksum of a complete partial file; a damaged one is deleted and reported."""
    meter.filename = f.name
    meter.send("checking")
    if f.sha256 is not None:
        h = hashlib.sha256()
        with open(f.partial, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                _check_cancel(cancel)
                h.update(block)
        ok = h.hexdigest() == f.sha256
    else:
        ok = _git_blob_id(f.partial) == f.blob_id
    if not ok:
        f.partial.unlink(missing_ok=True)
        meter.rewind(f.size)
        meter.send()
        raise DownloadError(
            f"The file {f.name} arrived damaged, so Lookaloud deleted it. "
            "Start the download again to fetch it afresh.", "corrupt")


def _place(f: _File) -> None:
    """Move a verified file into place; in the cache, link the snapshot entry to its blob."""
    from huggingface_hub.file_download import _create_symlink

    fresh = f.partial.exists()
    if fresh:
        f.final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(f.partial, f.final)
    if f.link is not None and not f.link.exists():
        f.link.parent.mkdir(parents=True, exist_ok=True)
        # Without symlink support the hub's helper moves a fresh blob and copies a shared one.
        _create_symlink(str(f.final), str(f.link), new_blob=fresh)


def _free_bytes(folder: Path) -> int:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def _run(plans: list[_Plan], progress: ProgressCallback | None, cancel: threading.Event | None) -> None:
    import filelock

    files = [f for plan in plans for f in plan.files]
    total = sum(f.size for f in files)
    todo = [f for f in files if not f.done]
    kept = sum(f.partial.stat().st_size for f in todo if f.partial.exists())
    meter = _Meter(total, total - sum(f.size for f in todo) + kept, progress)
    need = sum(f.size for f in todo) - kept
    if todo and _free_bytes(todo[0].partial.parent) < need + _DISK_MARGIN:
        gb = max(need / 1e9, 0.1)
        raise DownloadError(
            f"There is not enough free disk space: the model needs {gb:.1f} GB more. "
            "Free some space and start the download again.", "disk_full")
    meter.send()
    for plan in plans:
        lock_dir = plan.dest_dir / WORK_FOLDER if plan.dest_dir else _hub_cache() / ".locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(lock_dir / (plan.repo_id.replace("/", "--") + ".lock")))
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout as error:
            raise DownloadError("This model is already being downloaded by another Lookaloud window.",
                                "busy") from error
        try:
            for f in plan.files:
                if f.done:
                    continue
                if f.final.is_file():  # a blob shared with another commit: only the link is missing
                    _place(f)
                    continue
                meter.filename = f.name
                meter.send()
                try:
                    _fetch_file(f, meter, cancel)
                    _verify(f, meter, cancel)
                    _place(f)
                except OSError as error:
                    raise _translate(error, plan.repo_id) from error
        finally:
            lock.release()
    meter.send("done")


def _finish(plan: _Plan) -> None:
    if plan.dest_dir is not None:  # leave the chosen folder holding just the model
        shutil.rmtree(plan.dest_dir / WORK_FOLDER, ignore_errors=True)
    _update_record(plan.repo_id, revision=plan.commit, complete=True,
                   dir=str(plan.dest_dir) if plan.dest_dir is not None else None,
                   files=sorted(f.name for f in plan.files))


def download_repo(
    repo_id: str,
    revision: str = "",
    allow_patterns: Iterable[str] = MODEL_FILE_PATTERNS,
    dest_dir: str | Path | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    require_safetensors: bool = True,
) -> Path:
    """Download one repository at a pinned commit; return the folder that holds its files.

    Blocks; call it off the GUI thread. `revision` "" means: the recorded commit, else the
    commit `main` points to now (then recorded). Files matching FORBIDDEN_PATTERNS are never
    fetched. Raises DownloadError (DownloadCancelled if `cancel` was set) with one sentence.
    """
    return _download([(repo_id, revision, "")], tuple(allow_patterns), dest_dir, progress, cancel,
                     require_safetensors)[0]


def download_model(
    spec: ModelSpec,
    dest_dir: str | Path | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> Path:
    """Download a catalog model (both halves of the BLIP pair); return installed_path(spec).

    Blocks; call it off the GUI thread. With `dest_dir` the files go into that folder (the
    pair into dest_dir/caption and dest_dir/vqa) instead of the Hugging Face cache.
    """
    if spec.folder is not None or not spec.repo_id:
        found = installed_path(spec)
        if found is None:
            raise DownloadError(f"The model {spec.name} cannot be downloaded; it comes with Lookaloud.",
                                "not_found")
        return found
    repos = [(spec.repo_id, spec.revision, "")]
    if spec.kind == BLIP_PAIR:
        repos = [(spec.repo_id, spec.revision, "caption"), (spec.vqa_repo_id, spec.vqa_revision, "vqa")]
    _download(repos, MODEL_FILE_PATTERNS, dest_dir, progress, cancel, True)
    found = installed_path(spec)
    if found is None:
        raise DownloadError(f"The model {spec.name} was downloaded but could not be found afterwards.", "server")
    return found


def _download(repos: list[tuple[str, str, str]], allow_patterns: Sequence[str], dest_dir: str | Path | None,
              progress: ProgressCallback | None, cancel: threading.Event | None,
              require_safetensors: bool) -> list[Path]:
    _check_cancel(cancel)
    base = Path(dest_dir).expanduser().resolve() if dest_dir is not None else None
    plans = [_plan(repo_id, revision, allow_patterns, base / sub if base and sub else base, require_safetensors)
             for repo_id, revision, sub in repos]
    _run(plans, progress, cancel)
    for plan in plans:
        _finish(plan)
    return [plan.folder for plan in plans]


def format_progress(p: DownloadProgress) -> str:
    """A short spoken-friendly line: "42 percent, 6.3 megabytes a second, about 3 minutes left." """
    if p.phase == "checking":
        return f"Checking {p.filename}."
    if p.phase == "done":
        return "Download complete."
    parts = [f"{math.floor(p.percent)} percent"]
    if p.bytes_per_second > 0:
        parts.append(f"{p.mb_per_second:.1f} megabytes a second")
    left = p.seconds_left
    if left is not None and left > 0:
        parts.append(f"about {spoken_duration(left)} left")
    return ", ".join(parts) + "."


def spoken_duration(seconds: float) -> str:
    """"3 minutes", "1 hour 5 minutes": for progress lines and speech."""
    seconds = math.ceil(seconds)
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} hour{'s' if hours != 1 else ''} {minutes} minute{'s' if minutes != 1 else ''}"
