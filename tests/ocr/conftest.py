"""OCR test fixtures: text accuracy measure and the engines available on this machine.

Engines are module-level singletons in desktop_app.ocr.reader, so RapidOCR's ONNX sessions
load once for the whole test session.
"""

from __future__ import annotations

import difflib

import pytest

from desktop_app.ocr.reader import ENGINE_ORDER, get_engine


def char_accuracy(expected: str, got: str) -> float:
    """1 - normalised edit distance, near enough: difflib's matching-characters ratio on text
    with runs of whitespace made single spaces (line breaks are layout, not characters)."""
    a, b = " ".join(expected.split()), " ".join(got.split())
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


@pytest.fixture(scope="session", params=[cls.name for cls in ENGINE_ORDER])
def engine(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Each OCR engine in turn; both are installed by packaging/setup.sh."""
    return get_engine(request.param)
