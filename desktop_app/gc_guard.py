"""Python's garbage collection, moved to the GUI thread.

Python collects reference cycles in whichever thread happens to allocate at the time: in
Lookaloud that is as often the inference, speech or listening thread as the GUI thread. When
the garbage holds Qt objects (a closed dialog and the lambdas connected to it form such a
cycle), they are then deleted off the GUI thread; their timers stay registered with the GUI
thread's event loop, and the next time one fires the process crashes. (The test suite hit
exactly this: a timer of an object collected on a speech thread, fired by processEvents.)

`GarbageCollector` turns automatic collection off and collects from a timer on the GUI thread,
generation by generation with Python's own thresholds. `freeze()` moves everything alive into
the permanent generation once the model is loaded, so later full collections only look at
what came after (a full collection over torch and transformers takes about 0.2 s).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class GarbageCollector(QObject):
    """Collects garbage on the thread it lives on (create it on the GUI thread)."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = 500) -> None:
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        self._threshold = gc.get_threshold()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.check)
        self._timer.start(interval_ms)

    def check(self) -> None:
        """Collect the generations whose counts passed their thresholds, as Python would."""
        count0, count1, count2 = gc.get_count()
        if count0 > self._threshold[0]:
            gc.collect(0)
            if count1 > self._threshold[1]:
                gc.collect(1)
                if count2 > self._threshold[2]:
                    gc.collect(2)

    @staticmethod
    def freeze() -> None:
        """Collect everything once (what an earlier freeze kept included: a model replaced by
        another is garbage now), then leave what survives out of later collections."""
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    def stop(self) -> None:
        """Collect what is left here, and hand collection back to Python if it had it."""
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()
