"""Telling spoken commands from questions.

Owns `recognise_command()`: a transcript that is, as a whole, one of a few short commands
("describe it again", "read the text", "describe the screen", "stop", and close paraphrases)
becomes a `VoiceCommand`; anything else is a question for the vision model. Only whole
utterances match, so "what does the stop sign say?" stays a question. Qt-free, English only
(the phrases are matched after Whisper's transcript is lower-cased and stripped of punctuation).
"""

from __future__ import annotations

import re
from enum import Enum


class VoiceCommand(Enum):
    DESCRIBE_AGAIN = "describe_again"  # say the last description again
    READ_TEXT = "read_text"  # read the text in the current picture (OCR)
    DESCRIBE_SCREEN = "describe_screen"  # capture the screen now and describe it
    STOP = "stop"  # stop speaking


# Words around a command that do not change it: "please read the text", "Lookaloud, stop".
_POLITE = (
    r"(?:(?:hey|ok|okay|so|um|uh|and|now|just|lookaloud|look aloud|please|can you|could you|would you"
    r"|will you|can|could|would|you|i want you to|i'd like you to|go ahead and) )*"
)
_TAIL = r"(?: (?:please|now|for me|again please|thanks|thank you|lookaloud))*"

_THING = r"(?:it|that|this|the picture|the image|the photo|the screenshot|the description|what you said|that description)"
_SCREEN = r"(?:the screen|my screen|the display|my display|the desktop|my desktop|the monitor)"
_TEXT = r"(?:the text|the words|the writing|the text on (?:it|the screen|the picture|the image)|all the text|what it says|it out loud|it aloud|it out|out the text|the text out loud|the text aloud|text)"

_PATTERNS: list[tuple[VoiceCommand, str]] = [
    (VoiceCommand.STOP, (r"stop(?: (?:it|that|talking|speaking|reading|now))?|be quiet|quiet|shut up|silence"
                         r"|cancel|never ?mind|enough|that's enough|that is enough|hush|pause")),
    (VoiceCommand.DESCRIBE_SCREEN,
     (rf"(?:describe|look at|check|what's on|what is on|what's in|what is in|tell me what's on|"
      rf"tell me what is on|take a (?:new )?(?:picture|screenshot) of|capture) {_SCREEN}(?: again| now)?"
      rf"|(?:take a )?new (?:picture|screenshot)|look again|what's on screen|what is on screen")),
    (VoiceCommand.READ_TEXT,
     (rf"(?:read|read out|read me|read aloud) {_TEXT}|read it|read|what does it say|what does the text say"
      rf"|read (?:the )?text (?:out loud|aloud)")),
    (VoiceCommand.DESCRIBE_AGAIN,
     (rf"(?:describe|repeat|say) {_THING} again|describe again|(?:say|tell me) (?:it|that) again"
      rf"|repeat(?: {_THING})?|again|once more|one more time|come again|what was that|pardon|sorry what"
      rf"|what did you say|repeat the description|describe {_THING} once more")),
]
_COMPILED = [(cmd, re.compile(rf"{_POLITE}(?:{pattern}){_TAIL}")) for cmd, pattern in _PATTERNS]


def normalise(text: str) -> str:
    """Lower-case words with punctuation removed; apostrophes kept ("what's")."""
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"[^\w\s']", " ", text)
    return " ".join(text.split())


def recognise_command(transcript: str) -> VoiceCommand | None:
    """The command a transcript states, or None when it is a question (or empty)."""
    text = normalise(transcript)
    if not text:
        return None
    for command, pattern in _COMPILED:
        if pattern.fullmatch(text):
            return command
    return None
