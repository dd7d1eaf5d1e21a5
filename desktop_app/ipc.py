"""Single instance: the running app listens on a per-user local socket; a second `lookaloud`
or `lookaloud trigger ACTION` sends it one line and gets "ok" back.

Used by desktops where global shortcuts must be set in the system's own settings: bind a key
there to `lookaloud trigger describe-screen`.
"""

from __future__ import annotations

import getpass

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

TIMEOUT_MS = 2000


def server_name() -> str:
    return f"lookaloud-{getpass.getuser()}"


def send(message: str, name: str | None = None) -> str | None:
    """Send one line to the running app; its reply, or None when no app is running."""
    socket = QLocalSocket()
    socket.connectToServer(name or server_name())
    if not socket.waitForConnected(TIMEOUT_MS):
        return None
    socket.write((message.strip() + "\n").encode("utf-8"))
    socket.flush()
    reply = b""
    while b"\n" not in reply and socket.waitForReadyRead(TIMEOUT_MS):
        reply += bytes(socket.readAll().data())
    socket.disconnectFromServer()
    return reply.decode("utf-8", "replace").strip() or None


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
        """Start listening; False if another instance already does.

        Ask first: with access options set, Qt's listen() would silently replace a live socket.
        """
        if send("ping", self.name) is not None:
            return False
        QLocalServer.removeServer(self.name)  # a stale socket left by a crash
        return self._server.listen(self.name)

    def close(self) -> None:
        self._server.close()

    def _on_new_connection(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            socket.readyRead.connect(lambda s=socket: self._on_ready_read(s))

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
