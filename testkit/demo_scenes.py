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

    # ----- drawing -----
    def render(self) -> Image.Image:
        """Draw the scene as a CANVAS x CANVAS RGB picture."""
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
        return _sign_layout(self.sign, self.sign_x, self.sign_y)[0] if self.sign else None

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


def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's bundled font, so the letters look the same on every machine.
    if not _FONT:
        _FONT.append(ImageFont.load_default(size=30))
    return _FONT[0]


_FONT: list[ImageFont.FreeTypeFont | ImageFont.ImageFont] = []


def _sign_layout(word: str, cx: int, cy: int) -> tuple[tuple[int, int, int, int], tuple[int, int]]:
    """The sign's box and where its text starts."""
    left, top, right, bottom = _font().getbbox(word)
    w, h = right - left, bottom - top
    box = (cx - w // 2 - 10, cy - h // 2 - 8, cx + w // 2 + 10, cy + h // 2 + 8)
    return box, (cx - w // 2 - left, cy - h // 2 - top)


def _draw_sign(draw: ImageDraw.ImageDraw, word: str, cx: int, cy: int) -> None:
    box, origin = _sign_layout(word, cx, cy)
    draw.rectangle(box, fill=(250, 250, 240), outline=(0, 0, 0), width=3)
    draw.text(origin, word, fill=(0, 0, 0), font=_font())


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
