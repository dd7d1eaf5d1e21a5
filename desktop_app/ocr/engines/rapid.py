"""The RapidOCR engine: RapidOCR's bundled PP-OCRv4 ONNX models (from the package index, so it
is there on Windows and macOS where Tesseract usually is not). Loaded once and reused; first
for photos, where it finds light text on colour that Tesseract misses."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from PIL import Image

from desktop_app.ocr.engines.protocol import LANGUAGE_NAMES, has_text
from desktop_app.ocr.types import Box, OcrCancelled, OcrError, OcrLine


class RapidOcrEngine:
    """RapidOCR's bundled PP-OCRv4 detector and recogniser (Chinese and English) on ONNX Runtime."""

    name = "rapidocr"
    # The recogniser scales every line to 48 px itself; enlarging the whole picture only
    # multiplies the detector's time.
    line_height = 0
    LANGUAGES = frozenset({"en", "zh"})

    def __init__(self, threads: int = 2) -> None:
        self._threads = threads
        self._ocr: Any = None
        self._lock = threading.Lock()

    def supports(self, language: str) -> bool:
        if language.lower() not in self.LANGUAGES:
            return False
        try:
            import rapidocr_onnxruntime  # type: ignore[import-untyped]  # noqa: F401
        except ImportError:
            return False
        return True

    def _load(self) -> Any:
        if self._ocr is None:
            from rapidocr_onnxruntime import RapidOCR  # type: ignore[import-untyped]

            # No angle classifier: screen text is never upside down, and on small dark text it
            # flipped whole lines into nonsense. The detector's default enlarges every picture
            # to 736 px on its short side: on a 900x420 window that cost 6 CPU s instead of 3
            # for the same text, so it only ever shrinks, to 1920 px on the long side.
            self._ocr = RapidOCR(
                use_cls=False,
                max_side_len=2000,
                det_limit_type="max",
                det_limit_side_len=1920,
                # Blobs in photos came back as "00" at 0.73; real text scored above 0.9.
                text_score=0.8,
                intra_op_num_threads=self._threads,
                inter_op_num_threads=1,
            )
        return self._ocr

    def recognize(
        self, image: Image.Image, language: str, cancel: threading.Event | None = None
    ) -> list[OcrLine]:
        # ONNX Runtime cannot be interrupted: cancel is honoured before and after the run.
        if cancel is not None and cancel.is_set():
            raise OcrCancelled()
        if not self.supports(language):
            raise OcrError(f"The built-in text reader cannot read {LANGUAGE_NAMES.get(language, language)}.")
        bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
        # RapidOCR keeps per-call thresholds on the instance: one call at a time.
        with self._lock:
            try:
                result, _ = self._load()(bgr, use_cls=False)
            except Exception as exc:
                raise OcrError("The built-in text reader failed on this picture.") from exc
        if cancel is not None and cancel.is_set():
            raise OcrCancelled()
        lines = []
        for points, text, score in result or []:
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            if has_text(text):
                box = Box(int(min(xs)), int(min(ys)), int(max(xs) + 0.5), int(max(ys) + 0.5))
                lines.append(OcrLine(text.strip(), box, float(score)))
        return lines
