"""Preparing a picture for recognition: grey, dark mode turned into dark text on light, and
small interface fonts enlarged to the line height an engine reads best (within a pixel budget).

Pure numpy and Pillow; cheap enough to run before every recognition.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps

MAX_SCALE = 3.0
MAX_PREPARED_PIXELS = 9_000_000


def estimate_line_height(gray: np.ndarray) -> float | None:
    """Median height in pixels of the bands of rows that hold text, or None if none stand out.

    Text rows are rows with many sharp left-right changes; borders and flat fills have few.
    Cheap (a few numpy passes) so it can run before every recognition.
    """
    if gray.shape[0] < 8 or gray.shape[1] < 8:
        return None
    edges = np.abs(np.diff(gray.astype(np.int16), axis=1)) > 40
    counts = edges.sum(axis=1)
    text_rows = counts > max(4, 0.01 * gray.shape[1])
    runs: list[int] = []
    length = 0
    for is_text in text_rows:
        if is_text:
            length += 1
        elif length:
            runs.append(length)
            length = 0
    if length:
        runs.append(length)
    runs = [r for r in runs if 4 <= r <= gray.shape[0] // 2]
    return float(np.median(runs)) if runs else None


def prepare(image: Image.Image, line_height: int) -> tuple[Image.Image, float]:
    """A grey copy with dark text on light, upscaled when its text is small; and the scale."""
    gray = ImageOps.grayscale(image)
    pixels = np.asarray(gray)
    # Dark mode: both engines learned dark ink on paper.
    if float(np.median(pixels)) < 110:
        gray = ImageOps.invert(gray)
        pixels = 255 - pixels
    scale = 1.0
    height = estimate_line_height(pixels)
    if height is not None and height < line_height:
        scale = min(MAX_SCALE, line_height / height)
        scale = min(scale, (MAX_PREPARED_PIXELS / (gray.width * gray.height)) ** 0.5)
        if scale > 1.05:
            gray = gray.resize(
                (round(gray.width * scale), round(gray.height * scale)), Image.Resampling.LANCZOS
            )
        else:
            scale = 1.0
    return gray, scale
