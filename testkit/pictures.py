"""Generated pictures with known content for the OCR tests and bench/ocr.py.

Screenshots are drawn with Pillow from real fonts (DejaVu ships with Debian's
fonts-dejavu-core; the URW fonts are used when present) so the expected text is exact.
The photo stand-in is smooth gradients, soft blobs and sensor-like noise: the colour and
edge statistics of a camera picture, with no text in it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/opentype/urw-base35")
FONT_FILES = {
    "DejaVu Sans": "DejaVuSans.ttf",
    "DejaVu Serif": "DejaVuSerif.ttf",
    "DejaVu Sans Mono": "DejaVuSansMono.ttf",
    "Nimbus Sans": "NimbusSans-Regular.otf",
}
BOLD_FONT = "DejaVuSans-Bold.ttf"

SENTENCES = [
    "Your changes have been saved to the documents folder.",
    "Open the settings to choose a different voice and speed.",
    "The update will install when you restart the computer.",
    "Three new messages arrived from the project team today.",
    "Press the space bar to play or pause the current track.",
    "Battery level is low, connect the charger soon please.",
    "The meeting starts at half past ten in room number four.",
    "Select a printer and the number of copies to print.",
    "Download complete: the report is ready for you to read.",
    "Remember to back up your photos before the trip starts.",
    "Privacy options control which apps can use the camera.",
    "The file could not be opened because it is damaged.",
]


def font_path(name: str) -> Path | None:
    """The file of a font family by its display name, or None when not installed here."""
    for folder in _FONT_DIRS:
        path = Path(folder) / FONT_FILES.get(name, name)
        if path.is_file():
            return path
    return None


def available_fonts() -> list[str]:
    return [name for name in FONT_FILES if font_path(name)]


@dataclass
class Screenshot:
    image: Image.Image
    title: str
    columns: list[list[str]]  # body lines per column, left to right

    @property
    def text(self) -> str:
        """All text in reading order: title, then each column top to bottom."""
        return "\n".join([self.title, *(line for column in self.columns for line in column)])


def make_screenshot(
    title: str = "Weekly Report - Text Editor",
    *,
    font: str = "DejaVu Sans",
    size: int = 14,
    dark: bool = False,
    columns: int = 1,
    lines_per_column: int | None = 6,
    width: int = 900,
    height: int = 600,
    seed: int = 0,
) -> Screenshot:
    """An application window: a title bar with larger bold text and body text in columns.

    lines_per_column=None fills the window to the bottom (sentences repeat as needed).
    """
    rng = random.Random(seed)
    bg, fg, bar = (
        ((30, 30, 34), (225, 225, 225), (50, 52, 60))
        if dark
        else ((255, 255, 255), (20, 20, 20), (225, 228, 235))
    )
    image = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(image)
    bold = ImageFont.truetype(str(font_path(BOLD_FONT)), round(size * 1.6))
    body = ImageFont.truetype(str(font_path(font)), size)
    bar_height = round(size * 3.2)
    draw.rectangle((0, 0, width, bar_height), fill=bar)
    draw.text((size, bar_height // 2), title, font=bold, fill=fg, anchor="lm")
    margin, gutter = size * 2, size * 5
    column_width = (width - 2 * margin - (columns - 1) * gutter) // columns
    pool = SENTENCES[:]
    rng.shuffle(pool)
    texts: list[list[str]] = []
    for c in range(columns):
        x = margin + c * (column_width + gutter)
        y = bar_height + size * 2
        lines: list[str] = []
        sentences = pool[c * 6 : c * 6 + 6] if lines_per_column else (pool[c:] + pool[:c]) * 20
        words = " ".join(sentences).split()
        limit = lines_per_column or (height - y - size) // round(size * 1.6)
        while words and len(lines) < limit:
            line = words.pop(0)
            while words and draw.textlength(f"{line} {words[0]}", font=body) <= column_width:
                line = f"{line} {words.pop(0)}"
            draw.text((x, y), line, font=body, fill=fg)
            lines.append(line)
            y += round(size * 1.6)
        texts.append(lines)
    return Screenshot(image, title, texts)


def make_photo(width: int = 640, height: int = 480, seed: int = 0, sign: str = "") -> Image.Image:
    """A photo-like picture: sky-to-ground gradient, blurred organic blobs, grain; with
    `sign`, a red octagonal road sign carrying that word in white."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, height)[:, None, None]
    sky, ground = np.array([110, 160, 220]), np.array([70, 120, 50])
    base = (sky * (1 - y) + ground * y) * np.ones((1, width, 1))
    image = Image.fromarray(base.astype(np.uint8))
    layer = Image.new("RGB", (width, height))
    mask = Image.new("L", (width, height), 0)
    draw, mdraw = ImageDraw.Draw(layer), ImageDraw.Draw(mask)
    for _ in range(25):
        cx, cy = rng.integers(0, width), rng.integers(height // 3, height)
        rx, ry = rng.integers(15, 90), rng.integers(15, 70)
        colour = tuple(int(v) for v in rng.integers(30, 200, 3))
        draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=colour)
        mdraw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=int(rng.integers(120, 255)))
    image.paste(layer.filter(ImageFilter.GaussianBlur(4)), mask=mask.filter(ImageFilter.GaussianBlur(6)))
    if sign:
        draw = ImageDraw.Draw(image)
        cx, cy, r = width // 2, height // 3, min(width, height) // 5
        draw.regular_polygon(
            (cx, cy, r), 8, rotation=22.5, fill=(200, 20, 25), outline=(245, 245, 245), width=4
        )
        font = ImageFont.truetype(str(font_path(BOLD_FONT)), r // 2)
        draw.text((cx, cy), sign, font=font, fill=(250, 250, 250), anchor="mm")
        image = image.filter(ImageFilter.GaussianBlur(0.8))
    pixels = np.asarray(image).astype(np.float32) + rng.normal(0, 9, (height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def make_document(width: int = 850, height: int = 1100, size: int = 15, seed: int = 1) -> Screenshot:
    """A printed page: a heading and justified-looking paragraphs of serif text on white."""
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    heading = ImageFont.truetype(str(font_path(BOLD_FONT)), round(size * 1.8))
    body = ImageFont.truetype(str(font_path("DejaVu Serif")), size)
    title = "Notice to All Tenants"
    margin = width // 9
    draw.text((margin, margin), title, font=heading, fill=(10, 10, 10))
    y = margin + round(size * 4)
    pool = SENTENCES[:]
    lines: list[str] = []
    while y < height - margin:
        rng.shuffle(pool)
        words = " ".join(pool[:3]).split()
        while words and y < height - margin:
            line = words.pop(0)
            while words and draw.textlength(f"{line} {words[0]}", font=body) <= width - 2 * margin:
                line = f"{line} {words.pop(0)}"
            draw.text((margin, y), line, font=body, fill=(10, 10, 10))
            lines.append(line)
            y += round(size * 1.5)
        y += size
    return Screenshot(image, title, [lines])
