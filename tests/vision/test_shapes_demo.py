"""The bundled demo model as a test oracle: through the real pipeline it must give the true
caption and answers for freshly drawn scenes, in every picture format, about the right
picture, on the cached-features path exactly as with plain generate.

The scenes come from seeds that neither training (seed 1) nor the model card's scores
(seed 2) used. A colour-channel swap, a wrong normalisation or resize, misplaced image
tokens, features cached for the wrong picture or a dropped alpha channel all change what
the model says, so these tests fail on those bugs.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from desktop_app.models import vision_catalog as catalog
from testkit import demo_scenes as ds

FOLDER = Path(__file__).resolve().parents[2] / "resources" / "models" / "shapes-demo"
TEST_SEED = 3_000_000  # scenes no training or scoring run has drawn


def spoken(text: str) -> str:
    """What the engine makes of a raw model answer: capital first letter, full stop."""
    return text[0].upper() + text[1:] + "."


def fresh_scenes(count: int, want=lambda scene: True) -> list[ds.Scene]:
    scenes, seed = [], TEST_SEED
    while len(scenes) < count:
        scene = ds.random_scene(seed)
        seed += 1
        if want(scene):
            scenes.append(scene)
    return scenes


def has_left_shape(scene: ds.Scene) -> bool:
    return scene.shapes[0].column == 0


def lookaloud(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "desktop_app", *args], capture_output=True, text=True,
                          timeout=300, env=env, check=False)


def save_png_16bit(image: Image.Image, path: Path) -> None:
    """A 48-bit RGB PNG (Pillow can read these but only writes 16-bit greyscale)."""
    width, height = image.size
    rows = bytearray()
    pixels = image.load()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            for channel in pixels[x, y]:
                rows += struct.pack(">H", channel * 257)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows)))
                     + chunk(b"IEND", b""))


def transparent_background(scene: ds.Scene) -> Image.Image:
    """The scene as RGBA whose white background is fully transparent over black pixels, so a
    pipeline that drops alpha instead of compositing on white sees a black background."""
    rgb = scene.render()
    alpha = Image.eval(rgb.convert("L"), lambda v: 0 if v == 255 else 255)
    black = Image.new("RGB", rgb.size, (0, 0, 0))
    rgba = Image.composite(rgb, black, alpha).convert("RGBA")
    rgba.putalpha(alpha)
    return rgba


@pytest.fixture(scope="module")
def loaded():
    import torch

    from desktop_app.vision.loader import load_model

    torch.set_num_threads(1)
    return load_model("shapes-demo", device="cpu", precision="fp32")


def test_folder_keeps_the_engine_contract() -> None:
    from transformers import Blip2Config, Blip2Processor

    config = Blip2Config.from_pretrained(FOLDER)
    processor = Blip2Processor.from_pretrained(FOLDER)
    assert processor.num_query_tokens == config.num_query_tokens
    assert processor.tokenizer.convert_tokens_to_ids("<image>") == config.image_token_id
    assert config.text_config.eos_token_id == processor.tokenizer.eos_token_id
    settings = json.loads((FOLDER / "lookaloud.json").read_text())
    assert settings["question_format"] == ds.QUESTION_FORMAT
    assert settings["followup_format"] == ds.FOLLOWUP_FORMAT
    assert [p.name for p in FOLDER.glob("*.bin")] == []
    size = sum(p.stat().st_size for p in FOLDER.iterdir())
    assert size < 20_000_000
    assert catalog.resolve("shapes-demo").folder == FOLDER


def test_describe_json_gives_true_captions_and_answers(tmp_path) -> None:
    """`lookaloud describe --json --model shapes-demo` on five new scenes; the follow-up
    questions of each picture are answered about that picture, not the one before."""
    scenes = fresh_scenes(5, has_left_shape)
    paths = []
    for i, scene in enumerate(scenes):
        paths.append(str(tmp_path / f"scene{i}.png"))
        scene.render().save(paths[-1])
    questions = ["What colour is the shape on the left?", "How many shapes are there?",
                 "What shape is on the left?", "Is there a sign?"]
    args = [a for q in questions for a in ("--ask", q)]
    result = lookaloud("describe", *paths, *args, "--model", "shapes-demo", "--json")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["image"] for line in lines] == paths
    wrong_captions, wrong_answers = [], []
    for scene, line in zip(scenes, lines):
        truth = {qa.question: qa.answer for qa in scene.questions()}
        assert line["model"] == "shapes-demo"
        assert [a["question"] for a in line["answers"]] == questions
        if line["caption"] != spoken(scene.caption()):
            wrong_captions.append((line["caption"], scene.caption()))
        for item in line["answers"]:
            if item["answer"] != spoken(truth[item["question"].lower()]):
                wrong_answers.append((scene.caption(), item))
    # The model card reports a few percent of mistakes; pipeline bugs make most answers wrong.
    assert len(wrong_captions) <= 1, wrong_captions
    assert len(wrong_answers) <= 1, wrong_answers


@pytest.mark.parametrize("fmt", ["jpeg", "rgba-png", "palette-gif", "16bit-png"])
def test_every_picture_format_gives_the_same_answers(tmp_path, fmt) -> None:
    scene = ds.compose([("red", "star"), ("blue", "circle"), ("yellow", "triangle")], background="white",
                       seed=11)
    path = tmp_path / f"scene.{fmt}"
    if fmt == "jpeg":
        scene.render().save(path, "JPEG", quality=85)
    elif fmt == "rgba-png":
        transparent_background(scene).save(path, "PNG")
    elif fmt == "palette-gif":
        scene.render().convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(path, "GIF")
    else:
        save_png_16bit(scene.render(), path)
    questions = ["What colour is the shape on the left?", "What shape is in the middle?",
                 "How many shapes are there?", "What color is the shape on the right?"]
    args = [a for q in questions for a in ("--ask", q)]
    result = lookaloud("describe", str(path), *args, "--model", "shapes-demo", "--json")
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout)
    # "on a white background" also proves that transparency was laid on white, not dropped.
    assert line["caption"] == spoken(scene.caption())
    assert [a["answer"] for a in line["answers"]] == ["Red.", "Circle.", "Three.", "Yellow."]


def test_cached_features_and_plain_generate_agree(loaded) -> None:
    from desktop_app.vision.session import ImageSession

    spec = loaded.spec
    for scene in fresh_scenes(3):
        session = ImageSession(loaded, scene.render())
        # Prompts that share only the picture and "Question:" with the one before: the kept
        # keys/values of an earlier prompt must be cut back to what they really share.
        for prompt, settings in (
            (spec.caption_prompt, spec.caption_generation),
            (spec.prompt_for("how many shapes are there?"), spec.answer_generation),
            (spec.prompt_for("what colour is the shape on the left?"), spec.answer_generation),
            (spec.prompt_for("what shape is on the left?"), spec.answer_generation),
            (spec.prompt_for("is there a star?", [("how many shapes are there?", "two")]), spec.answer_generation),
        ):
            cached = session.token_ids(prompt, settings)
            assert cached == session.reference_ids(prompt, settings)
        assert session.caption() == spoken(scene.caption())


def test_follow_up_after_switching_pictures_is_about_the_new_picture(loaded) -> None:
    from desktop_app.vision.session import ImageSession

    first = ImageSession(loaded, ds.compose([("red", "circle")], background="gray", seed=5).render())
    assert first.ask("What colour is the shape on the left?") == "Red."
    second = ImageSession(loaded, ds.compose([("green", "square"), ("orange", "star")], seed=7).render())
    assert second.ask("How many shapes are there?") == "Two."
    # A follow-up: the prompt now carries the earlier turn, and still the answer is this picture's.
    assert second.ask("What colour is the shape on the left?") == "Green."
    assert second.ask("What shape is in the middle?") == "Star."
    assert first.ask("What shape is on the left?") == "Circle."


def test_demo_model_hears_a_channel_swap(loaded) -> None:
    """The oracle itself: the same scene with red and blue channels swapped gets the other
    colour, so a BGR bug anywhere in the pipeline cannot pass the tests above."""
    from desktop_app.vision.session import ImageSession

    picture = ds.compose([("red", "square"), ("blue", "diamond")], seed=8).render()
    r, g, b = picture.split()
    straight = ImageSession(loaded, picture)
    swapped = ImageSession(loaded, Image.merge("RGB", (b, g, r)))
    question = "What colour is the shape on the left?"
    assert straight.ask(question) == "Red."
    assert swapped.ask(question) == "Blue."


def test_word_on_the_sign_is_read(loaded) -> None:
    from desktop_app.vision.session import ImageSession

    for word in ("stop", "exit", "taxi"):
        scene = ds.compose([("purple", "circle")], background="white", sign=word, seed=len(word) + 20)
        assert ImageSession(loaded, scene.render()).ask("What does the sign say?") == spoken(word)
