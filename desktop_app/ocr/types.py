"""The result types of text recognition: boxes, lines, blocks, the whole OcrResult, and the
two errors (OcrError with a sentence for the user, OcrCancelled).

Plain data with no dependencies: every other OCR module builds on these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class OcrError(RuntimeError):
    """Text could not be read; str() is one sentence for the user."""


class OcrCancelled(OcrError):
    """The caller's cancel event was set while the text was being read."""

    def __init__(self) -> None:
        super().__init__("Reading the text was stopped.")


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in the picture's pixels."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def union(self, other: Box) -> Box:
        return Box(
            min(self.left, other.left),
            min(self.top, other.top),
            max(self.right, other.right),
            max(self.bottom, other.bottom),
        )

    def to_list(self) -> list[int]:
        return [self.left, self.top, self.right, self.bottom]


@dataclass(frozen=True)
class OcrLine:
    text: str
    box: Box
    confidence: float  # 0..1


@dataclass
class OcrBlock:
    """Lines that belong together (a paragraph, a title, a column of a list)."""

    lines: list[OcrLine]

    @property
    def box(self) -> Box:
        box = self.lines[0].box
        for line in self.lines[1:]:
            box = box.union(line.box)
        return box

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


@dataclass
class OcrResult:
    """The text of a picture in reading order, with where each line is and how long it took."""

    blocks: list[OcrBlock]
    engine: str
    language: str
    image_size: tuple[int, int]
    seconds: dict[str, float] = field(default_factory=dict)
    scale: float = 1.0  # how much the picture was enlarged before recognition

    @property
    def lines(self) -> list[OcrLine]:
        return [line for block in self.blocks for line in block.lines]

    @property
    def text(self) -> str:
        """All text: lines joined by newlines, blocks by a blank line."""
        return "\n\n".join(block.text for block in self.blocks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "language": self.language,
            "image_size": list(self.image_size),
            "text": self.text,
            "blocks": [
                {
                    "box": block.box.to_list(),
                    "lines": [
                        {
                            "text": line.text,
                            "box": line.box.to_list(),
                            "confidence": round(line.confidence, 3),
                        }
                        for line in block.lines
                    ],
                }
                for block in self.blocks
            ],
            "seconds": {name: round(value, 3) for name, value in self.seconds.items()},
            "scale": round(self.scale, 3),
        }
