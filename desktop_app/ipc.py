"""Single instance: one Lookaloud per user and session, which no other user can stand in for.

The running app holds an exclusive lock on `instance.lock` (`InstanceLock`, fcntl.flock) for
its whole life and listens on the local socket `instance.sock` (`InstanceServer`); a second
`lookaloud` that cannot take the lock sends "show" to the first, and `lookaloud trigger ACTION`
sends one line and gets "ok" back. Desktops where global shortcuts must be set in the system's
own settings bind a key there to `lookaloud trigger describe-screen`.

Both files live in a private runtime folder (`runtime_folder()`): $XDG_RUNTIME_DIR/lookaloud
(the platform's per-user runtime folder elsewhere), else a folder in the temporary folder,
else one in the cache folder: the first that is, or can be made, a real folder owned by us with
mode 0700, in a parent nobody else can change. So each session (and each test run, which has
its own XDG_RUNTIME_DIR) has its own Lookaloud. What answers is checked before anything is
sent: the socket file must be ours, and on Linux the process behind it too (SO_PEERCRED); the
server checks the uid of every process that connects. Only the lock holder removes a socket
left behind by a crash.

Windows: the socket is a named pipe with a per-user name, `lookaloud-USER`, which Qt's
UserAccessOption restricts to this user; the lock is a byte of `instance.lock` in the per-user
runtime folder, locked with msvcrt.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import stat
import struct
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from desktop_app import paths

TIMEOUT_MS = 2000
SOCKET_NAME = "instance.sock"
LOCK_NAME = "instance.lock"
# A Unix socket's path must fit in sockaddr_un with its final NUL (108 bytes on Linux, 104 on macOS).
_MAX_SOCKET_PATH = 103
_WINDOWS = sys.platform == "win32"


class RuntimeFolderError(OSError):
    """No private folder for the lock and the socket. str(error) can be spoken."""


def _is_private(folder: Path) -> bool:
    """A real folder (not a link), ours, that nobody else may read, write or enter."""
    try:
        st = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and st.st_mode & 0o077 == 0


def _is_safe_parent(folder: Path) -> bool:
    """Nobody but us (or root) can rename or replace what is in `folder`: ours or root's, and
    writable by others only with the sticky bit (as /tmp)."""
    try:
        st = os.stat(folder)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_uid not in (os.getuid(), 0):
        return False
    return not st.st_mode & 0o022 or bool(st.st_mode & stat.S_ISVTX)


def _make_private(folder: Path) -> bool:
    if len(str(folder / SOCKET_NAME)) > _MAX_SOCKET_PATH or not _is_safe_parent(folder.parent):
        return False
    with contextlib.suppress(OSError):  # it exists, or cannot be made: checked below either way
        os.mkdir(folder, 0o700)  # an existing one is checked as it is: never chmod another's folder
    return _is_private(folder)


def _candidates() -> list[Path]:
    folders = [Path(tempfile.gettempdir()) / f"lookaloud-{os.getuid()}", paths.cache_dir() / "runtime"]
    try:
        return [paths.runtime_dir(), *folders]
    except Exception:  # noqa: BLE001 - no usable runtime folder on this system: the others will do
        return folders


def runtime_folder() -> Path:
    """The private folder for the lock and the socket, created where missing. Raises
    RuntimeFolderError where none can be had."""
    if _WINDOWS:
        folder = paths.runtime_dir()
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    for folder in _candidates():
        if folder == paths.cache_dir() / "runtime":
            with contextlib.suppress(OSError):
                folder.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
        if _make_private(folder):
            return folder
    raise RuntimeFolderError(
        "Lookaloud could not make a private folder for its lock and socket, so lookaloud trigger cannot reach it."
    )


def server_name(folder: Path | None = None) -> str:
    """Where the running app listens: the socket's full path in `folder` (runtime_folder() by
    default) on Unix, the pipe's per-user name on Windows."""
    if _WINDOWS:
        return f"lookaloud-{getpass.getuser()}"
    return str((folder or runtime_folder()) / SOCKET_NAME)


def _socket_is_ours(name: str) -> bool:
    """A socket given by its path must be a socket file we own. Plain names (Windows pipes,
    tests' own names) are placed by Qt; the peer check still applies to them."""
    if _WINDOWS or not os.path.isabs(name):
        return True
    try:
        st = os.lstat(name)
    except OSError:
        return False
    return stat.S_ISSOCK(st.st_mode) and st.st_uid == os.getuid()


def _peer_is_us(socket: QLocalSocket) -> bool:
    """On Linux the uid of the process at the other end (SO_PEERCRED) must be ours. Elsewhere
    the private folder and the socket file's owner are the check."""
    if not sys.platform.startswith("linux"):
        return True
    import socket as pysocket

    descriptor = int(socket.socketDescriptor())
    if descriptor < 0:
        return False
    try:
        with pysocket.fromfd(descriptor, pysocket.AF_UNIX, pysocket.SOCK_STREAM) as connected:  # a duplicate
            creds = connected.getsockopt(pysocket.SOL_SOCKET, pysocket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return False
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid == os.getuid()


def send(message: str, name: str | None = None, timeout_ms: int = TIMEOUT_MS) -> str | None:
    """Send one line to the running app; its reply, or None when no app of ours is running
    (or it did not answer within timeout_ms)."""
    try:
        name = name or server_name()
    except RuntimeFolderError:
        return None
    if not _socket_is_ours(name):
        return None
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(TIMEOUT_MS):
        return None
    if not _peer_is_us(socket):
        socket.abort()
        return None
    socket.write((message.strip() + "\n").encode("utf-8"))
    socket.flush()
    reply = b""
    while b"\n" not in reply and socket.waitForReadyRead(timeout_ms):
        reply += bytes(socket.readAll().data())
    socket.disconnectFromServer()
    return reply.decode("utf-8", "replace").strip() or None


class InstanceLock:
    """The lock that makes one process the instance. The kernel drops it when the process
    ends, a crash included, so a stale lock file never keeps Lookaloud from starting."""

    def __init__(self, folder: Path | None = None) -> None:
        self.path = (folder or runtime_folder()) / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock without waiting; False while another process holds it. Raises
        RuntimeFolderError where the lock file cannot be opened at all."""
        if self._fd is not None:
            return True
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as exc:
            raise RuntimeFolderError(
                f"Lookaloud could not open its lock file in {self.path.parent}, so lookaloud trigger cannot reach it."
            ) from exc
        try:
            if _WINDOWS:
                import msvcrt

                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            if _WINDOWS:
                import msvcrt

                msvcrt.locking(self._fd, msvcrt.LK_UNLCK, 1)
            else:
                import fcntl

                fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


class InstanceServer(QObject):
    """Listens for other Lookaloud processes; emits each line they send. GUI thread."""

    received = Signal(str)

    def __init__(self, name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name or server_name()
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_new_connection)
        self.accept = lambda message: True  # replaced by the app: validates a message

    def listen(self) -> bool:
        """Start listening; False if another instance of ours already does. Call it holding
        the InstanceLock: it removes what else is at the socket's place (a crash's socket,
        another user's).

        Ask first: with access options set, Qt's listen() would silently replace a live socket.
        """
        if send("ping", self.name) is not None:
            return False
        QLocalServer.removeServer(self.name)
        return self._server.listen(self.name)

    def close(self) -> None:
        self._server.close()

    def _on_new_connection(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            if not _peer_is_us(socket):
                socket.abort()
                socket.deleteLater()
                continue
            socket.readyRead.connect(lambda s=socket: self._on_ready_read(s))
            socket.disconnected.connect(socket.deleteLater)

    def _on_ready_read(self, socket: QLocalSocket) -> None:
        if not socket.canReadLine():
            return
        message = bytes(socket.readLine().data()).decode("utf-8", "replace").strip()
        ok = message == "ping" or self.accept(message)
        socket.write(b"ok\n" if ok else b"unknown\n")
        socket.flush()
        socket.disconnectFromServer()
        if ok and message != "ping":
            self.received.emit(message)
