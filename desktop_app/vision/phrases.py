"""Cutting a caption that is still being written into phrases that can be spoken at once.

The language model writes a caption a token at a time; the user should hear its first words
while the rest is written. `PhraseSplitter` is fed the text decoded so far after every token
and hands out phrases of whole words only (a word is whole once the text after it has begun,
or the caption has ended), cut where a speaker would pause: after a comma or a sentence's end,
before "and" / "but" / "or" / "with" / "while" (after two words or more), or after a few words
when none comes. The first
phrase is kept short, so the first word is heard early; it never ends on "a", "the", "of" and
the like. Joined with spaces, the phrases are the finished caption word for word (its capital
letter and full stop included). Qt-free, and no model code.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from desktop_app.vision.text import CONTINUATIONS, WORD_REPEAT

# Where a phrase ends after a word, and the words a new phrase starts with.
_PAUSE_AFTER = (",", ";", ":", ".", "!", "?")
_STARTS_PHRASE = frozenset({"and", "but", "or", "with", "while"})
# A phrase cut only for its length never ends on one of these: "A screenshot of" waits for more.
_LEANS_ON_NEXT = frozenset({
    "a", "an", "the", "of", "in", "on", "at", "to", "for", "from", "by", "is", "are", "that", "this",
    "some", "its", "his", "her", "their", "my", "your", "into", "onto", "over", "under", "says",
})  # fmt: skip
FIRST_PHRASE_WORDS = 4  # the first phrase is short: it decides when the first word is heard
PHRASE_WORDS = 8
_MAX_LEANING = 3  # words a length cut may wait for a word that can end a phrase


def visible_text(raw: str, echo: str = "") -> str:
    """The words of generated text as the caption will say them: the echoed prompt removed,
    cut where the model starts inventing a next question, whitespace and repeats collapsed
    (vision.text.clean_output does the same to the finished text)."""
    text = raw.strip()
    if echo and text.lower().startswith(echo.strip().lower()):
        text = text[len(echo.strip()):]
    cut = CONTINUATIONS.search(text, 1)
    if cut:
        text = text[: cut.start()]
    text = re.sub(r"\s+", " ", text).strip()
    return WORD_REPEAT.sub(r"\1", text)


class PhraseSplitter:
    """Phrases out of a growing caption, handed to `on_phrase` in order, each once."""

    def __init__(self, on_phrase: Callable[[str], None], echo: str = "") -> None:
        self.on_phrase = on_phrase
        self.echo = echo
        self.phrases: list[str] = []
        self._said = 0  # words already handed out
        self._stopped = False  # the model began a made-up next question: nothing more is said

    def feed(self, raw: str) -> None:
        """The whole text generated so far (called after each token)."""
        if self._stopped:
            return
        text = visible_text(raw, self.echo)
        if CONTINUATIONS.search(raw.strip(), 1):
            self._stopped = True  # what follows the cut is never said; the finish says the rest
        words = text.split()
        whole = words if self._stopped else words[:-1]  # the last word may still grow
        while True:
            end = self._phrase_end(whole)
            if end is None:
                return
            self._say(whole[self._said:end])

    def finish(self, caption: str) -> None:
        """The caption is finished (as clean_output made it): say the words not said yet."""
        words = caption.split()
        if len(words) > self._said:
            self._say(words[self._said:], last=True)

    def _phrase_end(self, words: list[str]) -> int | None:
        """Where the next phrase ends in `words` (whole words only), or None if not yet known."""
        pending = words[self._said:]
        limit = FIRST_PHRASE_WORDS if not self.phrases else PHRASE_WORDS
        for i, word in enumerate(pending):
            if i > 1 and word.lower().strip(",;:.!?") in _STARTS_PHRASE:  # never a one-word phrase before it
                return self._said + i
            if word.endswith(_PAUSE_AFTER):
                return self._said + i + 1
            if i + 1 >= limit and (word.lower() not in _LEANS_ON_NEXT or i + 1 >= limit + _MAX_LEANING):
                # A length cut waits for the next word to begin: it may start a phrase of its own.
                return self._said + i + 1 if i + 1 < len(pending) else None
        return None

    def _say(self, words: list[str], last: bool = False) -> None:
        phrase = " ".join(words)
        if not phrase:
            return
        if not self.phrases:
            phrase = phrase[0].upper() + phrase[1:]
        self._said += len(words)
        self.phrases.append(phrase)
        self.on_phrase(phrase)
