"""Held-out shape pictures drawn by code the demo model never trained on.

The demo model (resources/models/shapes-demo) learns from testkit/demo_scenes.py, which draws
with Pillow. Its card's scores must say how it does on pictures drawn some other way, as a
new user's own drawings would be, so this module draws the same little world (the same
colour, shape, sign and background names, hence the same captions and questions) through a
separate path: every shape is a numpy coverage mask computed from its geometry (distance to
a centre, half-planes, a point-in-polygon test), anti-aliased by averaging sub-pixel samples
or left hard, in other shades of each colour, with other placements (a random walk of
positions rather than per-column sampling), other proportions, and signs in a DejaVu font
instead of Pillow's bundled one. Used only for evaluation, never for training.

The language (caption, questions) comes from demo_scenes.Scene, because that is what the
model is asked to say; only the pictures differ. Qt-free and torch-free.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from testkit import demo_scenes as ds

# Other shades of every colour name: each stays nearest to its own name's demo colour.
SHADES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "red": ((200, 16, 46), (235, 50, 40), (190, 30, 30)),
    "green": ((40, 140, 70), (20, 180, 60), (60, 150, 40)),
    "blue": ((20, 80, 200), (50, 50, 230), (30, 90, 180)),
    "yellow": ((250, 220, 40), (230, 200, 0), (255, 230, 60)),
    "purple": ((120, 50, 160), (140, 30, 180), (110, 40, 150)),
    "orange": ((250, 140, 0), (240, 120, 30), (255, 150, 40)),
}
GROUNDS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "white": ((250, 250, 250), (243, 244, 238), (255, 252, 245)),
    "gray": ((120, 120, 124), (140, 138, 135), (110, 112, 110)),
    "black": ((0, 0, 0), (28, 28, 32), (12, 16, 12)),
}
_FONT_FILES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
               "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@dataclass(frozen=True)
class OtherScene:
    """A held-out picture: the scene's language (caption, questions) and how it is drawn."""

    scene: ds.Scene
    width: int
    height: int
    shade: tuple[tuple[int, int, int], ...]  # one RGB per shape
    ground: tuple[tuple[int, int, int], ...]  # one or two RGBs
    smooth: bool  # anti-aliased (4 x 4 samples per pixel) or hard edges
    hollow: tuple[int, ...]  # per shape: 0 filled, else the outline width in pixels
    turn: tuple[float, ...]  # per shape, radians
    jpeg: int

    def caption(self) -> str:
        return self.scene.caption()

    def questions(self) -> list[ds.QA]:
        return self.scene.questions()

    def render(self) -> Image.Image:
        """Draw the picture with numpy masks (no Pillow drawing calls except the sign's text)."""
        h, w = self.height, self.width
        canvas = np.empty((h, w, 3), dtype=np.float32)
        canvas[:] = self.ground[0]
        if len(self.ground) == 2:
            if self.scene.split == "vertical":
                canvas[:, w // 2:] = self.ground[1]
            else:
                canvas[h // 2:, :] = self.ground[1]
        samples = 4 if self.smooth else 1
        for shape, rgb, hollow, turn in zip(self.scene.shapes, self.shade, self.hollow, self.turn):
            cover = _coverage(shape, hollow, turn, w, h, samples)
            canvas = canvas * (1 - cover[..., None]) + np.asarray(rgb, np.float32) * cover[..., None]
        img = Image.fromarray(np.clip(canvas + 0.5, 0, 255).astype(np.uint8), "RGB")
        if self.scene.sign:
            _sign(img, self.scene.sign, self.scene.sign_x, self.scene.sign_y, max(11, min(w, h) // 11))
        if self.jpeg:
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=self.jpeg)
            img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
        return img


def other_scene(seed: int) -> OtherScene:
    """The held-out scene for this seed."""
    rng = np.random.default_rng(seed + 77_000_001)
    names = list(ds.COLOURS)
    count = int(rng.choice([1, 2, 3], p=[0.3, 0.4, 0.3]))
    # Canvas: any size from 100 to 500 px a side, any aspect from 1:2 to 2:1.
    w = int(rng.integers(100, 501))
    h = int(np.clip(w * math.exp(rng.uniform(-0.69, 0.69)), 90, 520))
    items: list[tuple[str, str]] = []
    while len(items) < count:
        pair = (names[int(rng.integers(len(names)))], ds.SHAPES[int(rng.integers(len(ds.SHAPES)))])
        if pair not in items:
            items.append(pair)
    sign = ds.SIGN_WORDS[int(rng.integers(len(ds.SIGN_WORDS)))] if rng.random() < 0.3 else None
    grounds = list(ds.BACKGROUNDS)
    if rng.random() < 0.6:
        background: tuple[str, ...] = (grounds[int(rng.integers(3))],)
        split = "none"
    else:
        a, b = sorted(rng.choice(3, size=2, replace=False).tolist())
        background = (grounds[a], grounds[b])
        split = "vertical" if rng.random() < 0.5 else "horizontal"
    swap = bool(rng.random() < 0.5)
    short = min(w, h)
    # Places: pick the columns first, then the shape's size, then a spot inside its third,
    # trying again (smaller) until nothing overlaps.
    columns = sorted(rng.choice(3, size=count, replace=False).tolist())
    sign_h = max(11, short // 11) + 12
    usable_h = h - (sign_h + 6 if sign else 0)
    placed: list[ds.SceneShape] = []
    for (colour, kind), col in zip(items, columns):
        limit = {1: 0.55, 2: 0.42, 3: 0.3}[count]
        for attempt in range(60):
            size = rng.uniform(0.1, limit) * (0.97 ** attempt)
            r = max(4, int(size * short / 2))
            lo, hi = col * w / 3 + (r if col == 0 else 0), (col + 1) * w / 3 - (r if col == 2 else 1)
            if lo >= hi or 2 * r + 4 > usable_h:
                continue
            x = int(rng.uniform(lo, hi))
            y = int(rng.uniform(r + 2, usable_h - r - 2))
            if all(abs(x - p.x) > r + p.radius + 3 or abs(y - p.y) > r + p.radius + 3 for p in placed):
                placed.append(ds.SceneShape(kind, colour, col, x, y, r))
                break
        else:
            return other_scene(seed + 1_000_003)  # nothing fits: another seed's picture
    sign_x = int(rng.uniform(w * 0.3, w * 0.7))
    sign_y = h - sign_h // 2 - 4
    scene = ds.Scene(shapes=tuple(placed), background=background, split=split, sign=sign,
                     sign_x=sign_x, sign_y=sign_y, swap_halves=swap, seed=seed)
    ground = tuple(GROUNDS[n][int(rng.integers(3))] for n in background)
    if swap and len(ground) == 2:
        ground = ground[::-1]
    return OtherScene(
        scene=scene, width=w, height=h,
        shade=tuple(SHADES[s.colour][int(rng.integers(3))] for s in placed),
        ground=ground,
        smooth=bool(rng.random() < 0.6),
        hollow=tuple(int(max(2, s.radius * rng.uniform(0.15, 0.3))) if rng.random() < 0.25 else 0 for s in placed),
        turn=tuple(float(rng.uniform(-0.2, 0.2)) if rng.random() < 0.5 else 0.0 for _ in placed),
        jpeg=int(rng.integers(35, 90)) if rng.random() < 0.3 else 0,
    )


def other_scenes(count: int, first: int = 0) -> list[OtherScene]:
    """count held-out scenes from seeds first, first + 1, ..."""
    return [other_scene(first + i) for i in range(count)]


def write_folder(folder: Path, count: int, first: int = 0) -> list[tuple[Path, OtherScene]]:
    """Save count held-out pictures as PNG files (other-00000.png, ...) for search tests."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, sc in enumerate(other_scenes(count, first)):
        path = folder / f"other-{i:05d}.png"
        sc.render().save(path)
        out.append((path, sc))
    return out


# ----- geometry -----
def _corners(kind: str, r: float) -> list[tuple[float, float]]:
    """Polygon corners around (0, 0), y down, in the proportions of this module (not the
    demo generator's): squares a little smaller, triangles equilateral, diamonds narrower,
    stars with a deeper inner ring."""
    if kind == "square":
        a = r * 0.8
        return [(-a, -a), (a, -a), (a, a), (-a, a)]
    if kind == "triangle":
        return [(r * math.cos(t), r * math.sin(t)) for t in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)]
    if kind == "diamond":
        return [(0, -r), (r * 0.62, 0), (0, r), (-r * 0.62, 0)]
    if kind == "star":
        return [((r if i % 2 == 0 else r * 0.4) * math.cos(-math.pi / 2 + i * math.pi / 5),
                 (r if i % 2 == 0 else r * 0.4) * math.sin(-math.pi / 2 + i * math.pi / 5)) for i in range(10)]
    raise ValueError(kind)


def _inside(kind: str, r: float, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Boolean mask of the points (px, py), relative to the centre, inside the shape."""
    if kind == "circle":
        return px * px + py * py <= r * r
    pts = _corners(kind, r)
    # Crossing-number point-in-polygon test, vectorised over all points.
    inside = np.zeros(px.shape, dtype=bool)
    n = len(pts)
    for i in range(n):
        x1, y1 = pts[i]
        x2, y2 = pts[(i + 1) % n]
        crosses = (y1 > py) != (y2 > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (px < x_at)
    return inside


def _coverage(shape: ds.SceneShape, hollow: int, turn: float, w: int, h: int, samples: int) -> np.ndarray:
    """Share of each pixel the shape covers (0..1), from samples x samples points per pixel."""
    r = shape.radius
    pad = r + 3
    x0, x1 = max(0, shape.x - pad), min(w, shape.x + pad + 1)
    y0, y1 = max(0, shape.y - pad), min(h, shape.y + pad + 1)
    offsets = (np.arange(samples) + 0.5) / samples
    xs = (np.arange(x0, x1)[:, None] + offsets[None, :]).reshape(-1) - shape.x
    ys = (np.arange(y0, y1)[:, None] + offsets[None, :]).reshape(-1) - shape.y
    gx, gy = np.meshgrid(xs, ys)
    c, s = math.cos(-turn), math.sin(-turn)
    rx, ry = gx * c - gy * s, gx * s + gy * c
    mask = _inside(shape.kind, r, rx, ry)
    if hollow:
        inner_r = r - hollow * (1.0 if shape.kind in ("circle", "square") else 1.8)
        if inner_r > 1:
            mask &= ~_inside(shape.kind, inner_r, rx, ry)
    cover = mask.reshape(y1 - y0, samples, x1 - x0, samples).mean(axis=(1, 3)).astype(np.float32)
    full = np.zeros((h, w), dtype=np.float32)
    full[y0:y1, x0:x1] = cover
    return full


def _sign(img: Image.Image, word: str, cx: int, cy: int, size: int) -> None:
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont
    font = next((ImageFont.truetype(f, size) for f in _FONT_FILES if Path(f).exists()), None) \
        or ImageFont.load_default(size=size)
    left, top, right, bottom = font.getbbox(word)
    tw, th = right - left, bottom - top
    box = (cx - tw // 2 - 6, cy - th // 2 - 5, cx + tw // 2 + 6, cy + th // 2 + 5)
    arr = np.asarray(img).copy()
    x0, y0, x1, y1 = (max(0, box[0]), max(0, box[1]), min(img.width, box[2]), min(img.height, box[3]))
    arr[y0:y1, x0:x1] = (30, 30, 30)
    arr[y0 + 2:y1 - 2, x0 + 2:x1 - 2] = (255, 255, 255)
    img.paste(Image.fromarray(arr))
    ImageDraw.Draw(img).text((cx - tw // 2 - left, cy - th // 2 - top), word, fill=(10, 10, 10), font=font)
