"""The inference worker: the one long-lived thread that owns the model.

The model is loaded inside this thread and never leaves it. Requests arrive by queued signal
with an id; results leave by signal. A describe request replaces requests that have not
started yet; cancelling sets the request's Event, which the generation reads at every token.
On a CUDA out-of-memory error the worker reloads the model on the CPU, says so, and retries.
What a description says is describer.describe's; the request and result records are core's.

A description's caption leaves phrase by phrase (`phrase_ready`) while the model writes it,
before the text in the picture is read; its result then carries what is left to say
(`Result.continuation`), so the caption is heard seconds before the whole screen is read.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from desktop_app.core import ASK, DESCRIBE, READ_TEXT, Request, Result

__all__ = ["ASK", "DESCRIBE", "READ_TEXT", "InferenceWorker", "Request", "Result"]


class InferenceWorker(QObject):
    """Lives on the inference QThread; every slot runs there."""

    loading = Signal(int)  # percent
    loaded = Signal(str, str, str, str)  # model name, device, precision, note
    load_failed = Signal(str)
    started = Signal(int)  # request id
    phrase_ready = Signal(int, str)  # request id, the next phrase of its caption (said before the result)
    result_ready = Signal(object)  # Result
    failed = Signal(int, str)
    cancelled = Signal(int)
    skipped = Signal(int)  # replaced before it started
    notice = Signal(str)  # something the user should hear, e.g. a fallback to the CPU

    MAX_SESSIONS = 8

    def __init__(self) -> None:
        super().__init__()
        self._loaded: Any = None
        self._sessions: OrderedDict[int, Any] = OrderedDict()
        self._model_args: tuple[str, str, str] = ("", "auto", "auto")
        # Written by the GUI thread (a plain int assignment is atomic), read here.
        self.replace_before = 0

    # ---- model ------------------------------------------------------------------------------

    @Slot()
    def yield_to_window(self) -> None:
        """Lower this thread's scheduling priority (and that of the math threads it starts), so the
        window and speech stay responsive on a machine whose cores the model keeps busy."""
        import sys as _sys

        if hasattr(os, "setpriority") and _sys.platform.startswith("linux"):
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 5)
            except OSError:
                pass

    @Slot(str, str, str)
    def load(self, model: str, device: str, precision: str) -> None:
        """Load (or reload) the model. Runs on the worker thread; progress comes every half second."""
        from desktop_app.models import vision_catalog as catalog
        from desktop_app.vision.loader import (
            ModelLoadError,
            ModelNotInstalledError,
            load_model,
            model_folder,
            one_line,
        )

        self._loaded = None
        self._sessions.clear()
        self._model_args = (model, device, precision)
        self.loading.emit(0)
        try:
            spec = catalog.resolve(model)
            folder = model_folder(spec)
        except (catalog.UnknownModelError, ModelNotInstalledError) as exc:
            self.load_failed.emit(str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - whatever a folder holds, the app must leave "Loading"
            self.load_failed.emit(f"The model {model} could not be read: {one_line(exc)}.")
            return
        done = threading.Event()
        sampler = threading.Thread(target=self._report_progress, args=(Path(folder), done), daemon=True)
        sampler.start()
        try:
            # A one-time preparation (a quantized copy) is heard when it starts and when it ends.
            self._loaded = load_model(spec, device=device, precision=precision,
                                      progress=lambda f, s: self.notice.emit(s) if f in (0.0, 1.0) else None)
        except (ModelLoadError, ModelNotInstalledError) as exc:
            self.load_failed.emit(str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a broken model folder must not take the app down
            self.load_failed.emit(f"The model could not be loaded: {one_line(exc)}.")
            return
        finally:
            done.set()
            sampler.join()
        self._warm_up()
        lm = self._loaded
        self.loading.emit(100)
        self.loaded.emit(spec.name, lm.device, lm.precision, lm.note)

    def _warm_up(self) -> None:
        """Run two tokens on a blank picture while still "loading": the first generation imports
        and initialises code lazily, holding the GIL for a moment the window would feel."""
        from PIL import Image

        from desktop_app.vision.session import ImageSession

        try:
            session = ImageSession(self._loaded, Image.new("RGB", (64, 64), (128, 128, 128)))
            session.token_ids(self._loaded.spec.caption_prompt, {"max_new_tokens": 2, "num_beams": 1})
        except Exception:  # noqa: BLE001, S110 - a failed warm-up only costs speed; the real request reports
            pass

    def _report_progress(self, folder: Path, done: threading.Event) -> None:
        """Estimate loading progress from memory growth against the size of the weights."""
        import psutil

        weights = sum(p.stat().st_size for p in folder.rglob("*.safetensors")) or 1
        process = psutil.Process()
        start = process.memory_info().rss
        last = -1
        while not done.wait(0.5):
            grown = max(0, process.memory_info().rss - start)
            percent = min(95, int(grown * 100 / weights))
            if percent != last:
                self.loading.emit(percent)
                last = percent

    @property
    def is_loaded(self) -> bool:
        return self._loaded is not None

    # ---- requests ---------------------------------------------------------------------------

    @Slot(object)
    def run(self, request: Request) -> None:
        """Do one request. Runs on the worker thread."""
        if request.id < self.replace_before:
            self.skipped.emit(request.id)
            return
        if request.cancel.is_set():
            self.cancelled.emit(request.id)
            return
        if self._loaded is None:
            self.failed.emit(request.id, "The model is not loaded, so Lookaloud cannot describe pictures yet.")
            return
        self.started.emit(request.id)
        try:
            result = self._do(request)
        except Exception as exc:  # noqa: BLE001 - see _handle_error
            self._handle_error(request, exc)
            return
        self.result_ready.emit(result)

    def _handle_error(self, request: Request, exc: Exception) -> None:
        import torch

        from desktop_app.ocr import OcrCancelled, OcrError
        from desktop_app.vision.session import Cancelled

        if isinstance(exc, (Cancelled, OcrCancelled)):
            self.cancelled.emit(request.id)
        elif isinstance(exc, OcrError):
            self.failed.emit(request.id, str(exc))
        elif isinstance(exc, torch.OutOfMemoryError) and self._loaded and self._loaded.device != "cpu":
            self.notice.emit("The graphics card ran out of memory, so Lookaloud is switching to the processor. "
                             "It will be slower.")
            self._loaded = None
            self._sessions.clear()
            import gc

            gc.collect()
            torch.cuda.empty_cache()
            model, _, _ = self._model_args
            self.load(model, "cpu", "auto")
            if self._loaded is not None:
                self.run(request)
            else:
                self.failed.emit(request.id, "The model could not be loaded on the processor either.")
        else:
            self.failed.emit(request.id, f"Something went wrong while looking at the picture: {exc}")

    def _session(self, request: Request) -> Any:
        from desktop_app.vision.session import ImageSession

        session = self._sessions.get(request.picture_id)
        if session is None:
            session = ImageSession(self._loaded, request.image)
            self._sessions[request.picture_id] = session
            while len(self._sessions) > self.MAX_SESSIONS:
                self._sessions.popitem(last=False)
        self._sessions.move_to_end(request.picture_id)
        for other in self._sessions.values():
            if other is not session:
                other.release_prefix()  # only the current picture's conversation keeps its cache
        session.cancel = request.cancel
        return session

    def _do(self, request: Request) -> Result:
        session = self._session(request)
        start = time.perf_counter()
        if request.kind == ASK:
            answer = session.ask(request.question)
            return Result(request.id, ASK, request.picture_id, answer, question=request.question,
                          timings_ms={"total": (time.perf_counter() - start) * 1000})
        if request.kind == READ_TEXT:
            from desktop_app.ocr import read_text

            ocr = read_text(request.image, language=request.language, cancel=request.cancel)
            text = ocr.text.strip() or "There is no text in this picture."
            return Result(request.id, READ_TEXT, request.picture_id, text, found_text=ocr.text,
                          timings_ms={"total": (time.perf_counter() - start) * 1000})
        from dataclasses import replace

        from desktop_app.describer import DescribeOptions, compose
        from desktop_app.ocr import OcrCancelled, OcrError
        from desktop_app.ocr.compose import HedgedPhrases

        options = DescribeOptions(request.include_text, request.include_kind, request.language)
        # The phrases are worded as the description will begin ("Probably a settings window"),
        # which hedges the caption only when it reads the text and says the kind.
        phrases = HedgedPhrases(lambda phrase: self.phrase_ready.emit(request.id, phrase),
                                hedge=request.include_text and request.include_kind)

        # describer.describe, in its two steps: the caption is out (and heard) before the text is read.
        caption = session.caption_stream(phrases)
        try:
            found = compose(caption, request.image, options, cancel=request.cancel)
            after = found.after_caption
        except OcrCancelled:
            raise
        except OcrError as exc:
            if not phrases.passed:
                raise
            # The caption has been heard: keep it as the description and say why the text is missing
            # after it, rather than an error that would cut it off.
            found = compose(caption, request.image, replace(options, include_text=False))
            after = f"{exc} The description says what the model saw, without the text."
        return Result(request.id, DESCRIBE, request.picture_id, found.spoken, caption=found.caption,
                      picture_kind=found.kind, found_text=found.found_text,
                      continuation=after if phrases.passed else None,
                      timings_ms={**session.timings_ms, "total": (time.perf_counter() - start) * 1000})
