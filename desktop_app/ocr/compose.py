"""The spoken description, composed from the model's caption, the picture's kind and its text.

For a screenshot or document the caption is the least reliable part (BLIP-2 learned from
photos), so it is hedged or dropped, and the text leads: the title (the largest text near
the top), then the first lines, then a pointer to Read text when there is more. For a photo
the caption leads and any text found in it follows. Pure string work; safe on any thread.
"""

from __future__ import annotations

import re

from desktop_app.ocr.kind import Classification, PictureKind
from desktop_app.ocr.types import OcrLine, OcrResult

# How much text a description speaks before pointing to Read text.
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
    return text if text[-1] in ".!?:" else text + "."


def _clip(text: str, limit: int) -> tuple[str, bool]:
    """`text` cut to at most `limit` characters, and whether it was cut: at the end of a
    sentence when one ends in the last two thirds, else at a word boundary."""
    if len(text) <= limit:
        return text, False
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s)", text[: limit + 1])]
    if ends and ends[-1] > limit / 3:
        return text[: ends[-1]], True
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:-"), True


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


def title_line(ocr: OcrResult) -> OcrLine | None:
    """The title: the tallest line in the top third of the picture (the top line if all are
    the same size), or the tallest line anywhere when nothing is near the top."""
    lines = ocr.lines
    if not lines:
        return None
    top_third = [line for line in lines if line.box.top < ocr.image_size[1] / 3] or lines
    tallest = max(line.box.height for line in top_third)
    # Within 15 %: equal sizes; then the one read first wins.
    return next(line for line in top_third if line.box.height >= 0.85 * tallest)


def _letters(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _echoes(line: OcrLine, title: str) -> bool:
    """Whether a recognised line is the window title read off its title bar."""
    a, b = _letters(line.text), _letters(title)
    return bool(a) and (a == b or (min(len(a), len(b)) >= 0.8 * max(len(a), len(b)) and (a in b or b in a)))


def compose_description(caption: str, kind: PictureKind | Classification, ocr: OcrResult | None,
                        window_title: str | None = None, whole_screen: bool = False,
                        say_kind: bool = True) -> str:
    """The description to speak.

    Screenshot/document: hedged caption (or "A screenshot."), "The title is: ...", "It says:
    <first lines>", and "Use Read text for the rest." when more text was found.
    Photo: the caption, then "There is text: ..." when text was found in it.
    `window_title`, when the picture was captured from the screen, is the active window's real
    title: it replaces the guess from the text ("The active window is: ..." for a whole screen).
    """
    if isinstance(kind, Classification):
        kind = kind.kind
    lines = ocr.lines if ocr else []
    title_sentence = _sentence(f"{'The active window is' if whole_screen else 'The title is'}: {window_title}") \
        if window_title else ""
    if kind is PictureKind.PHOTO:
        parts = [_sentence(caption) or "A picture."] + ([title_sentence] if title_sentence else [])
        if window_title:
            lines = [line for line in lines if not _echoes(line, window_title)]
        if lines:
            text, cut = _clip(" ".join(line.text for line in lines), MAX_PHOTO_TEXT_CHARS)
            parts.append(f"There is text: {text}..." if cut else _sentence(f"There is text: {text}"))
        return " ".join(parts)

    if say_kind:
        opening = hedge_caption(caption, kind) or f"{_KIND_NAMES[kind]}."
    else:
        opening = _sentence(_content(caption))
    parts = [opening] if opening else []
    if title_sentence:
        parts.append(title_sentence)
    if not lines or ocr is None:
        it = "it" if parts else "the picture"
        parts.append(f"No other text was found in {it}." if window_title else f"No text was found in {it}.")
        return " ".join(parts)
    if window_title:
        title = None
        rest = [line for line in lines if not _echoes(line, window_title)]
    else:
        title = title_line(ocr)
        rest = [line for line in lines if line is not title]
    if title is not None:
        parts.append(_sentence(f"The title is: {title.text.rstrip(':').strip()}"))
    first: list[str] = []
    spoken = 0
    for line in rest[:FIRST_LINES]:
        if spoken + len(line.text) > MAX_SPOKEN_CHARS and first:
            break
        first.append(line.text)
        spoken += len(line.text)
    if first:
        # Each line its own sentence, so the voice pauses between a window's separate texts
        # (a label ending in ":" runs on into its value).
        text, cut = _clip(" ".join(t if t[-1] in ".!?:;," else t + "." for t in first), MAX_SPOKEN_CHARS)
        parts.append(_sentence(f"It says: {text}"))
        if cut or len(first) < len(rest):
            parts.append("Use Read text for the rest.")
    return " ".join(parts)
