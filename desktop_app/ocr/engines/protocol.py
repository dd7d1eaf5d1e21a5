"""What every OCR engine offers (the OcrEngine protocol) and the little the engines share:
the languages' spoken names and the test for a line worth keeping."""

from __future__ import annotations

import threading
from typing import Protocol

from PIL import Image

from desktop_app.ocr.types import OcrLine


class OcrEngine(Protocol):
    """What every engine offers. recognize() runs off the GUI thread and may block for seconds."""

    name: str
    line_height: int  # pictures whose text lines are lower than this are enlarged first

    def supports(self, language: str) -> bool:
        """Whether this engine is installed here and can read `language` (ISO 639-1, e.g. "en")."""
        ...

    def recognize(
        self, image: Image.Image, language: str, cancel: threading.Event | None = None
    ) -> list[OcrLine]:
        """Lines of text in `image` (8-bit grey, dark text on light), unordered; raises OcrError,
        or OcrCancelled soon after `cancel` is set."""
        ...


LANGUAGE_NAMES = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
    "pt": "Portuguese", "nl": "Dutch", "ru": "Russian", "zh": "Chinese", "ja": "Japanese",
}  # fmt: skip


def has_text(text: str) -> bool:
    """Whether `text` has a letter or digit: lines of only punctuation are borders and icons."""
    return any(ch.isalnum() for ch in text)
