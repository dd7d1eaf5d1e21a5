"""The reader: read_text(), the public entry the app and `lookaloud read-text` call. It picks
the engine (the order measured for screens or for photos, falling back to the next engine
that can read the language), prepares the picture, runs the engine and returns the lines in
reading order with where each is and how long each step took.

Qt-free; runs on the inference worker thread. The engines are shared instances, created once.
"""

from __future__ import annotations

import threading
import time

from PIL import Image

from desktop_app.ocr.engines.protocol import LANGUAGE_NAMES, OcrEngine
from desktop_app.ocr.engines.rapid import RapidOcrEngine
from desktop_app.ocr.engines.tesseract import TESSERACT_LANGUAGES, TesseractEngine
from desktop_app.ocr.kind import looks_rendered
from desktop_app.ocr.layout import order_lines
from desktop_app.ocr.prepare import prepare
from desktop_app.ocr.types import Box, OcrError, OcrLine, OcrResult

# The orders measured by bench/ocr.py (docs/ocr.md): on screens Tesseract is more accurate
# and about ten times cheaper; in photos it misses light text on colour (a white STOP on a
# red sign) that RapidOCR's scene-text detector finds.
ENGINE_ORDER: tuple[type[TesseractEngine | RapidOcrEngine], ...] = (TesseractEngine, RapidOcrEngine)
PHOTO_ENGINE_ORDER: tuple[type[TesseractEngine | RapidOcrEngine], ...] = (
    RapidOcrEngine,
    TesseractEngine,
)
_engines: dict[str, OcrEngine] = {}
_engines_lock = threading.Lock()


def get_engine(name: str) -> OcrEngine:
    """The shared instance of an engine by name ("tesseract" or "rapidocr"), created once."""
    with _engines_lock:
        if name not in _engines:
            for cls in ENGINE_ORDER:
                if cls.name == name:
                    _engines[name] = cls()
                    break
            else:
                raise ValueError(f"Unknown OCR engine {name!r}.")
        return _engines[name]


def choose_engine(language: str = "en", photo: bool = False) -> OcrEngine:
    """The first engine, in the order measured for screens (or photos), that can read
    `language` here; raises OcrError."""
    for cls in PHOTO_ENGINE_ORDER if photo else ENGINE_ORDER:
        engine = get_engine(cls.name)
        if engine.supports(language):
            return engine
    name = LANGUAGE_NAMES.get(language.lower(), language)
    code = TESSERACT_LANGUAGES.get(language.lower())
    hint = f" Install the Tesseract language pack tesseract-ocr-{code.replace('_', '-')}." if code else ""
    raise OcrError(f"Lookaloud cannot read {name} text on this computer yet.{hint}")


def read_text(
    image: Image.Image, language: str = "en", engine: str | None = None, cancel: threading.Event | None = None
) -> OcrResult:
    """The text in `image` in reading order. Runs off the GUI thread; blocks for about a second.

    `engine` forces "tesseract" or "rapidocr"; by default the engine measured best for this
    kind of picture (screen or photo) that can read `language` is used. Raises OcrError with
    a sentence for the user, or OcrCancelled soon after `cancel` is set (a new request came).
    """

    language = language.lower()
    started = time.perf_counter()
    chosen = get_engine(engine) if engine else choose_engine(language, photo=not looks_rendered(image))
    prepared, scale = prepare(image, chosen.line_height)
    t_prepared = time.perf_counter()
    lines = chosen.recognize(prepared, language, cancel)
    t_recognized = time.perf_counter()
    if scale != 1.0:
        lines = [
            OcrLine(
                line.text,
                Box(*(round(v / scale) for v in line.box.to_list())),
                line.confidence,
            )
            for line in lines
        ]
    blocks = order_lines(lines)
    finished = time.perf_counter()
    return OcrResult(
        blocks=blocks,
        engine=chosen.name,
        language=language,
        image_size=image.size,
        seconds={
            "prepare": t_prepared - started,
            "recognize": t_recognized - t_prepared,
            "layout": finished - t_recognized,
            "total": finished - started,
        },
        scale=scale,
    )
