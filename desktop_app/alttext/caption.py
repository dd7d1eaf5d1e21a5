"""What is written for one picture: its alt text and its extended description.

The alt text is the model's caption on one line. The extended description adds what the
caption cannot say: the text read in the picture. When no text was read it is left empty
and not written, as IPTC asks ("not required if the Alt Text sufficiently describes the
image"), so a screen reader that reads both does not say the caption twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from desktop_app.alttext.exiftool import clean_value

TEXT_INTRODUCTION = "The text in the picture reads:"


@dataclass(frozen=True)
class Caption:
    """The two accessibility properties for one picture."""

    alt_text: str
    extended: str = ""


def one_line(text: str) -> str:
    """`text` with every run of white space (newlines too) made one space."""
    return re.sub(r"\s+", " ", clean_value(text)).strip()


def caption_for(caption: str, found_text: str = "") -> Caption:
    """The properties for a picture captioned `caption` in which `found_text` was read."""
    alt_text = one_line(caption)
    text = clean_value(found_text)
    extended = f"{alt_text}\n{TEXT_INTRODUCTION}\n{text}" if text else ""
    return Caption(alt_text, extended)
