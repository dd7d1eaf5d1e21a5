"""A lying model server: testkit/fakehub.py's hub API on 127.0.0.1, with switches for attacks.

Everything FakeHub serves still works; these switches make it lie (set any of them, at any
time, before the download under test):

- `lie(payload)`: edits the /api/models/... answer before it is sent (file names that climb
  out of the folder, bad blob ids, checksums or commit ids, thousands of files, huge sizes);
- `fallback`: bytes served for a file name the commit does not hold, so that a listed
  traversal name still gets a body (as a real hostile server would answer);
- `extra`: bytes appended to every file body, announced in Content-Length (a body larger
  than listed); `endless`: after the body, junk until the client hangs up, the server's
  time is up or `endless_cap` bytes went out, with no Content-Length;
- `silent_s`: after the headers of a file body, send nothing for this long;
- `redirect_to`: every /resolve/ request is answered by a redirect to this URL (another
  host, or this one in a loop); `wrong_range`: 206 answers name a different first byte.

Throttling, cuts and damaged bytes come from FakeHub (`throttle_bps`, `cut_after`/`cuts`,
`corrupt`). The server stops by itself after `lifetime_s`, and every body it sends ends by
then, so a test can never hang on it.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlparse

from testkit.fakehub import FakeHub, _handler


class HostileHub(FakeHub):
    def __init__(self, lifetime_s: float = 120.0) -> None:
        super().__init__()
        self.lie: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self.fallback: bytes | None = None
        self.extra = b""
        self.endless = False
        self.endless_cap = 20 * 1024 * 1024  # "endless" junk ends here, so a test never fills the disk
        self.silent_s = 0.0
        self.redirect_to: str | None = None
        self.wrong_range = False
        self.deadline = time.monotonic() + lifetime_s
        self._timer = threading.Timer(lifetime_s, self.stop)
        self._timer.daemon = True

    def __enter__(self) -> HostileHub:  # noqa: PYI034 - typing.Self needs Python 3.11
        super().__enter__()
        self._timer.start()
        return self

    def stop(self) -> None:
        self._timer.cancel()
        super().stop()

    def time_left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _hostile_handler(self)


def _hostile_handler(hub: HostileHub) -> type[BaseHTTPRequestHandler]:
    base: Any = _handler(hub)

    class Handler(base):
        def _route(self, body: bool) -> None:
            path = unquote(urlparse(self.path).path)
            known = path.startswith(("/api/", "/cdn/")) or "/resolve/" in path
            if hub.fallback is not None and not known:  # a name whose `..` the client resolved away
                hub.requests.append((self.command, path, self.headers.get("Range")))
                return self._send_bytes("fallback", hub.fallback, body, {})
            return super()._route(body)

        def _api(self, rest: str) -> None:
            if hub.lie is None:
                return super()._api(rest)
            repo_id, _, rev = rest.partition("/revision/")
            commit = self._lookup(repo_id, rev or "main")
            if commit is None:
                return None
            payload = hub.lie({"id": repo_id, "modelId": repo_id, "sha": commit.sha, "private": False,
                               "siblings": [commit.sibling(n) for n in sorted(commit.files)]})
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return None

        def _resolve(self, repo_id: str, rev: str, name: str, body: bool) -> None:
            if hub.redirect_to is not None:
                self.send_response(302)
                self.send_header("Location", hub.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            repo = hub.repos.get(repo_id)
            commit = repo.commit(rev) if repo is not None else None
            if hub.fallback is not None and (commit is None or name not in commit.files):
                return self._send_bytes(name, hub.fallback, body, {})
            return super()._resolve(repo_id, rev, name, body)

        def _send_bytes(self, name: str, data: bytes, body: bool, headers: dict[str, str]) -> None:
            if not (hub.extra or hub.endless or hub.silent_s or hub.wrong_range):
                return super()._send_bytes(name, data, body, headers)
            start, status = 0, 200
            wanted = self.headers.get("Range")
            if wanted and wanted.startswith("bytes="):
                start, status = int(wanted[len("bytes="):].split("-", 1)[0]), 206
            part = data[start:] + hub.extra
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/octet-stream")
            if status == 206:
                first = start + 1 if hub.wrong_range else start
                self.send_header("Content-Range", f"bytes {first}-{len(data) - 1}/{len(data)}")
            if hub.endless:
                self.send_header("Connection", "close")
                self.close_connection = True
            else:
                self.send_header("Content-Length", str(len(part)))
            self.end_headers()
            if not body:
                return None
            try:
                end = time.monotonic() + min(hub.silent_s, hub.time_left())
                while time.monotonic() < end:
                    time.sleep(0.05)
                cut = hub._take_cut(len(part))
                if cut is not None:  # the transfer dies midway, like a dropped line
                    self.close_connection = True
                    self.wfile.write(part[:cut])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return None
                self.wfile.write(part)
                self.wfile.flush()
                junk = 0
                while hub.endless and hub.time_left() > 0 and junk < hub.endless_cap:
                    self.wfile.write(b"\0" * 65536)
                    self.wfile.flush()
                    junk += 65536
            except OSError:  # the client hung up: what a safe client does
                self.close_connection = True
            return None

    return Handler
