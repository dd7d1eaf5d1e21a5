"""Generated picture scenes with their true captions and question/answer pairs.

This module owns the little world that the bundled demo model (resources/models/shapes-demo)
knows: one to three coloured shapes in three columns (left, middle, right) on a plain or
two-tone background, sometimes with a sign that has one word written on it. Every scene is
drawn with Pillow and is fully determined by a seed, so the training script
(tools/train_shapes_model.py) and the tests draw exactly the same pictures and know the
right answers for them.

Colours are chosen so that a swapped red/blue channel order changes the answer (red becomes
blue), which lets end-to-end tests prove that the pipeline hands the model RGB pictures.
Answers are lower case words without final punctuation, as the engine adds that itself.
Qt-free and torch-free.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field

from PIL import Image, ImageDraw, ImageFont

CANVAS = 256

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 160, 50),
    "blue": (30, 60, 220),
    "yellow": (240, 210, 20),
    "purple": (130, 40, 170),
    "orange": (245, 130, 20),
}
# Background names in the order a two-tone background is named ("a white and black background").
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "white": (255, 255, 255),
    "gray": (128, 128, 128),
    "black": (20, 20, 20),
}
SIZES: tuple[int, ...] = (18, 26, 34)  # small, medium and large radius in pixels
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "diamond")
SIGN_WORDS: tuple[str, ...] = ("stop", "exit", "open", "sale", "help", "cafe", "taxi", "park")
COLUMNS: tuple[str, ...] = ("left", "middle", "right")
NUMBERS: tuple[str, ...] = ("zero", "one", "two", "three")
QUESTION_KINDS: tuple[str, ...] = ("colour", "shape", "count", "position", "presence", "word", "background")

# The prompt formats the demo model was trained on; resources/models/shapes-demo/lookaloud.json
# repeats them for the engine.
CAPTION_PROMPT = ""
QUESTION_FORMAT = "Question: {question} Answer:"
FOLLOWUP_FORMAT = "Question: {question} Answer: {answer}."

_PLACE = {"left": "on the left", "middle": "in the middle", "right": "on the right"}


@dataclass(frozen=True)
class SceneShape:
    """One shape in a scene: what it is, its colour, its column and where it is drawn."""

    kind: str
    colour: str
    column: int
    x: int
    y: int
    radius: int
    # Wide scenes only (see wide_scene): turn in degrees, outline width (0: filled), the drawing
    # routine, the exact RGB, and the proportions of the shape's own geometry.
    rotation: float = 0.0
    outline: int = 0
    routine: str = "plain"
    rgb: tuple[int, int, int] | None = None
    shape_aspect: float = 1.0


@dataclass(frozen=True)
class QA:
    """A question about a scene, its right answer and the kind of question it is."""

    question: str
    answer: str
    kind: str


@dataclass(frozen=True)
class Scene:
    """A picture description complete enough to draw it and to answer questions about it."""

    shapes: tuple[SceneShape, ...]
    background: tuple[str, ...]  # one name, or two names in BACKGROUNDS order
    split: str = "none"  # "none", "vertical" (left/right halves) or "horizontal" (top/bottom)
    sign: str | None = None
    sign_x: int = CANVAS // 2
    sign_y: int = 205
    swap_halves: bool = False  # which half gets the first background colour
    seed: int = field(default=0, compare=False)
    # Wide scenes only: canvas size, the split's place (fraction), background RGBs, sign text
    # size, and what happens to the finished picture (noise, blur, JPEG quality; 0 = none).
    width: int = CANVAS
    height: int = CANVAS
    split_at: float = 0.5
    background_rgb: tuple[tuple[int, int, int], ...] = ()
    sign_size: int = 30
    noise: float = 0.0
    blur: float = 0.0
    jpeg: int = 0

    # ----- drawing -----
    def render(self) -> Image.Image:
        """Draw the scene as a CANVAS x CANVAS RGB picture (a wide scene: width x height)."""
        if self.background_rgb:
            return _render_wide(self)
        first, second = (self.background * 2)[:2]
        if self.swap_halves:
            first, second = second, first
        img = Image.new("RGB", (CANVAS, CANVAS), BACKGROUNDS[first])
        draw = ImageDraw.Draw(img)
        if self.split == "vertical":
            draw.rectangle((CANVAS // 2, 0, CANVAS, CANVAS), fill=BACKGROUNDS[second])
        elif self.split == "horizontal":
            draw.rectangle((0, CANVAS // 2, CANVAS, CANVAS), fill=BACKGROUNDS[second])
        for shape in self.shapes:
            _draw_shape(draw, shape)
        if self.sign:
            _draw_sign(draw, self.sign, self.sign_x, self.sign_y)
        return img

    def sign_box(self) -> tuple[int, int, int, int] | None:
        """(left, top, right, bottom) of the sign, border included, or None without a sign."""
        return _sign_layout(self.sign, self.sign_x, self.sign_y, self.sign_size)[0] if self.sign else None

    # ----- language -----
    def caption(self) -> str:
        """The one true caption, shapes named left to right, e.g.
        "a red circle and a blue square on a white background"."""
        things = [_with_article(f"{s.colour} {s.kind}") for s in self.shapes]
        if self.sign:
            things.append(f"a sign that says {self.sign}")
        listed = things[0] if len(things) == 1 else ", ".join(things[:-1]) + " and " + things[-1]
        return f"{listed} on {_with_article(self.background_name())} background"

    def background_name(self) -> str:
        return " and ".join(self.background)

    def questions(self) -> list[QA]:
        """Every question this scene answers unambiguously, in a fixed order.

        Presence questions with the answer "no" are drawn from the scene's seed, so the list is
        the same every time for the same scene."""
        rng = random.Random(self.seed * 7919 + 17)
        qas: list[QA] = []
        kinds = [s.kind for s in self.shapes]
        colours = [s.colour for s in self.shapes]
        for s in self.shapes:
            place = _PLACE[COLUMNS[s.column]]
            for spelling in ("colour", "color"):
                qas.append(QA(f"what {spelling} is the shape {place}?", s.colour, "colour"))
                if kinds.count(s.kind) == 1:
                    qas.append(QA(f"what {spelling} is the {s.kind}?", s.colour, "colour"))
            qas.append(QA(f"what shape is {place}?", s.kind, "shape"))
            if colours.count(s.colour) == 1:
                qas.append(QA(f"what shape is the {s.colour} one?", s.kind, "shape"))
            qas.append(QA(f"where is the {s.colour} {s.kind}?", COLUMNS[s.column], "position"))
            qas.append(QA(f"is the {s.colour} {s.kind} on the left or the right?",
                          COLUMNS[s.column], "position"))
        qas.append(QA("how many shapes are there?", NUMBERS[len(self.shapes)], "count"))
        for kind in SHAPES:
            qas.append(QA(f"how many {kind}s are there?", NUMBERS[kinds.count(kind)], "count"))
        for kind in SHAPES:
            qas.append(QA(f"is there a {kind}?", "yes" if kind in kinds else "no", "presence"))
        present = {(s.colour, s.kind) for s in self.shapes}
        for colour, kind in sorted(present):
            qas.append(QA(f"is there {_with_article(colour + ' ' + kind)}?", "yes", "presence"))
        absent = sorted((c, k) for c in COLOURS for k in SHAPES if (c, k) not in present)
        for colour, kind in rng.sample(absent, len(present)):
            qas.append(QA(f"is there {_with_article(colour + ' ' + kind)}?", "no", "presence"))
        qas.append(QA("is there a sign?", "yes" if self.sign else "no", "presence"))
        if self.sign:
            qas.append(QA("what does the sign say?", self.sign, "word"))
            qas.append(QA("what is written on the sign?", self.sign, "word"))
            qas.append(QA("what word is on the sign?", self.sign, "word"))
        for spelling in ("colour", "color"):
            qas.append(QA(f"what {spelling} is the background?", self.background_name(), "background"))
        return qas


def random_scene(seed: int) -> Scene:
    """The scene for this seed: one to three shapes, maybe two-tone, maybe a sign."""
    rng = random.Random(seed)
    count = rng.choice((1, 2, 3))
    columns = sorted(rng.sample(range(3), count))
    picked: list[tuple[str, str]] = []
    while len(picked) < count:
        pair = (rng.choice(list(COLOURS)), rng.choice(SHAPES))
        if pair not in picked:  # two identical shapes would make questions ambiguous
            picked.append(pair)
    sign = rng.choice(SIGN_WORDS) if rng.random() < 0.4 else None
    if rng.random() < 0.5:
        background: tuple[str, ...] = (rng.choice(list(BACKGROUNDS)),)
        split = "none"
    else:
        names = list(BACKGROUNDS)
        pair_idx = sorted(rng.sample(range(len(names)), 2))
        background = (names[pair_idx[0]], names[pair_idx[1]])
        split = rng.choice(("vertical", "horizontal"))
    return _place(picked, columns, background, split, sign, rng, seed)


def compose(
    items: list[tuple[str, str]],
    background: str | tuple[str, str] = "white",
    sign: str | None = None,
    seed: int = 0,
    columns: list[str] | None = None,
) -> Scene:
    """A scene made to order, e.g. compose([("red", "circle"), ("blue", "square")]): shapes go
    left to right into the given columns (default: the first free ones), sizes and exact
    positions come from the seed."""
    rng = random.Random(seed)
    cols = sorted(COLUMNS.index(c) for c in columns) if columns else list(range(len(items)))
    if isinstance(background, str):
        bg: tuple[str, ...] = (background,)
        split = "none"
    else:
        bg = tuple(sorted(background, key=list(BACKGROUNDS).index))
        split = "vertical"
    return _place(items, cols, bg, split, sign, rng, seed)


def _place(
    items: list[tuple[str, str]],
    columns: list[int],
    background: tuple[str, ...],
    split: str,
    sign: str | None,
    rng: random.Random,
    seed: int,
) -> Scene:
    # The canvas is a 3 x 3 grid: shapes sit near the centre of their column in the middle row,
    # a sign near the centre of the bottom row. The demo model sees the picture at 96 px in
    # 32 px patches, one patch per cell, so each shape lands whole in one patch; the tiny model
    # has a few minutes of CPU to learn, and shapes cut across patches cost it far more.
    width = CANVAS // 3
    shapes = []
    for (colour, kind), col in zip(items, columns):
        radius = rng.choice(SIZES)
        x = col * width + width // 2 + rng.randint(-6, 6)
        y = CANVAS // 2 + rng.randint(-6, 6)
        shapes.append(SceneShape(kind, colour, col, x, y, radius))
    return Scene(
        shapes=tuple(shapes),
        background=background,
        split=split,
        sign=sign,
        sign_x=CANVAS // 2 + rng.randint(-8, 8),
        sign_y=rng.randint(206, 216),
        swap_halves=rng.random() < 0.5,
        seed=seed,
    )


# ----- wide scenes: the same world, drawn in many more ways -----
ROUTINES: tuple[str, ...] = ("plain", "supersampled", "regular", "lines")
SIZE_RANGE: tuple[float, float] = (0.08, 0.6)  # a shape's extent, as a share of the shorter side


def wide_scene(seed: int) -> Scene:
    """A scene of the same world (shapes, colours, columns, signs, backgrounds, captions and
    questions as random_scene) drawn far more freely: any canvas size and aspect, shapes from
    SIZE_RANGE of the picture anywhere in their third of the width, filled or outlined, hard
    or anti-aliased edges from several drawing routines, slight rotation, shade changes, noise,
    blur and JPEG artefacts. The column of a shape is the third of the width its centre is in;
    shapes never overlap, so the caption's left-to-right order is the order of the centres."""
    rng = random.Random(seed ^ 0x5EED5)
    layout = random_scene(seed)  # what is in the scene (the language side), not where
    aspect = math.exp(rng.uniform(-math.log(2.0), math.log(2.0)))
    area = rng.uniform(80, 560) ** 2
    width = max(64, min(800, round(math.sqrt(area * aspect))))
    height = max(64, min(800, round(math.sqrt(area / aspect))))
    short = min(width, height)
    sign_size = max(10, int(short * rng.uniform(0.07, 0.14)))
    sign_box_wh = None
    if layout.sign:
        box, _ = _sign_layout(layout.sign, 0, 0, sign_size)
        sign_box_wh = (box[2] - box[0], box[3] - box[1])
    for _attempt in range(40):
        shapes: list[SceneShape] = []
        boxes: list[tuple[float, float, float, float]] = []
        ok = True
        n = len(layout.shapes)
        for original in layout.shapes:
            col = original.column
            third = width / 3
            # Several shapes must fit side by side: the bigger sizes go to scenes with fewer shapes.
            top_frac = SIZE_RANGE[1] if n == 1 else min(SIZE_RANGE[1], 0.9 * third / short, 0.45 if n == 2 else 0.32)
            frac = rng.uniform(SIZE_RANGE[0], max(SIZE_RANGE[0], top_frac))
            radius = max(3, int(frac * short / 2))
            lo_x, hi_x = max(col * third, radius + 1), min((col + 1) * third - 1, width - radius - 2)
            if lo_x > hi_x:
                ok = False
                break
            x = int(rng.uniform(lo_x, hi_x))
            y = int(rng.uniform(radius + 1, height - radius - 2))
            box = (x - radius, y - radius, x + radius, y + radius)
            if any(_overlap(box, other, 2) for other in boxes):
                ok = False
                break
            boxes.append(box)
            outline = 0
            if rng.random() < 0.3:
                outline = max(2, int(radius * rng.uniform(0.12, 0.3)))
            shapes.append(SceneShape(
                original.kind, original.colour, col, x, y, radius,
                rotation=rng.uniform(-15, 15) if rng.random() < 0.6 else 0.0,
                outline=outline,
                routine=rng.choice(ROUTINES),
                rgb=_jitter(COLOURS[original.colour], rng, 18),
                shape_aspect=rng.uniform(0.85, 1.15),
            ))
        if not ok:
            continue
        sign_x, sign_y = width // 2, height // 2
        if sign_box_wh:
            sw, sh = sign_box_wh
            if sw + 4 > width or sh + 4 > height:
                continue
            sign_x = int(rng.uniform(sw / 2 + 2, width - sw / 2 - 2))
            sign_y = int(rng.uniform(sh / 2 + 2, height - sh / 2 - 2))
            sbox = (sign_x - sw / 2, sign_y - sh / 2, sign_x + sw / 2, sign_y + sh / 2)
            if any(_overlap(sbox, other, 3) for other in boxes):
                continue
        break
    else:
        # Nothing fitted freely (rare: a small canvas and a sign): the classic layout, scaled.
        return _scaled_classic(layout, rng)
    jpeg = rng.randint(25, 92) if rng.random() < 0.35 else 0
    return Scene(
        shapes=tuple(shapes),
        background=layout.background,
        split=layout.split,
        sign=layout.sign,
        sign_x=sign_x,
        sign_y=sign_y,
        swap_halves=layout.swap_halves,
        seed=seed,
        width=width,
        height=height,
        split_at=rng.uniform(0.3, 0.7),
        background_rgb=tuple(_jitter(BACKGROUNDS[name], rng, 14) for name in layout.background),
        sign_size=sign_size,
        noise=rng.uniform(2, 14) if rng.random() < 0.3 else 0.0,
        blur=rng.uniform(0.4, 1.2) if rng.random() < 0.15 else 0.0,
        jpeg=jpeg,
    )


def _scaled_classic(layout: Scene, rng: random.Random) -> Scene:
    return Scene(shapes=layout.shapes, background=layout.background, split=layout.split, sign=layout.sign,
                 sign_x=layout.sign_x, sign_y=layout.sign_y, swap_halves=layout.swap_halves, seed=layout.seed,
                 background_rgb=tuple(BACKGROUNDS[name] for name in layout.background))


def _overlap(a, b, margin: float) -> bool:
    return not (a[2] + margin < b[0] or b[2] + margin < a[0] or a[3] + margin < b[1] or b[3] + margin < a[1])


def _jitter(rgb: tuple[int, int, int], rng: random.Random, amount: int) -> tuple[int, int, int]:
    return tuple(max(0, min(255, c + rng.randint(-amount, amount))) for c in rgb)  # type: ignore[return-value]


def _outline_points(s: SceneShape) -> list[tuple[float, float]]:
    """The corners of a polygon shape (not circles), turned by s.rotation about its centre."""
    r, a = s.radius, s.shape_aspect
    if s.kind == "square":
        h = r * 0.85
        pts = [(-h * a, -h), (h * a, -h), (h * a, h), (-h * a, h)]
    elif s.kind == "triangle":
        pts = [(0, -r), (r * a, r * 0.8), (-r * a, r * 0.8)]
    elif s.kind == "diamond":
        pts = [(0, -r), (r * 0.75 * a, 0), (0, r), (-r * 0.75 * a, 0)]
    elif s.kind == "star":
        inner = 0.45 * a if a < 1.0 else 0.45
        pts = []
        for i in range(10):
            rad = r if i % 2 == 0 else r * inner
            angle = -math.pi / 2 + i * math.pi / 5
            pts.append((rad * math.cos(angle), rad * math.sin(angle)))
    else:
        raise ValueError(f"no corners for {s.kind!r}")
    t = math.radians(s.rotation)
    c, si = math.cos(t), math.sin(t)
    return [(s.x + px * c - py * si, s.y + px * si + py * c) for px, py in pts]


def _draw_wide_shape(img: Image.Image, s: SceneShape) -> None:
    fill = s.rgb or COLOURS[s.colour]
    if s.routine == "supersampled":
        # Draw 4x bigger on a mask, shrink it with a box filter: soft, anti-aliased edges.
        k = 4
        pad = s.radius + s.outline + 4
        left, top = s.x - pad, s.y - pad
        size = 2 * pad
        mask = Image.new("L", (size * k, size * k), 0)
        d = ImageDraw.Draw(mask)
        local = SceneShape(s.kind, s.colour, s.column, pad * k, pad * k, s.radius * k, s.rotation,
                           s.outline * k, "plain", None, s.shape_aspect)
        _draw_on(d, local, 255)
        mask = mask.resize((size, size), Image.Resampling.BOX)
        img.paste(Image.new("RGB", (size, size), fill), (left, top), mask)
        return
    draw = ImageDraw.Draw(img)
    if s.routine == "regular" and s.kind in ("square", "triangle") and s.shape_aspect and not s.outline:
        sides = 4 if s.kind == "square" else 3
        rot = 45 + s.rotation if sides == 4 else s.rotation
        radius = s.radius * (0.85 * math.sqrt(2) if sides == 4 else 0.95)
        draw.regular_polygon((s.x, s.y, radius), sides, rotation=-rot, fill=fill)
        return
    _draw_on(draw, s, fill, joint="curve" if s.routine == "lines" else None)


def _draw_on(draw: ImageDraw.ImageDraw, s: SceneShape, fill, joint: str | None = None) -> None:
    """A shape in one colour on any Pillow drawing surface: filled, or outlined s.outline wide."""
    r = s.radius
    if s.kind == "circle":
        rx, ry = r * s.shape_aspect ** 0.3, r / s.shape_aspect ** 0.3
        box = (s.x - rx, s.y - ry, s.x + rx, s.y + ry)
        if s.outline:
            draw.ellipse(box, outline=fill, width=s.outline)
        else:
            draw.ellipse(box, fill=fill)
        return
    pts = _outline_points(s)
    if not s.outline:
        draw.polygon(pts, fill=fill)
    elif joint:
        draw.line([*pts, pts[0], pts[1]], fill=fill, width=s.outline, joint=joint)
    else:
        draw.polygon(pts, outline=fill, width=s.outline)


def _render_wide(scene: Scene) -> Image.Image:
    w, h = scene.width, scene.height
    first, second = (scene.background_rgb * 2)[:2]
    if scene.swap_halves:
        first, second = second, first
    img = Image.new("RGB", (w, h), first)
    draw = ImageDraw.Draw(img)
    if scene.split == "vertical":
        draw.rectangle((int(w * scene.split_at), 0, w, h), fill=second)
    elif scene.split == "horizontal":
        draw.rectangle((0, int(h * scene.split_at), w, h), fill=second)
    for shape in scene.shapes:
        if scene.width == CANVAS and scene.height == CANVAS and shape.routine == "plain" and shape.rgb is None:
            _draw_shape(draw, shape)
        else:
            _draw_wide_shape(img, shape)
    if scene.sign:
        _draw_sign(ImageDraw.Draw(img), scene.sign, scene.sign_x, scene.sign_y, scene.sign_size)
    return _degrade(img, scene)


def _degrade(img: Image.Image, scene: Scene) -> Image.Image:
    import io

    if scene.blur:
        from PIL import ImageFilter

        img = img.filter(ImageFilter.GaussianBlur(scene.blur))
    if scene.noise:
        rnd = random.Random(scene.seed * 31 + 5)
        noise = Image.effect_noise(img.size, scene.noise * 4).convert("RGB")
        # effect_noise is centred on 128: add (noise - 128) * a small factor, per pixel.
        img = Image.blend(img, noise, min(0.25, scene.noise / 60 + rnd.random() * 0.02))
    if scene.jpeg:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=scene.jpeg)
        buf.seek(0)
        img = Image.open(buf).convert("RGB")
    return img


def _with_article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _draw_shape(draw: ImageDraw.ImageDraw, s: SceneShape) -> None:
    import math

    fill = COLOURS[s.colour]
    x, y, r = s.x, s.y, s.radius
    if s.kind == "circle":
        draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
    elif s.kind == "square":
        h = int(r * 0.85)
        draw.rectangle((x - h, y - h, x + h, y + h), fill=fill)
    elif s.kind == "triangle":
        draw.polygon([(x, y - r), (x + r, y + int(r * 0.8)), (x - r, y + int(r * 0.8))], fill=fill)
    elif s.kind == "diamond":
        draw.polygon([(x, y - r), (x + int(r * 0.75), y), (x, y + r), (x - int(r * 0.75), y)], fill=fill)
    elif s.kind == "star":
        points = []
        for i in range(10):
            rad = r if i % 2 == 0 else r * 0.45
            angle = -math.pi / 2 + i * math.pi / 5
            points.append((x + rad * math.cos(angle), y + rad * math.sin(angle)))
        draw.polygon(points, fill=fill)
    else:
        raise ValueError(f"unknown shape {s.kind!r}")


def _font(size: int = 30) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's bundled font, so the letters look the same on every machine.
    if size not in _FONT:
        _FONT[size] = ImageFont.load_default(size=size)
    return _FONT[size]


_FONT: dict[int, ImageFont.FreeTypeFont | ImageFont.ImageFont] = {}


def _sign_layout(word: str, cx: int, cy: int, size: int = 30) -> tuple[tuple[int, int, int, int], tuple[int, int]]:
    """The sign's box and where its text starts."""
    left, top, right, bottom = _font(size).getbbox(word)
    w, h = right - left, bottom - top
    pad_x, pad_y = max(3, size // 3), max(3, size * 4 // 15)
    box = (cx - w // 2 - pad_x, cy - h // 2 - pad_y, cx + w // 2 + pad_x, cy + h // 2 + pad_y)
    return box, (cx - w // 2 - left, cy - h // 2 - top)


def _draw_sign(draw: ImageDraw.ImageDraw, word: str, cx: int, cy: int, size: int = 30) -> None:
    box, origin = _sign_layout(word, cx, cy, size)
    draw.rectangle(box, fill=(250, 250, 240), outline=(0, 0, 0), width=max(1, size // 10))
    draw.text(origin, word, fill=(0, 0, 0), font=_font(size))


def vocabulary() -> list[str]:
    """Every word and punctuation mark the scenes' captions, questions, answers and prompt
    formats use, lower case, in a fixed order (the demo model's word-level vocabulary)."""
    words: set[str] = set()
    texts = [QUESTION_FORMAT, FOLLOWUP_FORMAT, "a an and on with sign that says background"]
    texts += list(COLOURS) + list(BACKGROUNDS) + list(SHAPES) + [k + "s" for k in SHAPES]
    texts += list(SIGN_WORDS) + list(COLUMNS) + list(NUMBERS) + ["yes", "no", "colour color"]
    for seed in range(300):  # enough scenes to meet every question template
        scene = random_scene(seed)
        texts.append(scene.caption())
        texts += [qa.question + " " + qa.answer for qa in scene.questions()]
    for text in texts:
        words.update(tokenize_words(text.replace("{question}", "").replace("{answer}", "")))
    return sorted(words)


def tokenize_words(text: str) -> list[str]:
    """Split text the way the demo model's tokenizer does: lower case words and single
    punctuation marks."""
    return re.findall(r"\w+|[^\w\s]", text.lower())
