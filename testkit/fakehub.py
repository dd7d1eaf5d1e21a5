"""A local stand-in for the Hugging Face Hub: an HTTP server on 127.0.0.1, in a thread.

It serves model folders in the hub's layout, with what huggingface_hub reads:

- GET /api/models/{repo}/revision/{rev}[?blobs=true]: id, sha (the commit) and siblings with
  size, blobId and, for LFS files, lfs.sha256/size/pointerSize;
- HEAD/GET /{repo}/resolve/{rev}/{file}: X-Repo-Commit, ETag (the git blob id of small files),
  X-Linked-Etag / X-Linked-Size and a 302 to /cdn/{sha256} for LFS files (like the hub's CDN
  redirect), Content-Length, Accept-Ranges and 206 answers to Range requests;
- 404s with the hub's X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound).

Switches, settable at any time: `throttle_bps` (bytes a second for file bodies), `cut_after`
(close the connection after this many body bytes, once per transfer, `cuts` times),
`corrupt` (file names whose bytes are served with one byte flipped), `ignore_range`. Every
request is logged in `requests` as (method, path, range header); those with an Authorization
header also in `authorized`.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".model")


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # git's object id, not a security hash


@dataclass
class Commit:
    sha: str
    files: dict[str, bytes]

    def is_lfs(self, name: str) -> bool:
        return name.endswith(LFS_SUFFIXES)

    def sibling(self, name: str) -> dict:
        data = self.files[name]
        entry: dict = {"rfilename": name, "size": len(data)}
        if self.is_lfs(name):
            sha = hashlib.sha256(data).hexdigest()
            pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {len(data)}\n".encode()
            entry["blobId"] = git_blob_id(pointer)
            entry["lfs"] = {"size": len(data), "sha256": sha, "pointerSize": len(pointer)}
        else:
            entry["blobId"] = git_blob_id(data)
        return entry


@dataclass
class Repo:
    commits: dict[str, Commit] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)

    def commit(self, rev: str) -> Commit | None:
        return self.commits.get(self.refs.get(rev, rev))


class FakeHub:
    """Use as a context manager; `url` is the endpoint to give huggingface_hub."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self.authorized: list[str] = []  # paths of requests that carried a login token
        self.throttle_bps: int | None = None
        self.cut_after: int | None = None
        self.cuts = 1
        self.corrupt: set[str] = set()
        self.ignore_range = False
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fakehub", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeHub:  # noqa: PYI034 - typing.Self needs Python 3.11
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Shut the server down (also how a test makes the network go away)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()
        for connection in list(self._connections):  # kept-alive connections die too
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def add_commit(self, repo_id: str, files: dict[str, bytes] | Path, branch: str = "main",
                   sha: str | None = None) -> str:
        """Publish a commit holding `files` (or a folder's files) and move `branch` to it."""
        if isinstance(files, Path):
            files = {p.relative_to(files).as_posix(): p.read_bytes() for p in sorted(files.rglob("*")) if p.is_file()}
        sha = sha or hashlib.sha1(uuid.uuid4().bytes).hexdigest()  # only the shape of a commit id
        repo = self.repos.setdefault(repo_id, Repo())
        repo.commits[sha] = Commit(sha, dict(files))
        repo.refs[branch] = sha
        return sha

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler(self)

    def file_requests(self, method: str = "GET") -> list[tuple[str, str | None]]:
        """(path, range) of file requests, CDN redirects included."""
        return [(p, r) for m, p, r in self.requests if m == method and ("/resolve/" in p or p.startswith("/cdn/"))]

    def fetched_files(self) -> set[str]:
        """Names of files whose bytes were asked for through /resolve/."""
        return {p.split("/resolve/", 1)[1].split("/", 1)[1] for p, _ in self.file_requests() if "/resolve/" in p}

    def _take_cut(self, length: int) -> int | None:
        with self._lock:
            if self.cut_after is None or self.cuts <= 0 or length <= self.cut_after:
                return None
            self.cuts -= 1
            return self.cut_after


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            hub._connections.add(self.connection)

        def finish(self) -> None:
            hub._connections.discard(self.connection)
            super().finish()

        def log_message(self, *args: object) -> None:  # quiet test output
            pass

        def do_HEAD(self) -> None:  # http.server's naming
            self._route(body=False)

        def do_GET(self) -> None:
            self._route(body=True)

        def _route(self, body: bool) -> None:
            path = unquote(urlparse(self.path).path)
            hub.requests.append((self.command, path, self.headers.get("Range")))
            if self.headers.get("Authorization"):
                hub.authorized.append(path)
            if path.startswith("/api/models/"):
                return self._api(path[len("/api/models/"):])
            if path.startswith("/cdn/"):
                return self._cdn(path[len("/cdn/"):], body)
            if "/resolve/" in path:
                repo_id, rest = path.lstrip("/").split("/resolve/", 1)
                rev, _, name = rest.partition("/")
                return self._resolve(repo_id, rev, name, body)
            self._error(404, "RepoNotFound")

        def _error(self, status: int, code: str, commit: str | None = None) -> None:
            payload = json.dumps({"error": code}).encode()
            self.send_response(status)
            self.send_header("X-Error-Code", code)
            if commit:
                self.send_header("X-Repo-Commit", commit)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload if self.command != "HEAD" else b"")

        def _lookup(self, repo_id: str, rev: str) -> Commit | None:
            repo = hub.repos.get(repo_id)
            if repo is None:
                self._error(404, "RepoNotFound")
                return None
            commit = repo.commit(rev)
            if commit is None:
                self._error(404, "RevisionNotFound")
            return commit

        def _api(self, rest: str) -> None:
            repo_id, _, rev = rest.partition("/revision/")
            commit = self._lookup(repo_id, rev or "main")
            if commit is None:
                return
            payload = json.dumps({"id": repo_id, "modelId": repo_id, "sha": commit.sha, "private": False,
                                  "siblings": [commit.sibling(n) for n in sorted(commit.files)]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _resolve(self, repo_id: str, rev: str, name: str, body: bool) -> None:
            commit = self._lookup(repo_id, rev)
            if commit is None:
                return
            if name not in commit.files:
                return self._error(404, "EntryNotFound", commit.sha)
            sibling = commit.sibling(name)
            if "lfs" in sibling:
                sha = sibling["lfs"]["sha256"]
                self.send_response(302)
                self.send_header("Location", f"{hub.url}/cdn/{sha}")
                self.send_header("X-Repo-Commit", commit.sha)
                self.send_header("ETag", f'"{sibling["blobId"]}"')
                self.send_header("X-Linked-Etag", f'"{sha}"')
                self.send_header("X-Linked-Size", str(sibling["size"]))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self._send_bytes(name, commit.files[name], body, {"X-Repo-Commit": commit.sha,
                                                              "ETag": f'"{sibling["blobId"]}"'})

        def _cdn(self, sha: str, body: bool) -> None:
            for repo in hub.repos.values():
                for commit in repo.commits.values():
                    for name, data in commit.files.items():
                        if hashlib.sha256(data).hexdigest() == sha:
                            return self._send_bytes(name, data, body, {"ETag": f'"{sha}"'})
            self._error(404, "EntryNotFound")

        def _send_bytes(self, name: str, data: bytes, body: bool, headers: dict[str, str]) -> None:
            if name in hub.corrupt and data:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            start, status = 0, 200
            wanted = self.headers.get("Range")
            if wanted and not hub.ignore_range and wanted.startswith("bytes="):
                start = int(wanted[len("bytes="):].split("-", 1)[0])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            part = data[start:]
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(part)))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if not body:
                return
            cut = hub._take_cut(len(part))
            sent, step = 0, 16 * 1024
            began = time.monotonic()
            while sent < len(part):
                if cut is not None and sent >= cut:
                    self.close_connection = True
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)  # the transfer dies midway, like a dropped line
                    return
                end = min(len(part), sent + step, cut if cut is not None and cut > sent else len(part))
                try:
                    self.wfile.write(part[sent:end])
                    self.wfile.flush()
                except OSError:  # the client went away (a cancel)
                    self.close_connection = True
                    return
                sent = end
                if hub.throttle_bps:
                    delay = began + sent / hub.throttle_bps - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)

    return Handler


def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub_class: type[FakeHub] = FakeHub) -> Iterator[FakeHub]:
    """Run a FakeHub (or a subclass) that Lookaloud downloads from (in this process and in
    child processes), with this test's own hub cache and Lookaloud data folder. Yield from it
    in a fixture."""
    from huggingface_hub import constants

    with hub_class() as hub:
        monkeypatch.setattr(constants, "ENDPOINT", hub.url)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        # Lookaloud keeps HF_HUB_OFFLINE set in every process; this says the user allows downloads.
        monkeypatch.setenv("LOOKALOUD_USER_OFFLINE", "0")
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
        yield hub
