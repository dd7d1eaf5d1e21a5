"""What kind of picture this is (photo, screenshot, document), from measurable features.

BLIP-2 learned from photos; on screens it invents things. Knowing the kind lets the
description lead with the text for screenshots and documents. Features (0..1 unless noted):
- text_coverage: share of the picture inside recognised text lines (needs an OcrResult).
- flat_share: share of pixels equal (within 2 levels) to their right and lower neighbours.
  Rendered screens are mostly flat fills; camera pictures have grain everywhere.
- palette_share: share of pixels in the 16 most common colours (coarsely quantised).
- straight_edges: total length of long horizontal and vertical edges (window borders,
  toolbars, table rules), in picture widths plus heights (not capped at 1).
- saturation: mean colour saturation; light_background: the most common colour is light.
Thresholds were set on generated screenshots, documents and photo-like pictures
(testkit/pictures.py) and checked on real captured Qt windows.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from desktop_app.ocr.types import OcrResult

# Analysed at most this wide: features are statistics, and big screens would cost time.
ANALYSIS_WIDTH = 960


class PictureKind(enum.Enum):
    PHOTO = "photo"
    SCREENSHOT = "screenshot"
    DOCUMENT = "document"


@dataclass(frozen=True)
class PictureFeatures:
    text_coverage: float
    flat_share: float
    palette_share: float
    straight_edges: float
    saturation: float
    light_background: bool
    text_lines: int


@dataclass(frozen=True)
class Classification:
    """The decided kind and the measurements it was decided from (for the JSON)."""

    kind: PictureKind
    features: PictureFeatures

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind.value, "features": {k: _round(v) for k, v in asdict(self.features).items()}}


def _round(value: object) -> object:
    return round(value, 3) if isinstance(value, float) else value


def _long_runs(mask: np.ndarray, length: int) -> np.ndarray:
    """Pixels of `mask` that are inside a horizontal run of at least `length` set pixels."""
    width = mask.shape[1]
    if width < length:
        return np.zeros_like(mask)
    sums = np.cumsum(np.pad(mask.astype(np.int32), ((0, 0), (1, 0))), axis=1)
    starts = np.zeros(mask.shape, dtype=np.int32)
    starts[:, : width - length + 1] = (sums[:, length:] - sums[:, :-length]) == length
    # A pixel is covered when a full window starts within `length` pixels to its left.
    cover = np.cumsum(np.pad(starts, ((0, 0), (1, 0))), axis=1)
    columns = np.arange(width)
    return (cover[:, columns + 1] - cover[:, np.maximum(0, columns - length + 1)]) > 0


def _small_rgb(image: Image.Image, width: int = ANALYSIS_WIDTH) -> np.ndarray:
    small = image.convert("RGB")
    if small.width > width:
        small = small.resize(
            (width, max(1, round(small.height * width / small.width))), Image.Resampling.NEAREST
        )
    return np.asarray(small).astype(np.int16)


def _flat_and_palette(rgb: np.ndarray) -> tuple[float, float, np.ndarray]:
    """flat_share, palette_share and the per-colour pixel counts (5 bits a channel)."""
    h, w = rgb.shape[:2]
    same_right = (np.abs(np.diff(rgb, axis=1)).max(axis=2) <= 2)[:-1, :]
    same_down = (np.abs(np.diff(rgb, axis=0)).max(axis=2) <= 2)[:, :-1]
    flat_share = float((same_right & same_down).mean()) if h > 1 and w > 1 else 1.0
    quantised = (rgb[:, :, 0] // 8) * 1024 + (rgb[:, :, 1] // 8) * 32 + rgb[:, :, 2] // 8
    counts = np.bincount(quantised.ravel(), minlength=32768)
    palette_share = float(np.sort(counts)[::-1][:16].sum() / counts.sum())
    return flat_share, palette_share, counts


def _rendered(flat_share: float, palette_share: float) -> bool:
    return flat_share >= 0.35 or palette_share >= 0.8


def looks_rendered(image: Image.Image) -> bool:
    """Whether the picture was drawn by a computer (flat fills, few colours) rather than taken
    by a camera. A few milliseconds; used to pick the OCR engine before any text is read."""
    return _rendered(*_flat_and_palette(_small_rgb(image, 480))[:2])


def measure(image: Image.Image, ocr: OcrResult | None = None) -> PictureFeatures:
    """The features of `image`. Pure numpy on a small copy; safe on any thread."""
    rgb = _small_rgb(image)
    h, w = rgb.shape[:2]
    flat_share, palette_share, counts = _flat_and_palette(rgb)
    dominant = int(np.argmax(counts))
    dominant_rgb = np.array([dominant // 1024, (dominant // 32) % 32, dominant % 32]) * 8 + 4
    light_background = bool(dominant_rgb.mean() > 160)

    mx, mn = rgb.max(axis=2), rgb.min(axis=2)
    saturation = float(np.where(mx > 0, (mx - mn) / np.maximum(mx, 1), 0).mean())

    gray = rgb.mean(axis=2)
    dy = np.abs(np.diff(gray, axis=0))[:, :-1]
    dx = np.abs(np.diff(gray, axis=1))[:-1, :]
    horizontal = (dy > 12) & (dx < 6)
    vertical = (dx > 12) & (dy < 6)
    run = max(24, min(h, w) // 12)
    straight = int(_long_runs(horizontal, run).sum() + _long_runs(vertical.T, run).sum())
    # In picture widths plus heights: one rule across the whole picture is about 0.5.
    straight_edges = straight / (h + w)

    text_coverage, text_lines = 0.0, 0
    if ocr is not None and ocr.image_size[0] * ocr.image_size[1] > 0:
        covered = sum(line.box.width * line.box.height for line in ocr.lines)
        text_coverage = min(1.0, covered / (ocr.image_size[0] * ocr.image_size[1]))
        text_lines = len(ocr.lines)
    return PictureFeatures(
        text_coverage=text_coverage,
        flat_share=flat_share,
        palette_share=palette_share,
        straight_edges=straight_edges,
        saturation=saturation,
        light_background=light_background,
        text_lines=text_lines,
    )


def classify_picture(image: Image.Image, ocr: OcrResult | None = None) -> Classification:
    """Photo, screenshot or document, with the features behind the decision.

    Without `ocr` the decision rests on colour and edges alone (no DOCUMENT then unless the
    picture is a flat page). Safe on the inference worker thread; takes tens of milliseconds.
    """
    f = measure(image, ocr)
    rendered = _rendered(f.flat_share, f.palette_share)
    # A page: mostly text on one light ground, few interface rules, little colour.
    page = f.text_coverage >= 0.12 and f.light_background and f.saturation < 0.15 and f.straight_edges < 0.25
    if page:
        kind = PictureKind.DOCUMENT
    elif rendered:
        kind = PictureKind.SCREENSHOT
    elif f.text_coverage >= 0.2 and f.text_lines >= 5:
        # A photographed or scanned page: grainy, but mostly lines of text.
        kind = PictureKind.DOCUMENT
    else:
        kind = PictureKind.PHOTO
    return Classification(kind, f)
