"""The spoken description, composed from the model's caption, the picture's kind and its text.

For a screenshot or document the caption is the least reliable part (BLIP-2 learned from
photos), so it is hedged or dropped, and the text leads: the window's title when the window
system gave one (a captured window or screen; a region, a file or a pasted picture has no
title, so none is said and none is guessed), then the first pieces of text, then "There is
more text" with a pointer to Read text when there is more. For a photo the caption leads and
any text found in it follows. Pure string work; safe on any thread.

What is spoken is never cut inside a word: lines that wrap inside one block of text are joined
back into their sentence before anything is shortened, a word cut off by the picture's edge (a
region drawn through a line) is left out and said as a trailing "…", and shortening happens at
the end of a sentence or, failing that, between words, with "…" where a sentence goes on.
"""


from __future__ import annotations

import re
from collections.abc import Callable

from desktop_app.ocr.kind import Classification, PictureKind
from desktop_app.ocr.types import OcrLine, OcrResult

# How much text a description speaks before pointing to Read text (pieces: a line, or the
# lines of one wrapped sentence).
FIRST_LINES = 3
MAX_SPOKEN_CHARS = 240
MAX_PHOTO_TEXT_CHARS = 120

# Openings BLIP-2 puts on screen captions that say nothing about the content.
_FILLER = re.compile(
    r"^(?:(?:a|an|the)\s+)?(?:screenshot|screen\s*shot|screen|computer\s+screen|image|picture|photo)"
    r"(?:\s+of)?\s*",
    re.IGNORECASE,
)
_EMPTY_CAPTIONS = {
    "", "computer screen", "screen", "screenshot", "website", "web page", "webpage", "text",
    "computer", "computer monitor", "monitor", "document", "page", "white background",
}  # fmt: skip

_KIND_NAMES = {PictureKind.SCREENSHOT: "A screenshot", PictureKind.DOCUMENT: "A document"}


def _sentence(text: str) -> str:
    text = " ".join(text.split()).strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?:…" else text + "."


def _clip(text: str, limit: int) -> tuple[str, bool]:
    """`text` cut to at most `limit` characters, and whether it was cut: at the end of a
    sentence when one ends in the last two thirds, else between two words (never inside one:
    a single word longer than `limit` is kept whole)."""
    if len(text) <= limit:
        return text, False
    ends = [m.end() for m in re.finditer(r"[.!?…](?=\s)", text[: limit + 1])]
    if ends and ends[-1] > limit / 3:
        return text[: ends[-1]], True
    space = text.rfind(" ", 0, limit + 1)
    if space <= 0:
        return text.split(" ", 1)[0], True
    return text[:space].rstrip(",;:-–— "), True


def _content(caption: str) -> str:
    """What a caption says beyond 'a screenshot of': 'a screenshot of a settings window' ->
    'a settings window'; empty when it says nothing beyond 'a screen'."""
    text = " ".join(caption.split()).strip().rstrip(".")
    stripped = text
    while True:
        shorter = _FILLER.sub("", stripped, count=1).strip()
        if shorter == stripped:
            break
        stripped = shorter
    stripped = re.sub(r"^(?:showing|with|that says|displaying)\s+", "", stripped, flags=re.IGNORECASE)
    if re.sub(r"^(?:a|an|the)\s+", "", stripped.lower()) in _EMPTY_CAPTIONS or len(stripped) < 3:
        return ""
    if stripped != text and not re.match(r"^(?:a|an|the|some)\s", stripped, re.IGNORECASE):
        stripped = f"a {stripped}" if not stripped[0].isdigit() else stripped
    return stripped


def hedge_caption(caption: str, kind: PictureKind) -> str:
    """'a screenshot of a settings window' -> 'Probably a settings window.'; empty when it
    says nothing beyond 'a screen'."""
    stripped = _content(caption)
    return _sentence(f"Probably {stripped[0].lower() + stripped[1:]}") if stripped else ""


class HedgedPhrases:
    """A caption's phrases, streamed while the model writes it, worded as the description will
    begin: when the caption opens with "a screenshot of" (or "a picture of"...), that is left out
    and "Probably" comes first, as hedge_caption does to the finished caption ("A screenshot of
    a settings window," -> "Probably a settings window,"). Phrases of filler alone are held back
    until a word of content comes. Other captions pass through as they are. Call it with each
    phrase; `passed` counts the phrases passed on (none for a caption of filler alone, which is
    then said whole with the description)."""

    def __init__(self, on_phrase: Callable[[str], None], hedge: bool = True) -> None:
        self.on_phrase = on_phrase
        self.hedge = hedge
        self._held: list[str] = []
        self._decided = not hedge
        self.passed = 0

    def __call__(self, phrase: str) -> None:
        if self._decided:
            self._pass(phrase)
            return
        self._held.append(phrase)
        text = " ".join(self._held)
        if not _FILLER.match(text):
            self._decided = True  # no "a screenshot of": the caption is said as it is
            self._pass(text)
            return
        content = _content(text)
        if content:
            self._decided = True
            self._pass(f"Probably {content[0].lower() + content[1:]}")
        # else: only filler so far ("A screenshot of a computer screen"): wait for more

    def _pass(self, phrase: str) -> None:
        self.passed += 1
        self.on_phrase(phrase)


def _letters(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _echoes(line: OcrLine, title: str) -> bool:
    """Whether a recognised line is the window title read off its title bar."""
    a, b = _letters(line.text), _letters(title)
    return bool(a) and (a == b or (min(len(a), len(b)) >= 0.8 * max(len(a), len(b)) and (a in b or b in a)))


MORE_TEXT = "There is more text. Use Read text to hear it all."

# A line whose box touches a side of the picture (within this many pixels) was cut there: its
# word at that side is partial ("The active win" for "The active window"). Text a window or a
# page shows whole has a margin around it.
_EDGE_PX = 2
# A line that ends this close to the right side (in line heights) with no full stop probably
# goes on past it (the reader dropped a sliver of the next word): said with a trailing "…".
_NEAR_EDGE_HEIGHTS = 0.6
# Captions that already say the picture holds words: "No text was found" would contradict them
# (the text reader misses a sign's word that the model read).
_NAMES_TEXT = re.compile(
    r"\b(?:says?|saying|reads?|reading|written|writing|words?|text|letters?|labell?ed|titled|signs?)\b",
    re.IGNORECASE,
)


def caption_names_text(caption: str) -> bool:
    """Whether the caption says there are words in the picture ("a sign that says stop")."""
    return bool(_NAMES_TEXT.search(caption))


def _edge_cut(line: OcrLine, image_size: tuple[int, int]) -> tuple[str, bool, bool, bool]:
    """The line's text without a word cut off by a side of the picture; and whether it was cut
    at the start, whether a word was cut at the end, and whether it may go on past the right
    side (it ends close to it, with no full stop: a wrapped line, or a cut one)."""
    words = line.text.split()
    if not words:
        return "", False, False, False
    gap = image_size[0] - line.box.right
    touches_end = gap <= _EDGE_PX
    at_start = line.box.left <= _EDGE_PX
    if touches_end:
        words = words[:-1]
    if at_start and words:
        words = words[1:]
    near_end = gap <= max(_EDGE_PX, _NEAR_EDGE_HEIGHTS * line.box.height) and line.text[-1] not in ".!?…:"
    return " ".join(words), at_start, touches_end, touches_end or near_end


def _ends_sentence(text: str) -> bool:
    return text[-1] in ".!?…"


def _continues(previous: str, following: str) -> bool:
    """Whether `following`, the next line of the same block, goes on with `previous`'s sentence
    (a label or paragraph wrapped by its width) rather than starting a piece of its own."""
    if previous[-1] in ".!?…:;":
        return False
    return (following[0].islower() or previous[-1] in ",-–(" or following[0] in ")-–,"
            or _ends_sentence(following))


def text_pieces(ocr: OcrResult, skip: set[int] | None = None) -> list[tuple[str, bool]]:
    """The text to speak, in reading order, as pieces: the lines of one block that wrap one
    sentence are joined back together; each piece is (text, whether it goes on past the
    picture's edge). `skip` holds the ids of lines to leave out (a title already said)."""
    pieces: list[tuple[str, bool]] = []
    for block in ocr.blocks:
        current: str | None = None
        current_cut = current_broken = False
        for line in block.lines:
            if skip and id(line) in skip:
                continue
            text, cut_start, broken, goes_on = _edge_cut(line, ocr.image_size)
            text = " ".join(text.split())
            if not text:
                continue
            # A line whose last word the edge cut is not continued by the next one (what lies
            # between is outside the picture); one that merely ends near the edge may wrap.
            if current is not None and not current_broken and not cut_start and _continues(current, text):
                if current.endswith("-") and current[-2:-1].isalpha() and text[0].islower():
                    current = current[:-1] + text  # a word hyphenated across two lines
                else:
                    current = f"{current} {text}"
                current_cut, current_broken = goes_on, broken
                continue
            if current is not None:
                pieces.append((current, current_cut))
            current, current_cut, current_broken = text, goes_on, broken
        if current is not None:
            pieces.append((current, current_cut))
    return pieces


def _spoken_piece(text: str, cut: bool) -> str:
    """A piece as the voice should say it: a full stop at its end (a label ending in ":" runs on
    into its value), or "…" where the text goes on past the picture's edge."""
    text = text.rstrip(",;-–— ") or text
    if cut:
        return text.rstrip(".!?:") + "…"
    return text if text[-1] in ".!?:;…" else text + "."


def speak_pieces(pieces: list[tuple[str, bool]], limit: int, max_pieces: int) -> tuple[str, bool]:
    """The first pieces, at most `max_pieces` and about `limit` characters, shortened only at a
    sentence's end or between words ("…" where the sentence goes on); and whether text is left
    unsaid."""
    chosen: list[str] = []
    spoken = 0
    for text, cut in pieces[:max_pieces]:
        if chosen and spoken + len(text) > limit:
            break
        chosen.append(_spoken_piece(text, cut))
        spoken += len(text)
    if not chosen:
        return "", False
    text, shortened = _clip(" ".join(chosen), limit)
    if shortened and not _ends_sentence(text):
        text = text.rstrip(".!?:;,") + "…"
    return text, shortened or len(chosen) < len(pieces)


def compose_description(caption: str, kind: PictureKind | Classification, ocr: OcrResult | None,
                        window_title: str | None = None, whole_screen: bool = False,
                        say_kind: bool = True) -> str:
    """The description to speak.

    Screenshot/document: hedged caption (or "A screenshot."), the window's title when one was
    given ("The title is: ..."; "The active window is: ..." for a whole screen), "It says:
    <first pieces of text>", and MORE_TEXT when more was found. Photo: the caption, the window
    it was in ("The window is: ..."), then "There is text: ...".
    `window_title` is the captured window's real title from the window system: a region, a
    file or a pasted picture has none, and then no title is said (nor guessed from the text:
    the largest text of a region is not its title).
    """
    if isinstance(kind, Classification):
        kind = kind.kind
    lines = ocr.lines if ocr else []
    skip = {id(line) for line in lines if window_title and _echoes(line, window_title)}
    pieces = text_pieces(ocr, skip) if ocr is not None else []
    if kind is PictureKind.PHOTO:
        parts = [_sentence(caption) or "A picture."]
        if window_title:
            parts.append(_sentence(f"The window is: {window_title}"))
        if pieces:
            text, more = speak_pieces(pieces, MAX_PHOTO_TEXT_CHARS, len(pieces))
            parts.append(_sentence(f"There is text: {text}"))
            if more:
                parts.append(MORE_TEXT)
        return " ".join(parts)

    if say_kind:
        opening = hedge_caption(caption, kind) or f"{_KIND_NAMES[kind]}."
    else:
        opening = _sentence(_content(caption))
    parts = [opening] if opening else []
    if window_title:
        parts.append(_sentence(f"{'The active window is' if whole_screen else 'The title is'}: {window_title}"))
    if not pieces:
        if opening and caption_names_text(caption):
            return " ".join(parts)  # the caption read words the text reader missed: never contradict it
        it = "it" if parts else "the picture"
        parts.append(f"No other text was found in {it}." if window_title else f"No text was found in {it}.")
        return " ".join(parts)
    text, more = speak_pieces(pieces, MAX_SPOKEN_CHARS, FIRST_LINES)
    parts.append(_sentence(f"It says: {text}"))
    if more:
        parts.append(MORE_TEXT)
    return " ".join(parts)
