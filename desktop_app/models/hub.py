"""Model downloads from the Hugging Face Hub, only when the user asks for one.

This module owns everything that touches the network in Lookaloud:

- `download_model(model)` (a vision ModelSpec or a Whisper SttModel) / `download_repo(repo_id,
  ...)` fetch a model at a pinned commit, only safetensors weights (CTranslate2's model.bin
  for Whisper) and small config/tokenizer files (never pickles), into the
  standard Hugging Face cache (or a folder the user chose), with progress events (bytes,
  percent, MB/s, time left), cancellation within a second, resume with HTTP Range after an
  interruption or a restart (partial files are kept as `*.incomplete`), and an integrity
  check of every file (size, then sha256 for LFS files or the git blob hash for small files).
- `server_name()`, `format_progress()`, `spoken_duration()`: what the interfaces say about it.

Where a downloaded model lives and how it is found again is the model store's (store.py): this
client writes the store's record of downloads and asks the store where a model ended up.

Catalog models with an empty revision are pinned at their first download: the commit that
the branch pointed to is recorded in the store's downloads.json before any byte is
fetched, and every later download, resume and load uses exactly that commit.

Everything the server says is distrusted: file names, blob ids, checksums and the commit id are
validated (relative names only, no `..`, no backslashes, 40 or 64 hex digits for hashes and
commits) and every path is checked to stay inside its folder before anything is written; a
bad name refuses the whole download. Bodies stop at the listed size, listings, redirects,
reconnections and slow transfers are bounded, and every failure ends in one sentence.

This is the only code in Lookaloud that goes online, with its own HTTP client: the package
sets HF_HUB_OFFLINE for every process (desktop_app/__init__.py), so the hub libraries stay
offline even while a download runs. A user's own HF_HUB_OFFLINE still turns downloads off.

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
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from desktop_app import USER_OFFLINE_VARIABLE, __version__
from desktop_app.models import store
from desktop_app.models.speech_catalog import SttModel
from desktop_app.models.vision_catalog import BLIP_PAIR, ModelSpec

# Weights in safetensors plus the small files processors and tokenizers read.
MODEL_FILE_PATTERNS: tuple[str, ...] = ("*.safetensors", "*.json", "*.txt", "*.model")
# Never fetched whatever a caller allows: pickled weights can run code when loaded.
FORBIDDEN_PATTERNS: tuple[str, ...] = (
    "*.pt", "*.pth", "*.pkl", "*.pickle", "*.ckpt", "*.msgpack", "*.h5",
    "pytorch_model*.bin", "training_args.bin", "optimizer*.bin", "scheduler*.bin", "rng_state*",
    # Indexes of weights that are never fetched: useless, and they could mislead a loader.
    "*.bin.index.json", "tf_model*", "flax_model*",
)
WORK_FOLDER = ".lookaloud-download"  # partial files and the lock inside a chosen folder

_READ_TIMEOUT_S = 1.0  # a stalled read wakes up this often to notice a cancel
_STALL_LIMIT_S = 30.0  # no byte for this long: the connection is lost
_RETRIES = 4  # reconnections in a row without a new byte before giving up
_MAX_TRIES = 20  # connections per file in one download that end early (cuts, short bodies)
_MAX_REQUESTS = 200  # connections per file in one download, whatever ended them
_MIN_BYTES_PER_STALL_WINDOW = 32 * 1024  # less than this in _STALL_LIMIT_S: too slow to finish
_MAX_REDIRECTS = 5
_MAX_LISTING_BYTES = 32 * 1024 * 1024  # the file list of a model; real ones are kilobytes
_LISTING_DEADLINE_S = 60.0
_MAX_LISTED_FILES = 20_000
_MAX_FILES = 1_000  # files to fetch for one model; real ones have a few dozen
_MAX_FILE_BYTES = 1 << 38  # 256 GiB: no model file is larger
_MAX_NAME_LENGTH = 1_000
# Hosts the official hub sends file bodies to (its CDN and storage).
_OFFICIAL_HOSTS = ("huggingface.co", "hf.co")
_PROGRESS_EVERY_S = 0.1
_SPEED_WINDOW_S = 5.0
_DISK_MARGIN = 50 * 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")

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


def _endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT.rstrip("/")


def server_name() -> str:
    """The model server's host name, for sentences about downloads."""
    return urlsplit(_endpoint()).hostname or _endpoint()


def _user_offline() -> bool:
    """The user asked for no network at all (HF_HUB_OFFLINE set before Lookaloud started)."""
    return os.environ.get(USER_OFFLINE_VARIABLE) == "1"


def _offline_error() -> DownloadError:
    return DownloadError(
        "Downloads are turned off on this computer because HF_HUB_OFFLINE is set. "
        "Unset it to download models.", "offline")


def _refused(repo_id: str, what: str) -> DownloadError:
    return DownloadError(f"The model server sent {what} for {repo_id}, so Lookaloud refused the whole download.",
                         "unsafe")


def _translate(error: BaseException, repo_id: str) -> DownloadError:
    """One plain sentence for whatever went wrong while talking to the server."""
    import httpx2

    server = server_name()
    if isinstance(error, DownloadError):
        return error
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return DownloadError("The disk is full. Free some space and start the download again to continue.",
                             "disk_full")
    if isinstance(error, (httpx2.TransportError, httpx2.StreamError, ConnectionError, TimeoutError)):
        return DownloadError(
            f"Lookaloud could not reach the model server {server}. Check the internet connection and "
            "try again; the download will continue where it stopped.", "network")
    if isinstance(error, OSError):
        return DownloadError(f"The model could not be saved: {error.strerror or error}.", "disk_full")
    return DownloadError(f"The download failed: {error}.", "server")


def _check_status(response: Any, repo_id: str) -> None:
    """Turn an error answer into one sentence (the hub names the reason in X-Error-Code)."""
    status = response.status_code
    if status < 400:
        return
    code = response.headers.get("X-Error-Code", "")
    server = server_name()
    if code == "RevisionNotFound":
        raise DownloadError(f"The model server no longer has the version of {repo_id} that Lookaloud needs.",
                            "not_found")
    if code == "GatedRepo":
        raise DownloadError(f"The model {repo_id} needs a login on {server}, which Lookaloud does not support.",
                            "not_found")
    if code in ("RepoNotFound", "EntryNotFound") or status in (401, 404):
        raise DownloadError(f"The model {repo_id} was not found on {server}.", "not_found")
    raise DownloadError(f"The model server {server} answered with error {status}. Try again later.", "server")


# ---------------------------------------------------------------------------------------------
# Talking to the server: one client, redirects checked, nothing unbounded.


def _client() -> Any:
    """An HTTP client of this module's own: the hub libraries' session obeys HF_HUB_OFFLINE,
    which Lookaloud keeps set. No login token is ever sent; the catalog models are public."""
    import httpx2

    return httpx2.Client(follow_redirects=False, headers={"User-Agent": f"lookaloud/{__version__}"})


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _may_follow(target: str) -> bool:
    """Redirects stay on the endpoint's own origin; from the official hub also to its https CDN."""
    if _origin(target) == _origin(_endpoint()):
        return True
    host = _origin(_endpoint())[1]
    official = host in _OFFICIAL_HOSTS
    scheme, target_host, _ = _origin(target)
    return official and scheme == "https" and any(
        target_host == h or target_host.endswith("." + h) for h in _OFFICIAL_HOSTS)


@contextmanager
def _open(client: Any, url: str, headers: dict[str, str], timeout: Any, repo_id: str) -> Iterator[Any]:
    """GET `url` as a stream, following at most _MAX_REDIRECTS redirects that _may_follow allows."""
    for _ in range(_MAX_REDIRECTS + 1):
        response = client.send(client.build_request("GET", url, headers=headers, timeout=timeout), stream=True)
        if not response.has_redirect_location:
            try:
                yield response
            finally:
                response.close()
            return
        target = urljoin(url, response.headers["Location"])
        response.close()
        if not _may_follow(target):
            host = urlsplit(target).hostname or "an unknown place"
            raise DownloadError(
                f"The model server tried to send the download of {repo_id} to another server, {host}, "
                "so Lookaloud stopped.", "unsafe")
        url = target
    raise DownloadError(f"The model server sent the download of {repo_id} round in circles, so Lookaloud stopped.",
                        "server")


def _model_info(client: Any, repo_id: str, revision: str) -> dict[str, Any]:
    """The commit and file list of a revision (the hub's /api/models/.../revision/... answer)."""
    import httpx2

    url = f"{_endpoint()}/api/models/{repo_id}/revision/{quote(revision, safe='')}?blobs=true"
    deadline = time.monotonic() + _LISTING_DEADLINE_S
    body = bytearray()
    try:
        with _open(client, url, {"Accept": "application/json"}, httpx2.Timeout(15.0), repo_id) as response:
            _check_status(response, repo_id)
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > _MAX_LISTING_BYTES or time.monotonic() > deadline:
                    raise _refused(repo_id, "a file list far larger than any model has")
    except DownloadError:
        raise
    except Exception as error:
        raise _translate(error, repo_id) from error
    try:
        data = json.loads(bytes(body))
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise DownloadError(f"The model server sent an answer about {repo_id} that Lookaloud cannot read.", "server")
    return data


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


def safe_relative_name(name: object) -> bool:
    """A file name from a server that can only mean a file inside the model's folder: relative,
    forward slashes only, no empty, `.` or `..` parts, no drive letter, colon or control
    character, and not inside Lookaloud's own work folder."""
    if not isinstance(name, str) or not 0 < len(name) <= _MAX_NAME_LENGTH:
        return False
    if "\\" in name or ":" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        return False
    parts = name.split("/")
    return all(p not in ("", ".", "..") for p in parts) and parts[0] != WORK_FOLDER


def _inside(base: Path, path: Path) -> bool:
    """`path`, with every link resolved, is inside `base` (also resolved)."""
    try:
        path.resolve().relative_to(base.resolve())
    except ValueError:
        return False
    return True


def _listed_files(info: dict[str, Any], repo_id: str) -> list[tuple[str, int, str | None, str | None]]:
    """(name, size, sha256, blob id) of every listed file, each checked; any bad one refuses all."""
    siblings = info.get("siblings")
    if not isinstance(siblings, list):
        raise DownloadError(f"The model server sent no file list for {repo_id}.", "server")
    if len(siblings) > _MAX_LISTED_FILES:
        raise _refused(repo_id, "a file list far larger than any model has")
    listed, seen = [], set()
    for s in siblings:
        if not isinstance(s, dict):
            raise DownloadError(f"The model server sent an answer about {repo_id} that Lookaloud cannot read.",
                                "server")
        name = s.get("rfilename")
        if not safe_relative_name(name) or name in seen:
            raise _refused(repo_id, "a file name that points outside the model's folder")
        seen.add(name)
        size = s.get("size")
        lfs = s.get("lfs")
        sha256 = lfs.get("sha256") if isinstance(lfs, dict) else None
        blob_id = s.get("blobId")
        if lfs is not None and (not isinstance(sha256, str) or _SHA256.fullmatch(sha256) is None):
            raise _refused(repo_id, "an invalid checksum")
        if blob_id is not None and not store.is_commit(blob_id):  # a git object id has a commit's shape
            raise _refused(repo_id, "an invalid checksum")
        if size is not None and (type(size) is not int or not 0 <= size <= _MAX_FILE_BYTES):
            raise _refused(repo_id, "a file size larger than any model has")
        listed.append((name, size, sha256, blob_id))
    return listed


def _plan(client: Any, repo_id: str, revision: str, allow_patterns: Sequence[str], dest_dir: Path | None,
          require_safetensors: bool) -> _Plan:
    """Ask the server which files the commit has (one small request), check everything it
    says, pin the commit, and decide where each file goes."""
    from huggingface_hub.file_download import repo_folder_name
    from huggingface_hub.utils import filter_repo_objects

    if _user_offline():
        raise _offline_error()
    pinned = store.pinned_revision(repo_id, revision)
    info = _model_info(client, repo_id, pinned or revision or "main")
    commit = info.get("sha") or pinned
    if not commit:
        raise DownloadError(f"The model server did not say which version of {repo_id} it has.", "server")
    if not store.is_commit(commit):
        raise _refused(repo_id, "an invalid version id")
    if pinned and commit != pinned:
        raise DownloadError(f"The model server sent a different version of {repo_id} than the one asked for.",
                            "server")
    listed = _listed_files(info, repo_id)
    wanted = list(filter_repo_objects(listed, allow_patterns=list(allow_patterns),
                                      ignore_patterns=list(FORBIDDEN_PATTERNS), key=lambda s: s[0]))
    if not wanted:
        raise DownloadError(f"The model {repo_id} has none of the files Lookaloud needs.", "not_found")
    if len(wanted) > _MAX_FILES:
        raise _refused(repo_id, "a file list far larger than any model has")
    if require_safetensors and not any(name.endswith(".safetensors") for name, *_ in wanted):
        raise DownloadError(
            f"The model {repo_id} has no weights in the safetensors format, and Lookaloud only loads that "
            "format because the other formats can run code on your computer.", "unsafe")

    storage = store.hub_cache() / repo_folder_name(repo_id=repo_id, repo_type="model")
    base = dest_dir if dest_dir is not None else storage
    files = []
    for name, size, sha256, blob_id in wanted:
        if size is None or (sha256 is None and blob_id is None):
            raise DownloadError(f"The model server sent no checksum for {name}.", "server")
        etag = sha256 or str(blob_id)
        f = _File(repo_id, name, size, sha256, blob_id if sha256 is None else None,
                  url=f"{_endpoint()}/{repo_id}/resolve/{commit}/{quote(name)}")
        if dest_dir is None:
            f.final = storage / "blobs" / etag
            f.partial = storage / "blobs" / f"{etag}.incomplete"
            f.link = storage / "snapshots" / commit / name
        else:
            f.final = dest_dir / name
            f.partial = dest_dir / WORK_FOLDER / f"{etag}.incomplete"
        if not all(_inside(base, p) for p in (f.final, f.partial, f.link or f.final)):
            raise _refused(repo_id, "a file name that points outside the model's folder")
        files.append(f)
    if not pinned:
        # Pin before the first byte, so a resume after a restart continues the same commit;
        # only now that everything the server said has passed the checks.
        store.record(repo_id, revision=commit, complete=False)
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


def _damaged(f: _File, meter: _Meter) -> DownloadError:
    """Throw away a file's bytes so far; the sentence to end the download with."""
    if f.partial.exists():
        meter.rewind(f.partial.stat().st_size)
        f.partial.unlink()
    meter.send()
    return DownloadError(
        f"The file {f.name} arrived damaged, so Lookaloud deleted it. "
        "Start the download again to fetch it afresh.", "corrupt")


def _content_start(response: Any) -> int | None:
    """The first byte offset a 206 answer says it holds ("bytes 100-199/200")."""
    match = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", response.headers.get("Content-Range", "").strip())
    return int(match.group(1)) if match else None


def _fetch_file(client: Any, f: _File, meter: _Meter, cancel: threading.Event | None) -> None:
    """Bring f.partial up to f.size bytes with Range requests, reconnecting after cuts.

    Never writes past the listed size (more is damage), and gives up after _MAX_TRIES
    connections that ended early, _MAX_REQUESTS connections in all, a stall of
    _STALL_LIMIT_S or a transfer too slow to ever finish.
    """
    import httpx2

    timeout = httpx2.Timeout(10.0, read=_READ_TIMEOUT_S)
    failures, early, requests, stalled_since = 0, 0, 0, None
    f.partial.parent.mkdir(parents=True, exist_ok=True)
    while True:
        _check_cancel(cancel)
        have = f.partial.stat().st_size if f.partial.exists() else 0
        if have > f.size:  # left by an older Lookaloud or another program: not this file
            f.partial.unlink()
            meter.rewind(have)
            have = 0
        if have == f.size:
            return
        requests += 1
        if early >= _MAX_TRIES or requests > _MAX_REQUESTS:
            raise DownloadError(
                f"The model server {server_name()} kept breaking off the transfer of {f.name}, so Lookaloud "
                "stopped. Try again later; the download will continue where it stopped.", "network")
        headers = {"Accept-Encoding": "identity"}  # byte offsets must mean file offsets
        if have:
            headers["Range"] = f"bytes={have}-"
        got_bytes = False
        try:
            with _open(client, f.url, headers, timeout, f.repo_id) as response:
                _check_status(response, f.repo_id)
                mode = "ab"
                if have and response.status_code == 206:
                    if _content_start(response) != have:
                        raise _damaged(f, meter)
                elif response.status_code not in (200, 206) or (not have and response.status_code == 206):
                    raise DownloadError(f"The model server {server_name()} answered with error "
                                        f"{response.status_code}. Try again later.", "server")
                elif have:  # the server ignored Range: the whole file comes again
                    meter.rewind(have)
                    have, mode = 0, "wb"
                room = f.size - have
                listed = response.headers.get("Content-Length", "")
                if listed.isdigit() and int(listed) > room:
                    raise _damaged(f, meter)  # more than the file can hold: not the file listed
                window_start, window_bytes = time.monotonic(), 0
                with open(f.partial, mode) as out:
                    for chunk in response.iter_bytes():  # as it arrives: cancel is checked often
                        _check_cancel(cancel)
                        if not chunk:
                            continue
                        if len(chunk) > room:
                            out.close()
                            raise _damaged(f, meter)  # the body runs past the listed size
                        out.write(chunk)
                        room -= len(chunk)
                        meter.add(len(chunk))
                        got_bytes, failures, stalled_since = True, 0, None
                        window_bytes += len(chunk)
                        now = time.monotonic()
                        if now - window_start >= _STALL_LIMIT_S:
                            if window_bytes < _MIN_BYTES_PER_STALL_WINDOW:
                                raise DownloadError(
                                    f"The model server {server_name()} sends {f.name} too slowly to ever finish, "
                                    "so Lookaloud stopped. Try again later; the download will continue where "
                                    "it stopped.", "network")
                            window_start, window_bytes = now, 0
            if room > 0:
                early += 1  # a body shorter than promised: ask for the rest, a bounded number of times
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
                early += 1
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


def _run(client: Any, plans: list[_Plan], progress: ProgressCallback | None,
         cancel: threading.Event | None) -> None:
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
        lock_dir = plan.dest_dir / WORK_FOLDER if plan.dest_dir else store.hub_cache() / ".locks"
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
                    _fetch_file(client, f, meter, cancel)
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
    store.record(plan.repo_id, revision=plan.commit, complete=True,
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
    spec: ModelSpec | SttModel,
    dest_dir: str | Path | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> Path:
    """Download a catalog model (both halves of the BLIP pair, or a Whisper model); return the
    folder that holds it (the store's installed_path for a vision model).

    Blocks; call it off the GUI thread. With `dest_dir` the files go into that folder (the
    pair into dest_dir/caption and dest_dir/vqa) instead of the Hugging Face cache.
    """
    if isinstance(spec, SttModel):  # CTranslate2 weights: model.bin, never unpickled
        return download_repo(spec.repo_id, spec.revision, spec.allow_patterns, dest_dir, progress, cancel,
                             require_safetensors=False)
    if spec.folder is not None or not spec.repo_id:
        found = store.installed_path(spec)
        if found is None:
            raise DownloadError(f"The model {spec.name} cannot be downloaded; it comes with Lookaloud.",
                                "not_found")
        return found
    repos = [(spec.repo_id, spec.revision, "")]
    if spec.kind == BLIP_PAIR:
        repos = [(spec.repo_id, spec.revision, "caption"), (spec.vqa_repo_id, spec.vqa_revision, "vqa")]
    _download(repos, MODEL_FILE_PATTERNS, dest_dir, progress, cancel, True)
    found = store.installed_path(spec)
    if found is None:
        raise DownloadError(f"The model {spec.name} was downloaded but could not be found afterwards.", "server")
    return found


def _download(repos: list[tuple[str, str, str]], allow_patterns: Sequence[str], dest_dir: str | Path | None,
              progress: ProgressCallback | None, cancel: threading.Event | None,
              require_safetensors: bool) -> list[Path]:
    _check_cancel(cancel)
    if _user_offline():
        raise _offline_error()
    base = Path(dest_dir).expanduser().resolve() if dest_dir is not None else None
    with _client() as client:
        plans = [_plan(client, repo_id, revision, allow_patterns, base / sub if base and sub else base,
                       require_safetensors) for repo_id, revision, sub in repos]
        _run(client, plans, progress, cancel)
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
