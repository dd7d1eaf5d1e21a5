"""Worker lifetime, written once: `WorkerThread` moves a worker QObject into its own QThread,
starts it, and stops it the one way the design allows (ask the worker to stop, `quit()`,
`wait()`; never `terminate()`).

Used by the controller (the model's thread), the ask-aloud listener and the setup dialog's
download. Create, start and stop on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QThread


class WorkerThread:
    """One worker living in one thread, from start() to stop()."""

    def __init__(self, worker: QObject, name: str, *, request_stop: Callable[[], None] | None = None,
                 parent: QObject | None = None) -> None:
        self.worker = worker
        # Called directly (not queued) before quit(): the worker may be busy in a slot, and
        # quit() only takes effect once that slot returns.
        self._request_stop = request_stop
        self.thread = QThread(parent)
        self.thread.setObjectName(name)
        worker.moveToThread(self.thread)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Ask the worker to stop, end the thread's event loop and wait for it. Safe to call twice."""
        if self._request_stop is not None:
            self._request_stop()
        self.thread.quit()
        self.thread.wait()
