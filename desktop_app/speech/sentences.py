"""Sentence splitting for speech: `split_sentences()` cuts long text into the pieces a speaker
says one by one, so stop() between them is quick and no piece runs on for minutes.

Pure text, no speech engine and no Qt.
"""

from __future__ import annotations

import re

# A sentence ends at . ! ? (or an ellipsis) followed by space, unless the word is a short
# abbreviation that usually goes on ("Dr. Smith", "e.g. this").
_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+")
_ABBREVIATIONS = {"mr.", "mrs.", "ms.", "dr.", "st.", "vs.", "e.g.", "i.e.", "etc.", "no.", "fig.", "approx."}
_MAX_SENTENCE = 300  # characters; longer runs are cut at a comma or space so stop stays quick


def split_sentences(text: str) -> list[str]:
    """Split text into sentences to be spoken one by one; blank lines and line ends split too."""
    sentences: list[str] = []
    for line in re.split(r"\n\s*", text):
        line = " ".join(line.split())
        if not line:
            continue
        start = 0
        for m in _END.finditer(line):
            last_word = line[start : m.start()].rsplit(" ", 1)[-1].lower()
            if last_word in _ABBREVIATIONS:
                continue
            sentences.append(line[start : m.start()].strip())
            start = m.end()
        sentences.append(line[start:].strip())
    return [piece for s in sentences if s for piece in _cut_long(s)]


def _cut_long(sentence: str) -> list[str]:
    pieces: list[str] = []
    while len(sentence) > _MAX_SENTENCE:
        window = sentence[:_MAX_SENTENCE]
        cut = max(window.rfind(", "), window.rfind("; "))
        cut = cut + 1 if cut > _MAX_SENTENCE // 3 else window.rfind(" ")
        if cut <= 0:
            cut = _MAX_SENTENCE
        pieces.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip()
    pieces.append(sentence)
    return pieces
