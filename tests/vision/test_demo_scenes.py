"""The generated scenes say what they show: the caption and every answer match the pixels,
the same seed always draws the same picture, and the sign's word can be read by a real OCR
engine (tesseract)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter

import pytest
from PIL import Image

from testkit import demo_scenes as ds


def test_same_seed_same_scene_and_other_seed_other_scene() -> None:
    a, b, c = ds.random_scene(42), ds.random_scene(42), ds.random_scene(43)
    assert a.render().tobytes() == b.render().tobytes()
    assert a.caption() == b.caption() and a.questions() == b.questions()
    assert a.render().tobytes() != c.render().tobytes()


def test_shapes_are_drawn_in_their_colour_in_caption_order_left_to_right() -> None:
    for seed in range(60):
        scene = ds.random_scene(seed)
        img = scene.render()
        assert img.mode == "RGB" and img.size == (ds.CANVAS, ds.CANVAS)
        for shape in scene.shapes:
            assert img.getpixel((shape.x, shape.y)) == ds.COLOURS[shape.colour], (seed, shape)
        xs = [s.x for s in scene.shapes]
        assert xs == sorted(xs)
        named = [f"{s.colour} {s.kind}" for s in scene.shapes]
        caption = scene.caption()
        positions = [caption.index(n) for n in named]
        assert positions == sorted(positions), caption


def test_caption_reads_as_english() -> None:
    scene = ds.compose([("red", "circle"), ("blue", "square")], background="white")
    assert scene.caption() == "a red circle and a blue square on a white background"
    scene = ds.compose([("orange", "star"), ("green", "triangle"), ("yellow", "diamond")],
                       background=("black", "white"), sign="stop")
    assert scene.caption() == (
        "an orange star, a green triangle, a yellow diamond and a sign that says stop "
        "on a white and black background"
    )


def test_answers_agree_with_the_scene() -> None:
    for seed in range(100):
        scene = ds.random_scene(seed)
        kinds = [s.kind for s in scene.shapes]
        answers: dict[str, str] = {}
        for qa in scene.questions():
            # One question, one answer: ambiguous questions are never asked.
            assert answers.setdefault(qa.question, qa.answer) == qa.answer, (seed, qa)
            assert qa.answer == qa.answer.lower() and not qa.answer.endswith((".", "?"))
        assert answers["how many shapes are there?"] == ds.NUMBERS[len(scene.shapes)]
        for kind in ds.SHAPES:
            assert answers[f"is there a {kind}?"] == ("yes" if kind in kinds else "no")
            assert answers[f"how many {kind}s are there?"] == ds.NUMBERS[kinds.count(kind)]
        for shape in scene.shapes:
            assert answers[f"where is the {shape.colour} {shape.kind}?"] == ds.COLUMNS[shape.column]
            place = {"left": "on the left", "middle": "in the middle", "right": "on the right"}
            assert answers[f"what colour is the shape {place[ds.COLUMNS[shape.column]]}?"] == shape.colour
        assert answers["is there a sign?"] == ("yes" if scene.sign else "no")
        if scene.sign:
            assert answers["what does the sign say?"] == scene.sign


def test_scenes_cover_every_colour_shape_count_and_background() -> None:
    scenes = [ds.random_scene(seed) for seed in range(300)]
    colours = Counter(s.colour for sc in scenes for s in sc.shapes)
    kinds = Counter(s.kind for sc in scenes for s in sc.shapes)
    assert set(colours) == set(ds.COLOURS) and len(ds.COLOURS) >= 6
    assert set(kinds) == set(ds.SHAPES) >= {"circle", "square", "triangle", "star"}
    assert {len(sc.shapes) for sc in scenes} == {1, 2, 3}
    assert {sc.split for sc in scenes} == {"none", "vertical", "horizontal"}
    signs = sum(1 for sc in scenes if sc.sign)
    assert 60 < signs < 180
    assert {qa.kind for sc in scenes for qa in sc.questions()} == set(ds.QUESTION_KINDS)


def test_every_word_is_in_the_vocabulary() -> None:
    vocab = set(ds.vocabulary())
    for seed in range(1000, 1200):
        scene = ds.random_scene(seed)
        texts = [scene.caption()] + [ds.FOLLOWUP_FORMAT.format(question=q.question, answer=q.answer)
                                     for q in scene.questions()]
        for text in texts:
            assert set(ds.tokenize_words(text)) <= vocab, text


def test_swapping_red_and_blue_channels_turns_red_into_blue() -> None:
    """The premise of the end-to-end colour tests: a BGR mix-up changes what the picture shows."""
    scene = ds.compose([("red", "circle")])
    r, g, b = scene.render().split()
    swapped = Image.merge("RGB", (b, g, r))
    shape = scene.shapes[0]
    assert _nearest_colour(scene.render().getpixel((shape.x, shape.y))) == "red"
    assert _nearest_colour(swapped.getpixel((shape.x, shape.y))) == "blue"


def _nearest_colour(rgb: tuple[int, int, int]) -> str:
    return min(ds.COLOURS, key=lambda n: sum((a - b) ** 2 for a, b in zip(ds.COLOURS[n], rgb)))


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs the tesseract OCR program")
def test_sign_word_is_legible_to_ocr(tmp_path) -> None:
    for word in ds.SIGN_WORDS:
        scene = ds.compose([("green", "circle")], background="gray", sign=word, seed=len(word))
        path = tmp_path / f"{word}.png"
        left, top, right, bottom = scene.sign_box()
        sign = scene.render().crop((left + 5, top + 5, right - 5, bottom - 5))  # inside the border
        sign.resize((sign.width * 2, sign.height * 2)).save(path)
        result = subprocess.run(["tesseract", str(path), "-", "--psm", "8"], capture_output=True,
                                text=True, timeout=60, check=False)
        assert word in re.findall(r"[a-z]+", result.stdout.lower()), (word, result.stdout)


# ----- wide scenes (training) and other scenes (held-out scoring) -----
def _colour_near(rgb, want, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(rgb, want))


def test_wide_scenes_are_deterministic_and_vary_every_way() -> None:
    assert ds.wide_scene(7).render().tobytes() == ds.wide_scene(7).render().tobytes()
    scenes = [ds.wide_scene(seed) for seed in range(300)]
    sizes = [2 * s.radius / min(sc.width, sc.height) for sc in scenes for s in sc.shapes]
    assert min(sizes) < 0.12 and max(sizes) > 0.5
    assert len({(sc.width, sc.height) for sc in scenes}) > 200
    assert min(sc.width / sc.height for sc in scenes) < 0.6 and max(sc.width / sc.height for sc in scenes) > 1.6
    shapes = [s for sc in scenes for s in sc.shapes]
    assert {s.routine for s in shapes} == set(ds.ROUTINES)
    assert any(s.outline for s in shapes) and any(not s.outline for s in shapes)
    assert any(s.rotation for s in shapes)
    assert any(sc.jpeg for sc in scenes) and any(sc.noise for sc in scenes) and any(sc.blur for sc in scenes)


def test_wide_scenes_keep_the_language_true() -> None:
    """Column = the third of the width holding the shape's centre; the caption names the shapes
    left to right; nothing overlaps; a filled shape's centre pixel is its colour."""
    for seed in range(150):
        sc = ds.wide_scene(seed)
        img = sc.render()
        assert img.size == (sc.width, sc.height)
        xs = [s.x for s in sc.shapes]
        assert xs == sorted(xs)
        for s in sc.shapes:
            # (to the pixel: centres are whole pixels, thirds are not)
            assert s.column * sc.width / 3 - 1 <= s.x <= (s.column + 1) * sc.width / 3, (seed, s)
            assert 0 <= s.x - s.radius and s.x + s.radius < sc.width
            assert 0 <= s.y - s.radius and s.y + s.radius < sc.height
            if not s.outline and not sc.noise and not sc.jpeg and not sc.blur and s.radius > 6:
                assert _colour_near(img.getpixel((s.x, s.y)), ds.COLOURS[s.colour]), (seed, s)
        for a in sc.shapes:
            for b in sc.shapes:
                if a is not b:
                    assert abs(a.x - b.x) > a.radius + b.radius or abs(a.y - b.y) > a.radius + b.radius
        assert sc.caption() == ds.random_scene(seed).caption()


def test_other_scenes_are_drawn_differently_but_say_what_they_show() -> None:
    from testkit import other_scenes as other

    assert other.other_scene(5).render().tobytes() == other.other_scene(5).render().tobytes()
    scenes = [other.other_scene(seed) for seed in range(200)]
    assert len({(sc.width, sc.height) for sc in scenes}) > 150
    assert {len(sc.scene.shapes) for sc in scenes} == {1, 2, 3}
    kinds = Counter(s.kind for sc in scenes for s in sc.scene.shapes)
    assert set(kinds) == set(ds.SHAPES)
    for sc in scenes[:80]:
        img = sc.render()
        assert img.size == (sc.width, sc.height)
        xs = [s.x for s in sc.scene.shapes]
        assert xs == sorted(xs)
        for s, rgb, hollow in zip(sc.scene.shapes, sc.shade, sc.hollow):
            assert s.column * sc.width / 3 - 1 <= s.x <= (s.column + 1) * sc.width / 3, s
            # Every shade is nearest to its own colour name.
            assert _nearest_colour(rgb) == s.colour
            if not hollow and not sc.jpeg and s.radius > 6:
                assert _colour_near(img.getpixel((s.x, s.y)), rgb, 3), (s, rgb)
        answers = {qa.question: qa.answer for qa in sc.questions()}
        assert answers["how many shapes are there?"] == ds.NUMBERS[len(sc.scene.shapes)]


def test_other_scenes_share_no_drawing_code_with_the_training_generator() -> None:
    """The held-out generator must not call the training generator's drawing routines, or its
    scores would not measure pictures drawn by other code."""
    import inspect

    from testkit import other_scenes as other

    source = inspect.getsource(other)
    for name in ("render(", "_draw_shape", "_draw_wide_shape", "_draw_on", "_draw_sign", "_render_wide", "_degrade",
                 "wide_scene", "random_scene", "compose("):
        assert f"ds.{name}" not in source, name
