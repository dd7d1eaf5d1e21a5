"""The one description pipeline: a picture's caption, kind, window title and text, composed
into what the user hears. Qt-free; used by the inference worker and by `lookaloud describe`.

`describe(session, image, options)` asks the model for the caption, then (when the options
say so) reads the text in the picture, decides its kind and composes the description with
ocr.compose. It runs wherever the model runs (the inference worker thread in the app) and
blocks for as long as the model and the text reader take.

The caption comes first and alone: with `on_phrase`, each phrase of it is handed out while the
model still writes the rest, before any text is read (reading a whole screen takes seconds).
The composed description is the same either way; `Description.after_caption` is what it says
after the sentences made from the caption, to be said once the streamed caption has been.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")


class CaptionSession(Protocol):
    """What `describe` needs of a model session (vision.session.ImageSession)."""

    def caption(self) -> str: ...

    def caption_stream(self, on_phrase: Callable[[str], None] | None) -> str: ...


@dataclass(frozen=True)
class DescribeOptions:
    """What a description includes: Settings' include_text, include_kind and language."""

    include_text: bool = True  # read the text in the picture and let it lead on screens
    include_kind: bool = True  # say the kind: "Probably ..." / "A screenshot." on screens
    language: str = "en"  # the language of the text to read


@dataclass(frozen=True)
class Description:
    """What was found in one picture, and the sentences the user hears (`spoken`)."""

    caption: str  # the model's caption, as it said it
    spoken: str  # the composed description
    kind: str = ""  # "photo" | "screenshot" | "document"; "" when the text was not read
    window_title: str = ""  # the window system's title of the captured window, if any
    found_text: str = ""  # every line of text found, in reading order; "" when not read
    # What `spoken` says after the sentences made from the caption (all of it when they do not
    # lead it): what is left to say once the caption itself has been said.
    after_caption: str = ""


def describe(session: CaptionSession, image: Any, options: DescribeOptions = DescribeOptions(),
             cancel: threading.Event | None = None,
             on_phrase: Callable[[str], None] | None = None) -> Description:
    """The description of `image` (a PIL.Image, RGB) from `session`, the model's session on it.

    `on_phrase` is called with each phrase of the caption as soon as the model has written it
    (on this thread), before the text in the picture is read.
    Raises what the model raises (vision.session.Cancelled, torch.OutOfMemoryError) and what
    the text reader raises (ocr.OcrError with a sentence for the user, ocr.OcrCancelled once
    `cancel` is set).
    """
    return compose(session.caption_stream(on_phrase), image, options, cancel)


def compose(caption: str, image: Any, options: DescribeOptions = DescribeOptions(),
            cancel: threading.Event | None = None) -> Description:
    """The description of `image` around a caption already made (the text read, the kind
    decided, the sentences composed). Raises ocr.OcrError and ocr.OcrCancelled."""
    from desktop_app.capture.types import WHOLE_SCREEN, WINDOW_TITLE

    info = getattr(image, "info", None) or {}
    window_title = str(info.get(WINDOW_TITLE) or "")
    if not options.include_text:
        return Description(caption, caption, window_title=window_title)
    from desktop_app.ocr import classify_picture, compose_description, read_text

    ocr = read_text(image, language=options.language, cancel=cancel)
    kind = classify_picture(image, ocr)
    spoken = compose_description(caption, kind, ocr, window_title=window_title or None,
                                 whole_screen=bool(info.get(WHOLE_SCREEN)), say_kind=options.include_kind)
    # The caption's own sentences, as this kind of picture words them with nothing else found.
    alone = compose_description(caption, kind, None, say_kind=options.include_kind)
    return Description(caption, spoken, kind.kind.value, window_title, ocr.text,
                       after_caption=_after_caption(spoken, alone, caption))


def _after_caption(spoken: str, alone: str, caption: str) -> str:
    """`spoken` without its leading sentences made from the caption: those it shares with
    `alone` (the caption composed with nothing found), at most as many as the caption has."""
    said = _SENTENCE_BREAK.split(spoken.strip())
    own = _SENTENCE_BREAK.split(alone.strip())
    limit = len(_SENTENCE_BREAK.split(caption.strip())) if caption.strip() else 0
    shared = 0
    while shared < min(limit, len(said), len(own)) and said[shared] == own[shared]:
        shared += 1
    return " ".join(said[shared:])
