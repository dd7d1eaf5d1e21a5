"""`lookaloud describe` as a user or script meets it: output, JSON, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from desktop_app.models import vision_catalog as catalog
from desktop_app.vision import loader


def lookaloud(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "desktop_app", *args], capture_output=True, text=True,
                          timeout=300, env=env, check=False)


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pics")
    paths = []
    for i, colour in enumerate(((250, 0, 0), (0, 0, 250))):
        path = folder / f"pic{i}.png"
        Image.new("RGB", (40, 30), colour).save(path)
        paths.append(str(path))
    return paths


def test_json_per_picture_with_answers_in_order(tiny_model_dirs, pictures):
    result = lookaloud("describe", *pictures, "--ask", "what colour ?", "--ask", "how many ?", "--json",
                       "--model", str(tiny_model_dirs["blip2-opt"]), "--precision", "fp32")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["image"] for line in lines] == pictures
    for line in lines:
        assert set(line) == {"image", "caption", "kind", "text", "description", "answers", "model", "device", "precision",
                             "timings_ms", "tokens"}
        assert [a["question"] for a in line["answers"]] == ["what colour ?", "how many ?"]
        assert all(a["answer"].endswith(".") for a in line["answers"])
        assert line["caption"][0].isupper() and line["caption"].endswith(".")
        assert line["device"] == "cpu" and line["precision"] == "fp32"
        assert set(line["timings_ms"]) == {"load", "encode", "caption", "answers", "first_word"}
        assert line["timings_ms"]["first_word"] > 0
        assert set(line["tokens"]) == {"caption", "answers"}
        assert isinstance(line["tokens"]["caption"], int) and line["tokens"]["caption"] >= 1
        assert len(line["tokens"]["answers"]) == 2
        assert all(isinstance(n, int) and 1 <= n <= 10 for n in line["tokens"]["answers"])  # the catalog's limit


def test_json_first_word_comes_before_the_whole_caption_on_the_demo_model(tmp_path):
    """On the shipped demo model: the first phrase is ready before the caption is finished, and
    `tokens` counts what the model wrote (the caption's words and commas, and its end)."""
    from testkit import demo_scenes

    demo = "desktop_app/resources/models/shapes-demo"
    scene = demo_scenes.compose([("red", "circle"), ("blue", "square"), ("green", "triangle")], sign="stop")
    path = tmp_path / "shapes.png"
    scene.render().save(path)
    result = lookaloud("describe", str(path), "--json", "--no-text", "--model", demo, "--ask", "how many shapes are there?")
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout)
    assert line["caption"].lower().rstrip(".") == scene.caption()
    timings = line["timings_ms"]
    assert 0 < timings["first_word"] < timings["encode"] + timings["caption"]
    tokenizer = loader.load_model(catalog.resolve(demo), precision="fp32").processor.tokenizer
    assert line["tokens"]["caption"] == len(tokenizer(scene.caption(), add_special_tokens=False).input_ids) + 1
    assert line["answers"][0]["answer"] == "Three."
    assert line["tokens"]["answers"] == [len(tokenizer("three", add_special_tokens=False).input_ids) + 1]


def test_plain_output_is_readable(tiny_model_dirs, pictures):
    result = lookaloud("describe", pictures[0], "--model", str(tiny_model_dirs["blip2-t5"]), "--ask", "what ?")
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first.startswith(pictures[0] + ": ")
    assert second.startswith("  what ? ")


def test_bad_picture_exits_2_with_one_line(tmp_path, tiny_model_dirs):
    bad = tmp_path / "notes.png"
    bad.write_text("hello")
    result = lookaloud("describe", str(bad), "--model", str(tiny_model_dirs["blip2-opt"]))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "notes.png" in result.stderr and "Traceback" not in result.stderr


def test_missing_model_exits_3_and_says_how_to_get_it(pictures):
    result = lookaloud("describe", pictures[0], "--model", "blip2-flan-t5-xl")
    assert result.returncode == 3
    assert "lookaloud models download blip2-flan-t5-xl" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_model_and_bad_folder_exit_3(tmp_path, pictures):
    result = lookaloud("describe", pictures[0], "--model", "no-such-model")
    assert result.returncode == 3 and "no model called no-such-model" in result.stderr
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    result = lookaloud("describe", pictures[0], "--model", str(tmp_path))
    assert result.returncode == 3 and "cannot run" in result.stderr


def test_folder_without_safetensors_is_refused(tmp_path, tiny_model_dirs, pictures):
    import shutil

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_model_dirs["blip2-opt"], folder)
    for weights in folder.glob("*.safetensors"):
        weights.rename(weights.with_suffix(".bin"))
    result = lookaloud("describe", pictures[0], "--model", str(folder))
    assert result.returncode == 3 and "safetensors" in result.stderr


def test_folder_kinds_are_recognised(tiny_model_dirs):
    for kind, folder in tiny_model_dirs.items():
        assert catalog.resolve(str(folder)).kind == kind


def test_precision_choice():
    assert loader.choose_precision("cpu", "fp32") == "fp32"
    expected = "bf16" if loader.cpu_has_native_bf16() else "fp32"
    assert loader.choose_precision("cpu") == expected
    assert loader.choose_precision("mps") == "fp16"
    assert loader.choose_device("auto") == "cpu"  # no GPU on the test machines
    with pytest.raises(loader.ModelLoadError):
        loader.choose_device("cuda")


def test_catalog_lists_every_family():
    kinds = {spec.kind for spec in catalog.CATALOG.values()}
    assert kinds == set(catalog.KINDS)
    assert catalog.CATALOG[catalog.DEFAULT_MODEL].revision
    for spec in catalog.CATALOG.values():
        assert spec.memory_gb("bf16") < spec.memory_gb("fp32")
