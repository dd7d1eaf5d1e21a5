"""The int8 and int4 precisions and prepared copies (issue 14), on real tiny models of every kind
and the shipped demo model: quantized sessions stay exact against their own model.generate, a
prepared copy is made once, memory-mapped afterwards, rebuilt when damaged or stale, and the
source folder is never touched; "auto" on a processor quantizes large models and says so."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from desktop_app.models import vision_catalog as catalog
from desktop_app.vision import loader, prepared, quantize
from desktop_app.vision.session import ImageSession

PICTURE = Image.new("RGB", (40, 40), (200, 30, 30))
QUESTION = "what colour is the circle?"


def _load(folder: Path, precision: str, **kwargs):
    return loader.load_model(catalog.resolve(str(folder)), device="cpu", precision=precision, **kwargs)


def _quantized_layers(loaded) -> int:
    models = [loaded.model, loaded.vqa_model]
    return sum(isinstance(m, tuple(quantize.METHODS.values())) for model in models if model is not None
               for m in model.modules())


def _folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.mark.parametrize("precision", ["int8", "int4"])
@pytest.mark.parametrize("kind", ["blip2-opt", "blip2-t5", "instructblip-t5", "instructblip-llm", "blip-pair"])
def test_a_quantized_session_answers_what_its_own_model_generate_does(tiny_model_dirs, kind, precision) -> None:
    loaded = _load(tiny_model_dirs[kind], precision)
    assert loaded.precision == precision and _quantized_layers(loaded) > 0
    session = ImageSession(loaded, PICTURE)
    for settings in ({"max_new_tokens": 8, "num_beams": 1}, {"max_new_tokens": 6, "num_beams": 3}):
        caption = session.token_ids(loaded.spec.caption_prompt, settings)
        assert caption == session.reference_ids(loaded.spec.caption_prompt, settings)
        prompt = QUESTION if kind == "blip-pair" else loaded.spec.prompt_for(QUESTION, [])
        answer = session.token_ids(prompt, settings, caption=False)
        assert answer == session.reference_ids(prompt, settings, caption=False)


def test_a_prepared_copy_is_made_once_and_memory_mapped_after(tiny_model_dirs, tmp_path) -> None:
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dirs["blip2-opt"], folder)
    before = _folder_digest(folder)
    said: list[tuple[float, str]] = []
    first = _load(folder, "int8", progress=lambda f, s: said.append((f, s)))
    assert said and said[0][1].startswith("Preparing the model") and said[-1] == (1.0, "The model is prepared.")
    assert all(s.endswith(".") for _f, s in said)
    copy = Path(first.prepared)
    assert copy.parent == prepared.root() and (copy / prepared.MANIFEST).is_file()
    manifest = json.loads((copy / prepared.MANIFEST).read_text(encoding="utf-8"))
    assert manifest["format"] == prepared.FORMAT_VERSION and manifest["precision"] == "int8"
    assert manifest["quantized"] and not list(copy.glob("*.bin"))

    said.clear()
    again = _load(folder, "int8", progress=lambda f, s: said.append((f, s)))
    assert said == [] and again.prepared == first.prepared
    if sys.platform.startswith("linux"):
        maps = Path("/proc/self/maps").read_text(encoding="utf-8")
        assert str(copy / prepared.WEIGHTS) in maps  # memory-mapped, not read into memory
    session, reference = ImageSession(again, PICTURE), ImageSession(first, PICTURE)
    settings = {"max_new_tokens": 8, "num_beams": 1}
    assert session.token_ids("", settings) == reference.token_ids("", settings)
    assert _folder_digest(folder) == before  # the original folder is never written to


@pytest.mark.parametrize("precision", ["int8", "int4"])
def test_the_vision_side_is_held_in_8_bits_too(tiny_model_dirs, tmp_path, precision) -> None:
    """The vision transformer and Q-Former are half of what the processor holds beside the
    language model (ViT-g: 2 GB in bf16): both quantized precisions keep them in 8-bit weights,
    in memory and in the prepared copy."""
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dirs["blip2-opt"], folder)
    loaded = _load(folder, precision)
    for part in ("vision_model", "qformer"):
        layers = [m for m in getattr(loaded.model, part).modules() if isinstance(m, (torch.nn.Linear, quantize.Int8DynamicLinear))]
        assert layers and all(isinstance(m, quantize.Int8WeightOnlyLinear) for m in layers), part
    state = prepared.load_weights(Path(loaded.prepared))
    vision = {k: v for k, v in state.items() if k.startswith(("vision_model.", "qformer.")) and k.endswith("weight")
              and v.dim() == 2}
    assert vision and all(v.dtype == torch.int8 for k, v in vision.items() if "embeddings" not in k), \
        sorted((k, str(v.dtype)) for k, v in vision.items() if v.dtype != torch.int8)[:3]


@pytest.mark.parametrize("damage", ["truncated", "manifest", "foreign tensor", "other version"])
def test_a_damaged_prepared_copy_is_removed_and_rebuilt_with_one_sentence(tiny_model_dirs, damage) -> None:
    folder = tiny_model_dirs["blip2-t5"]
    good = _load(folder, "int4")
    settings = {"max_new_tokens": 6, "num_beams": 1}
    expected = ImageSession(good, PICTURE).token_ids("", settings)
    copy = Path(good.prepared)
    weights, manifest_path = copy / prepared.WEIGHTS, copy / prepared.MANIFEST
    if damage == "truncated":
        weights.write_bytes(weights.read_bytes()[:-100])
    elif damage == "manifest":
        manifest_path.write_text("{not json", encoding="utf-8")
    elif damage == "foreign tensor":
        import torch

        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        prepared.write_safetensors(weights, [("not.a.tensor.of.this.model", torch.zeros(3))])
        header = prepared.read_header(weights)
        manifest["weights"].update(size=weights.stat().st_size, header_sha256=hashlib.sha256(header).hexdigest())
        manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    else:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest["format"] = prepared.FORMAT_VERSION + 1
        manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    rebuilt = _load(folder, "int4")
    assert rebuilt.prepared == good.prepared
    assert rebuilt.note.startswith("The prepared copy of the model was damaged (") and rebuilt.note.endswith(
        "so Lookaloud removed it and prepared it again.")
    assert ". " not in rebuilt.note  # one sentence
    assert ImageSession(rebuilt, PICTURE).token_ids("", settings) == expected
    assert _load(folder, "int4").note == ""  # rebuilt for good


def test_a_changed_source_gets_a_new_copy_and_the_stale_one_goes(tiny_model_dirs, tmp_path) -> None:
    import os
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dirs["instructblip-llm"], folder)
    old = Path(_load(folder, "int8").prepared)
    weights = next(folder.glob("*.safetensors"))
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    new = Path(_load(folder, "int8").prepared)
    assert new != old and new.is_dir() and not old.exists()


def test_when_no_copy_can_be_saved_the_model_still_loads_and_says_so(tiny_model_dirs, monkeypatch,
                                                                     tmp_path) -> None:
    import shutil

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dirs["blip-pair"], folder)  # a source with no copy yet
    monkeypatch.setattr(prepared, "save", full_disk)
    loaded = _load(folder, "int8")
    assert loaded.prepared == "" and _quantized_layers(loaded) > 0
    assert loaded.note == ("Lookaloud could not save a prepared copy of the model ([Errno 28] No space left on "
                           "device), so it prepared the model in memory; the next start will take as long.")
    session = ImageSession(loaded, PICTURE)
    assert session.token_ids("", {"max_new_tokens": 5}) == session.reference_ids("", {"max_new_tokens": 5})


def test_auto_on_a_processor_quantizes_large_models_and_never_picks_fp32_for_them() -> None:
    for cpu_bf16 in (True, False):
        assert loader.best_precision("cpu", cpu_bf16=cpu_bf16, large=True) == "int8"
    assert loader.best_precision("cpu", cpu_bf16=True) == "bf16"
    assert loader.best_precision("cpu", cpu_bf16=False) == "fp32"  # small models: quantizing gains nothing
    assert loader.best_precision("cuda", gpu_bf16=True, large=True) == "bf16"
    assert loader.choose_precision("cpu", "int4") == "int4"
    with pytest.raises(loader.ModelLoadError, match="runs on the processor only"):
        loader.choose_precision("cuda", "int8")


def test_auto_says_which_precision_it_chose(tiny_model_dirs, monkeypatch) -> None:
    monkeypatch.setattr(loader, "LARGE_MODEL_BYTES", 1)  # the tiny model stands in for a large one
    loaded = loader.load_model(catalog.resolve(str(tiny_model_dirs["blip2-opt"])), device="cpu")
    assert loaded.precision == "int8" and _quantized_layers(loaded) > 0
    assert loaded.note == loader.AUTO_INT8_NOTE


def test_auto_on_a_computer_short_of_memory_takes_4_bits_and_says_why(tiny_model_dirs, monkeypatch) -> None:
    # The rule: int8 unless it would need more than RAM_SHARE of the memory (blip2-opt-2.7b in int8:
    # 4.8 GB, so a 6 GB computer gets int4, an 8 GB one int8).
    assert loader.best_precision("cpu", large=True, ram_gb=6, need_int8_gb=4.8) == "int4"
    assert loader.best_precision("cpu", large=True, ram_gb=8, need_int8_gb=4.8) == "int8"
    assert loader.best_precision("cpu", large=True, ram_gb=0, need_int8_gb=4.8) == "int8"  # memory unknown
    # The loader counts the folder's weights from the safetensors headers for a model folder.
    folder = tiny_model_dirs["blip2-opt"]
    model = loader.load_model(catalog.resolve(str(folder)), device="cpu", precision="fp32").model
    assert loader.parameters_billion(folder) * 1e9 == pytest.approx(
        sum(t.numel() for t in model.state_dict().values()), rel=0.05)
    monkeypatch.setattr(loader, "LARGE_MODEL_BYTES", 1)  # the tiny model stands in for a large one
    monkeypatch.setattr(loader, "ram_gb", lambda: 0.25)  # and this computer has 250 MB
    loaded = loader.load_model(catalog.resolve(str(folder)), device="cpu")
    assert loaded.precision == "int4" and _quantized_layers(loaded) > 0
    assert loaded.note == loader.AUTO_INT4_NOTE.format(ram=0.25)
    assert "4 bits" in loaded.note and loaded.note.endswith(".")


def test_without_native_bf16_the_unquantized_parts_run_in_fp32(tiny_model_dirs, monkeypatch) -> None:
    import torch

    monkeypatch.setattr(loader, "cpu_has_native_bf16", lambda: False)
    loaded = _load(tiny_model_dirs["blip2-opt"], "int8")
    assert loaded.dtype == torch.float32
    assert loaded.model.vision_model.embeddings.patch_embedding.weight.dtype == torch.float32
    session = ImageSession(loaded, PICTURE)
    assert session.token_ids("", {"max_new_tokens": 6}) == session.reference_ids("", {"max_new_tokens": 6})


def test_the_settings_offer_the_quantized_precisions() -> None:
    from desktop_app.choices import Precision

    labels = Precision.labels()
    assert {"int8", "int4"} <= set(labels) and all("processor" in labels[p] for p in ("int8", "int4"))


def test_the_demo_model_keeps_its_scores_in_int8_and_int4() -> None:
    """Issue 14's quality guard on 100 held-out scenes (the card's rows use 400:
    bench/demo_quant_scores.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    import demo_quant_scores

    results = {p: demo_quant_scores.scores(p, 100) for p in ("fp32", "int8", "int4")}
    drops = demo_quant_scores.largest_drop(results)
    assert set(drops) == {"int8", "int4"}
    assert all(drop <= 1.0 for drop in drops.values()), demo_quant_scores.table(results)
