"""The own voice's synthesizers, like NVDA's synthDrivers/: one module per engine, and the
fallback chain that picks one (`default_synthesizer()`: espeak-ng on Linux, pyttsx3 with
SAPI 5 or NSSpeechSynthesizer elsewhere).

Owns the order of that chain; the `Synthesizer` interface is in base.py, each engine in its
own module (espeak.py, pyttsx.py). Qt-free; checking starts no engine.
"""

from __future__ import annotations

from desktop_app.speech.synthesizers.base import Synthesizer
from desktop_app.speech.synthesizers.espeak import EspeakNgSynthesizer
from desktop_app.speech.synthesizers.pyttsx import PyttsxSynthesizer

__all__ = [
    "EspeakNgSynthesizer",
    "PyttsxSynthesizer",
    "Synthesizer",
    "default_synthesizer",
    "synthesizer_available",
]

# The fallback chain, first choice first.
CHAIN: tuple[type[Synthesizer], ...] = (EspeakNgSynthesizer, PyttsxSynthesizer)


def synthesizer_available() -> bool:
    """Whether any synthesizer of the chain can work on this machine (cheap, starts nothing)."""
    return any(kind.check() for kind in CHAIN)


def default_synthesizer() -> Synthesizer | None:
    """espeak-ng on Linux, pyttsx3 (SAPI 5, NSSpeech) elsewhere; None when neither is installed."""
    for kind in CHAIN:
        if kind.check():
            return kind()
    return None
