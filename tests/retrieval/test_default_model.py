"""Which search model is used when none is named: the shipped demo search model when this copy
has one (no download), else blip2-itm-vit-g, which says how to get it. And, when the demo search
model is shipped, index and search end to end with it."""

from __future__ import annotations

import json

import pytest

from desktop_app import paths
from desktop_app.cli import main
from desktop_app.models import vision_catalog as catalog
from desktop_app.retrieval.engine import load_retrieval_model
from desktop_app.vision.loader import ModelNotInstalledError
from testkit import tiny_models


@pytest.fixture(autouse=True)
def own_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def test_without_the_demo_the_default_is_blip2_itm_and_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "RESOURCES_DIR", tmp_path / "resources")
    assert catalog.default_retrieval_model() == "blip2-itm-vit-g"
    spec = catalog.resolve_retrieval(None)
    assert spec.revision == "db1495e714396915415ac482f4556c2d3bc5155a" and spec.kind == catalog.BLIP2_ITM
    with pytest.raises(ModelNotInstalledError, match="lookaloud models download blip2-itm-vit-g"):
        load_retrieval_model(None)
    with pytest.raises(catalog.UnknownModelError, match="demo search model is not included"):
        catalog.resolve_retrieval(catalog.DEMO_SEARCH_MODEL)


def test_a_shipped_demo_search_folder_is_the_default(tmp_path, monkeypatch):
    resources = tmp_path / "resources"
    tiny_models.build_blip2_retrieval(resources / "models" / catalog.DEMO_SEARCH_MODEL, seed=4)
    monkeypatch.setattr(paths, "RESOURCES_DIR", resources)
    assert catalog.default_retrieval_model() == catalog.DEMO_SEARCH_MODEL
    loaded = load_retrieval_model(None, precision="fp32")
    assert loaded.model_name == catalog.DEMO_SEARCH_MODEL and loaded.model_revision.startswith("local-")
    assert catalog.resolve(catalog.DEMO_SEARCH_MODEL).kind == catalog.BLIP2_ITM  # `models download` knows it


def test_a_retrieval_folder_is_never_taken_for_a_describer(tmp_path):
    folder = tiny_models.build_blip2_retrieval(tmp_path / "search-model", seed=5)
    assert catalog.kind_of_folder(folder) == catalog.BLIP2_ITM
    assert catalog.kind_of_folder(folder) not in catalog.KINDS


SHIPPED = catalog.demo_search_folder() / "config.json"


@pytest.mark.skipif(not SHIPPED.is_file(), reason="this copy does not include the demo search model yet")
def test_index_and_search_drawn_scenes_with_the_shipped_demo(tmp_path, capsys):
    from testkit.demo_scenes import random_scene

    folder = tmp_path / "scenes"
    folder.mkdir()
    for seed in range(12):
        random_scene(10_000 + seed).render().save(folder / f"scene-{seed:02d}.png")
    assert main(["index", str(folder), "--captions"]) == 0  # the defaults: demo search + demo describer
    captured = capsys.readouterr()
    assert "share their vision encoder" in captured.err  # the demo's ViT is shapes-demo's: one pass serves both
    assert main(["search", "a blue triangle", "--json", "--top", "3"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 3 and all(item["caption"] and item["image"].startswith(str(folder)) for item in lines)


# Held-out pictures for the shipped demo's search quality: seeds no training run drew (training
# scenes come from tools/train_shapes_model.py's TRAIN_BASE * seed ranges, 10 million and up).
HELD_OUT_FIRST = 700_000
HELD_OUT_COUNT = 24
# Measured with the shipped model: 100% on these 24 pictures and on two other sets of 24 (README.md of
# shapes-demo-search has the 300-picture scores). A floor a little below, so a model that finds the
# wrong shapes fails (the model after 26 training steps: 10%).
SHAPE_RECALL_AT_1_FLOOR = 0.9


@pytest.mark.skipif(not SHIPPED.is_file(), reason="this copy does not include the demo search model yet")
def test_searching_a_colour_and_shape_first_finds_a_picture_that_shows_it(tmp_path, capsys):
    """Every "a COLOUR SHAPE" that one of 24 held-out drawn scenes shows, searched with the
    defaults (the shipped demo search model, its re-ranking): the first result must show it."""
    from testkit.demo_scenes import random_scene

    folder = tmp_path / "held-out"
    folder.mkdir()
    shows = {}
    for i in range(HELD_OUT_COUNT):
        scene = random_scene(HELD_OUT_FIRST + i)
        path = folder / f"scene-{i:02d}.png"
        scene.render().save(path)
        shows[str(path)] = {(s.colour, s.kind) for s in scene.shapes}
    assert main(["index", str(folder)]) == 0
    capsys.readouterr()
    pairs = sorted(set().union(*shows.values()))
    hits = []
    for colour, kind in pairs:
        query = ("an " if colour[0] in "aeiou" else "a ") + f"{colour} {kind}"
        assert main(["search", query, "--json", "--top", "1"]) == 0
        (first,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        hits.append((colour, kind) in shows[first["image"]])
    recall = sum(hits) / len(hits)
    missed = [f"{c} {k}" for (c, k), hit in zip(pairs, hits, strict=True) if not hit]
    assert len(pairs) >= 20 and recall >= SHAPE_RECALL_AT_1_FLOOR, (recall, missed)
