"""Cleaning model output into a sentence worth hearing.

No prompt echo, no dangling fragment after the last full sentence, no "Question:" the model
invented for itself, whitespace and immediate word repeats collapsed, a capital letter first
and a full stop last.
"""

from __future__ import annotations

import re

# Text the language model sometimes continues with after its answer.
_CONTINUATIONS = re.compile(r"\s*(?:\n|Question\s*:|Answer\s*:|Short answer\s*:)", re.IGNORECASE)
_WORD_REPEAT = re.compile(r"\b(\w+)(?:\s+\1\b)+", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
# Shared with vision.phrases, which applies the same cleaning to a caption still being written.
CONTINUATIONS = _CONTINUATIONS
WORD_REPEAT = _WORD_REPEAT


def clean_output(text: str, prompt: str = "", truncated: bool = False, as_sentence: bool = True) -> str:
    """A tidy sentence from raw generated text.

    `prompt` is removed if the model echoed it; `truncated` says generation hit its token limit,
    so a final unfinished sentence is dropped when a finished one comes before it.
    `as_sentence=False` keeps the model's own casing and punctuation (for follow-up prompts).
    """
    text = text.strip()
    if prompt and text.lower().startswith(prompt.strip().lower()):
        text = text[len(prompt.strip()):]
    cut = _CONTINUATIONS.search(text, 1)
    if cut:
        text = text[: cut.start()]
    text = re.sub(r"\s+", " ", text).strip(" \t,;:-")
    text = _WORD_REPEAT.sub(r"\1", text)
    if truncated:
        ends = list(_SENTENCE_END.finditer(text))
        if ends and ends[-1].end() < len(text.rstrip()):
            text = text[: ends[-1].end()]
    text = text.strip(" ,;:-")
    if not text or not as_sentence:
        return text
    text = text[0].upper() + text[1:]
    if text[-1] not in ".!?":
        text += "."
    return text
