"""Garbage with Qt objects in it is collected on the GUI thread, never on a worker thread: a
QObject deleted off its thread leaves its timers registered, and the next one to fire crashes
the app (the test suite crashed this way in processEvents before the guard)."""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject, QTimer

from desktop_app.gc_guard import GarbageCollector


def _garbage_cycle(deleted_on: list[str], with_timer: bool) -> None:
    """A QObject kept alive only by a reference cycle through Python, as a closed dialog and
    the lambdas connected to it are; records the thread it is deleted on."""
    obj = QObject()
    if with_timer:
        QTimer(obj).start(60_000)
    holder = {"obj": obj}
    obj.setProperty("marker", 1)
    obj.holder = holder  # type: ignore[attr-defined] - the cycle: obj -> holder -> obj
    obj.destroyed.connect(lambda: deleted_on.append(threading.current_thread().name))


def _allocate_on_a_worker_thread() -> list:
    """A worker thread making container objects that stay alive, as the model and speech
    threads do; enough for Python's automatic collection to run several times there."""
    made: list = []

    def work() -> None:
        made.extend([i] for i in range(20_000))

    thread = threading.Thread(target=work, name="worker")
    thread.start()
    thread.join()
    return made


def test_the_guard_collects_qt_garbage_on_the_gui_thread(qtbot) -> None:
    gc.collect()
    gc.enable()  # as in the app before the guard starts
    collector = GarbageCollector(interval_ms=50)
    try:
        assert not gc.isenabled()
        deleted_on: list[str] = []
        _garbage_cycle(deleted_on, with_timer=True)
        kept = _allocate_on_a_worker_thread()
        # No collection ran on the worker: the youngest generation's count was never reset
        # (Python's own would have collected at 700), and the garbage is still there.
        assert gc.get_count()[0] >= len(kept)
        assert deleted_on == []
        qtbot.waitUntil(lambda: bool(deleted_on), timeout=5_000)
        assert deleted_on == ["MainThread"]
        del kept
    finally:
        collector.stop()
    assert gc.isenabled()  # handed back to Python as it was
    gc.disable()
