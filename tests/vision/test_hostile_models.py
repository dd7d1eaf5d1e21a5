"""Hostile and damaged model folders, as `lookaloud describe` meets them.

A model folder is data: nothing in it may make Lookaloud (or transformers) run code, and a
damaged one ends with exit code 3 and one sentence, never a traceback. The real command runs in
a subprocess on copies of a real tiny model; a GPU out-of-memory is faked where the loader and
the session touch the GPU, so that the real fallback in the command runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from desktop_app.models import vision_catalog as catalog
from desktop_app.vision import loader

MARKER_CODE = '''import pathlib
pathlib.Path({marker!r}).write_text("the model folder ran code")


def generate(model, **kwargs):
    pathlib.Path({marker!r}).write_text("the model folder's generate ran")
    raise SystemExit(99)
'''


def lookaloud(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "desktop_app", *args], capture_output=True, text=True,
                          timeout=300, env=env, check=False)


def assert_one_sentence(result: subprocess.CompletedProcess, *words: str) -> None:
    err = result.stderr.strip()
    assert result.returncode == 3, (result.returncode, result.stderr)
    assert "Traceback" not in err and "\n" not in err, err
    assert err.startswith("lookaloud: ") and err.endswith("."), err
    for word in words:
        assert word in err, (word, err)


@pytest.fixture(scope="module")
def picture(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("pic") / "red.png"
    Image.new("RGB", (40, 30), (220, 20, 20)).save(path)
    return str(path)


@pytest.fixture
def model_copy(tmp_path, tiny_model_dirs) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dirs["blip2-opt"], folder)
    return folder


def _plant_code(folder: Path, marker: Path) -> None:
    (folder / "custom_generate").mkdir()
    (folder / "custom_generate" / "generate.py").write_text(MARKER_CODE.format(marker=str(marker)))


def _edit_json(path: Path, **changes) -> None:
    data = json.loads(path.read_text()) if path.is_file() else {}
    data.update(changes)
    path.write_text(json.dumps(data))


# ---- a model folder never runs code -------------------------------------------------------------

@pytest.mark.parametrize("field", ["caption_generation", "answer_generation"])
def test_custom_generate_in_lookaloud_json_runs_no_code(model_copy, picture, tmp_path, field):
    marker = tmp_path / "marker.txt"
    _plant_code(model_copy, marker)
    _edit_json(model_copy / "lookaloud.json",
               **{field: {"num_beams": 1, "max_new_tokens": 4, "custom_generate": str(model_copy),
                          "trust_remote_code": True}})
    result = lookaloud("describe", picture, "--ask", "what colour ?", "--model", str(model_copy))
    assert not marker.exists(), "the model folder's code ran"
    assert_one_sentence(result, "custom_generate", field, "lookaloud.json")


def test_trust_remote_code_alone_is_refused(model_copy, picture):
    _edit_json(model_copy / "lookaloud.json", caption_generation={"num_beams": 1, "trust_remote_code": True})
    assert_one_sentence(lookaloud("describe", picture, "--model", str(model_copy)), "trust_remote_code")


@pytest.mark.parametrize(("file", "changes", "key"), [
    ("config.json", {"auto_map": {"AutoModel": "modeling_evil.EvilModel"}}, "auto_map"),
    ("tokenizer_config.json", {"auto_map": {"AutoTokenizer": ["tokenization_evil.EvilTokenizer", None]}},
     "auto_map"),
    ("generation_config.json", {"custom_generate": ".", "trust_remote_code": True}, "custom_generate"),
])
def test_configs_asking_for_code_are_refused(model_copy, picture, tmp_path, file, changes, key):
    marker = tmp_path / "marker.txt"
    _plant_code(model_copy, marker)
    for name in ("modeling_evil.py", "tokenization_evil.py"):
        (model_copy / name).write_text(MARKER_CODE.format(marker=str(marker)))
    _edit_json(model_copy / file, **changes)
    result = lookaloud("describe", picture, "--model", str(model_copy))
    assert not marker.exists(), "the model folder's code ran"
    assert_one_sentence(result, key, file)


def test_loading_passes_trust_remote_code_false(model_copy, monkeypatch):
    from transformers import Blip2ForConditionalGeneration, Blip2Processor

    seen = []
    for cls in (Blip2ForConditionalGeneration, Blip2Processor):
        original = cls.from_pretrained.__func__

        def spy(klass, *args, _original=original, **kwargs):
            seen.append((klass.__name__, kwargs.get("trust_remote_code", "missing")))
            return _original(klass, *args, **kwargs)

        monkeypatch.setattr(cls, "from_pretrained", classmethod(spy))
    loader.load_model(catalog.resolve(str(model_copy)), precision="fp32")
    assert seen == [("Blip2ForConditionalGeneration", False), ("Blip2Processor", False)]


def test_a_spec_built_in_code_still_cannot_pass_code_loading_settings(model_copy):
    from desktop_app.vision.session import ImageSession

    spec = catalog.resolve(str(model_copy))
    session = ImageSession(loader.LoadedModel(spec, None, None, "cpu", "fp32", 0.0), None)
    with pytest.raises(ValueError, match="custom_generate"):
        session.generation_kwargs({"max_new_tokens": 2, "custom_generate": "."})


# ---- lookaloud.json: only known fields, checked types, safe formats -----------------------------

@pytest.mark.parametrize(("data", "named"), [
    ({"caption_generation": {"num_beams": 11}}, "num_beams"),
    ({"caption_generation": {"num_beams": True}}, "num_beams"),
    ({"caption_generation": {"num_beams": "5"}}, "num_beams"),
    ({"answer_generation": {"max_new_tokens": 100000}}, "max_new_tokens"),
    ({"answer_generation": {"max_new_tokens": 4, "min_new_tokens": 8}}, "min_new_tokens"),
    ({"answer_generation": {"penalty_alpha": 0.6, "top_k": 4}}, "penalty_alpha"),
    ({"answer_generation": {"streamer": "x"}}, "streamer"),
    ({"answer_generation": {"temperature": 0.0, "do_sample": True}}, "temperature"),
    ({"answer_generation": [1, 2]}, "answer_generation"),
    ({"question_format": "Question: {question.__class__} Answer:"}, "question_format"),
    ({"question_format": "Question: {question[0]} Answer:"}, "question_format"),
    ({"question_format": "Question: {question!r} Answer:"}, "question_format"),
    ({"question_format": "Question: {question:>999999999} Answer:"}, "question_format"),
    ({"question_format": "Question: {answer} {question} Answer:"}, "question_format"),
    ({"question_format": "Question: {0} Answer:"}, "question_format"),
    ({"question_format": "Question: { Answer:"}, "question_format"),
    ({"question_format": "Answer:"}, "question_format"),
    ({"followup_format": "Q: {question} A: {answer.__init__.__globals__}."}, "followup_format"),
    ({"label": ["a", "list"]}, "label"),
    ({"caption_prompt": 5}, "caption_prompt"),
    ({"caption_prompt": "x" * 5000}, "caption_prompt"),
    ({"kind": "blip-pair"}, "kind"),
    ({"repo_id": "someone/else"}, "repo_id"),
    ({"folder": "/etc"}, "folder"),
    ({"params_billion": "many"}, "params_billion"),
])
def test_lookaloud_json_refuses_with_a_sentence_naming_the_field(model_copy, data, named):
    _edit_json(model_copy / "lookaloud.json", **data)
    with pytest.raises(catalog.BadModelFolderError) as caught:
        catalog.resolve(str(model_copy))
    message = str(caught.value)
    assert named in message and "lookaloud.json" in message and message.endswith(".")
    assert "\n" not in message


def test_safe_settings_and_formats_are_kept(model_copy):
    settings = {"num_beams": 3, "max_new_tokens": 20, "min_new_tokens": 2, "repetition_penalty": 1.2,
                "length_penalty": -1, "no_repeat_ngram_size": 3, "early_stopping": True}
    _edit_json(model_copy / "lookaloud.json", caption_generation=settings, caption_prompt="a photo of",
               question_format="Q: {question} {{short}} A:", followup_format="Q: {question} A: {answer}.")
    spec = catalog.resolve(str(model_copy))
    assert spec.caption_generation == settings and spec.caption_prompt == "a photo of"
    assert spec.prompt_for("what ?", [("how many ?", "two.")]) == "Q: how many ? A: two. Q: what ? {short} A:"


def test_the_whitelist_covers_the_catalog_and_the_demo():
    for spec in [*catalog.CATALOG.values(), catalog.resolve(catalog.DEMO_MODEL)]:
        for field in ("caption_generation", "answer_generation"):
            settings = getattr(spec, field)
            assert catalog.check_generation_settings(settings, Path("catalog"), field) == settings
    demo = json.loads((catalog.demo_folder() / "lookaloud.json").read_text())
    assert catalog.resolve(catalog.DEMO_MODEL).answer_generation == demo["answer_generation"]


# ---- damaged models: exit 3 with one sentence ---------------------------------------------------

def _truncate_weights(folder: Path) -> None:
    weights = next(folder.glob("*.safetensors"))
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])


def _garbage_weights(folder: Path) -> None:
    next(folder.glob("*.safetensors")).write_bytes(os.urandom(4096))


def _empty_weights(folder: Path) -> None:
    next(folder.glob("*.safetensors")).write_bytes(b"")


DAMAGE = {
    "truncated safetensors": (_truncate_weights, "safetensors"),
    "garbage safetensors": (_garbage_weights, "safetensors"),
    "empty safetensors": (_empty_weights, "safetensors"),
    "garbage config.json": (lambda f: (f / "config.json").write_bytes(b"\x00\xffnot json{"), "config.json"),
    "list config.json": (lambda f: (f / "config.json").write_text("[1, 2, 3]"), "config.json"),
    "config.json with a list text_config": (
        lambda f: _edit_json(f / "config.json", text_config=[1]), "config.json"),
    "garbage lookaloud.json": (lambda f: (f / "lookaloud.json").write_text("{kind: blip2"), "lookaloud.json"),
    "list lookaloud.json": (lambda f: (f / "lookaloud.json").write_text('["kind"]'), "lookaloud.json"),
    "garbage tokenizer_config.json": (
        lambda f: (f / "tokenizer_config.json").write_text("<html>"), "tokenizer_config.json"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_model_exits_3_with_one_sentence(model_copy, picture, damage):
    spoil, named = DAMAGE[damage]
    spoil(model_copy)
    result = lookaloud("describe", picture, "--model", str(model_copy))
    assert_one_sentence(result, named)


# ---- out of GPU memory: the command carries on with the CPU -------------------------------------

def _pretend_gpu(monkeypatch, oom_while: str) -> list[str]:
    """A machine with a CUDA GPU that runs out of memory while loading, captioning or answering.

    Loading on 'cuda' really loads on the CPU (there is no GPU here) but says 'cuda', so that the
    command's own fallback is what moves the model to the CPU."""
    import torch

    from desktop_app.vision.session import ImageSession

    events: list[str] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: events.append("empty_cache"))
    real_load_all = loader._load_all

    def load_all(spec, folder, device, precision):
        events.append(f"load on {device}")
        if device == "cuda":
            if oom_while == "loading":
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return real_load_all(spec, folder, "cpu", "fp32")
        return real_load_all(spec, folder, device, precision)

    real_run = ImageSession._run

    def run(self, prompt, settings, caption, question="", **kwargs):
        phase = "captioning" if caption else "answering"
        events.append(f"{phase} on {self.loaded.device}")
        if self.loaded.device == "cuda" and oom_while == phase:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB")
        return real_run(self, prompt, settings, caption, question, **kwargs)

    monkeypatch.setattr(loader, "_load_all", load_all)
    monkeypatch.setattr(ImageSession, "_run", run)
    return events


@pytest.mark.parametrize("oom_while", ["loading", "captioning", "answering"])
def test_out_of_gpu_memory_falls_back_to_the_cpu(tiny_model_dirs, picture, monkeypatch, capsys, oom_while):
    from desktop_app.cli import main

    events = _pretend_gpu(monkeypatch, oom_while)
    code = main(["describe", picture, "--ask", "what colour ?", "--json", "--model", str(tiny_model_dirs["blip2-opt"])])
    out, err = capsys.readouterr()
    assert code == 0, err
    line = json.loads(out)
    assert line["device"] == "cpu" and line["caption"] and line["answers"][0]["answer"]
    assert err.strip().count("\n") == 0 and "ran out of memory" in err and "processor" in err
    assert events[0] == "load on cuda" and "load on cpu" in events
    assert events[-2:] == ["captioning on cpu", "answering on cpu"]
    if oom_while != "loading":
        assert f"{oom_while} on cuda" in events and "empty_cache" in events


def test_out_of_memory_on_the_cpu_too_is_one_sentence(tiny_model_dirs, picture, monkeypatch, capsys):
    import torch

    from desktop_app.cli import main
    from desktop_app.vision.session import ImageSession

    def no_memory(self, *args, **kwargs):
        raise torch.OutOfMemoryError("out of memory")

    monkeypatch.setattr(ImageSession, "_run", no_memory)
    code = main(["describe", picture, "--model", str(tiny_model_dirs["blip2-opt"])])
    err = capsys.readouterr().err
    assert code == 1 and "not enough memory" in err and err.strip().count("\n") == 0
