"""The retrieval engine against transformers' own Blip2ForImageTextRetrieval.forward."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import Blip2ForImageTextRetrieval, Blip2Processor

from desktop_app.models import vision_catalog as catalog
from desktop_app.retrieval.engine import contrastive_scores, load_retrieval_model
from desktop_app.vision.loader import ModelLoadError
from tests.retrieval.conftest import drawn

TEXTS = ["a red circle", "a blue square on the left", "what is there"]


@pytest.fixture(scope="module")
def pictures():
    return [drawn("red"), drawn("blue", "square"), drawn("green", size=(30, 90))]


@pytest.fixture(scope="module")
def reference(tiny_retrieval):
    folder = tiny_retrieval["other"]
    model = Blip2ForImageTextRetrieval.from_pretrained(str(folder), use_safetensors=True).eval()
    return model, Blip2Processor.from_pretrained(str(folder))


@pytest.fixture(scope="module")
def ours(tiny_retrieval):
    return load_retrieval_model(str(tiny_retrieval["other"]), precision="fp32")


def test_contrastive_scores_equal_transformers(reference, ours, pictures):
    model, processor = reference
    inputs = processor(images=pictures, text=TEXTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        expected = model(**inputs, use_image_text_matching_head=False).logits_per_image.numpy()
    images = ours.image_embeddings(pictures)
    texts = ours.text_embeddings(TEXTS)
    assert images.shape == (3, ours.num_queries, ours.dimension)
    got = np.stack([contrastive_scores(images, t) for t in texts], axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # and each text alone gives the same scores as in a batch (padding changes nothing)
    for i, text in enumerate(TEXTS):
        np.testing.assert_allclose(contrastive_scores(images, ours.text_embeddings([text])[0]), expected[:, i],
                                   rtol=1e-5, atol=1e-6)


def test_matching_head_equals_transformers(reference, ours, pictures):
    model, processor = reference
    for text in TEXTS:
        inputs = processor(images=pictures, text=[text] * len(pictures), return_tensors="pt", padding=True)
        with torch.no_grad():
            expected = model(**inputs, use_image_text_matching_head=True).logits_per_image.numpy()
        got = ours.matching_logits(ours.vision_states(pictures), text)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        probability = ours.matching_probability(pictures, text)
        np.testing.assert_allclose(probability, torch.softmax(torch.from_numpy(expected), 1)[:, 1].numpy(), rtol=1e-5)


def test_embeddings_are_normalised_and_differ_by_picture(ours, pictures):
    images = ours.image_embeddings(pictures)
    np.testing.assert_allclose(np.linalg.norm(images, axis=-1), 1.0, rtol=1e-5)
    assert np.abs(images[0] - images[1]).max() > 1e-3
    np.testing.assert_allclose(np.linalg.norm(ours.text_embeddings(TEXTS), axis=-1), 1.0, rtol=1e-5)


def test_revision_names_the_weights(tiny_retrieval, tmp_path):
    first = load_retrieval_model(str(tiny_retrieval["other"]), precision="fp32")
    assert first.model_revision.startswith("local-")
    assert load_retrieval_model(str(tiny_retrieval["other"]), precision="fp32").model_revision == first.model_revision
    spec = catalog.RETRIEVAL_CATALOG["blip2-itm-vit-g"]
    assert spec.repo_id == "Salesforce/blip2-itm-vit-g" and len(spec.revision) == 40


def test_refuses_code_and_non_safetensors(tiny_retrieval, tmp_path):
    import shutil

    folder = tmp_path / "hostile"
    shutil.copytree(tiny_retrieval["other"], folder)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "evil.Model"}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="auto_map"):
        load_retrieval_model(str(folder), precision="fp32")
    (folder / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="safetensors"):
        load_retrieval_model(str(folder), precision="fp32")


def test_a_describer_folder_is_not_a_search_model(tiny_retrieval):
    with pytest.raises(catalog.UnknownModelError, match="picture search model"):
        load_retrieval_model(str(tiny_retrieval["captioner"]), precision="fp32")


def test_half_precision_follows_transformers_too(tiny_retrieval, pictures):
    """In bf16 the Q-Former stays float32 (transformers keeps it so); ours takes the same path. The
    projected embeddings are bf16 in both; transformers also takes their dot product in bf16 (we
    take it in float32), so the scores agree to bf16's resolution (8 bits: about 0.001 here)."""
    folder = tiny_retrieval["other"]
    model = Blip2ForImageTextRetrieval.from_pretrained(str(folder), use_safetensors=True, dtype=torch.bfloat16).eval()
    processor = Blip2Processor.from_pretrained(str(folder))
    inputs = processor(images=pictures, text=TEXTS, return_tensors="pt", padding=True)
    inputs["pixel_values"] = inputs["pixel_values"].to(torch.bfloat16)
    with torch.no_grad():
        expected = model(**inputs, use_image_text_matching_head=False).logits_per_image.float().numpy()
    ours = load_retrieval_model(str(folder), precision="bf16")
    got = np.stack([contrastive_scores(ours.image_embeddings(pictures), t) for t in ours.text_embeddings(TEXTS)], 1)
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-3)
    assert (got.argmax(axis=0) == expected.argmax(axis=0)).all()


def _with_setting(source, folder, setting) -> str:
    import shutil

    shutil.copytree(source, folder)
    (folder / "lookaloud.json").write_text(json.dumps({"search_rerank": setting}))
    return str(folder)


def test_the_folder_says_how_the_matching_head_re_ranks(tiny_retrieval, tmp_path, pictures):
    from desktop_app.retrieval.engine import RerankSetting
    from desktop_app.retrieval.finder import DEFAULT_RERANK, Found, default_rerank, rerank

    plain = load_retrieval_model(str(tiny_retrieval["other"]), precision="fp32")
    assert plain.rerank == RerankSetting("matching", 0.07, 1.0) and default_rerank(plain) == DEFAULT_RERANK
    off = load_retrieval_model(_with_setting(tiny_retrieval["other"], tmp_path / "off", {"order": "off"}), precision="fp32")
    assert default_rerank(off) == 0
    text = "a red circle"
    scores = contrastive_scores(plain.image_embeddings(pictures), plain.text_embeddings([text])[0])
    found = sorted((Found(float(s), f"picture {i}", picture_id=i) for i, s in enumerate(scores)), key=lambda f: -f.score)
    log_odds = plain.matching_log_odds(pictures, text)

    def order(retrieval) -> list[int]:
        return [f.picture_id for f in rerank(retrieval, text, found, len(found), lambda f: pictures[f.picture_id])]

    assert order(plain) == sorted(range(3), key=lambda i: -log_odds[i])
    combined = load_retrieval_model(_with_setting(tiny_retrieval["other"], tmp_path / "combined",
                                                  {"order": "combined", "temperature": 0.05, "weight": 2}), precision="fp32")
    assert combined.rerank == RerankSetting("combined", 0.05, 2.0)
    assert order(combined) == sorted(range(3), key=lambda i: -(scores[i] / 0.05 + 2 * log_odds[i]))
    no_weight = load_retrieval_model(_with_setting(tiny_retrieval["other"], tmp_path / "weightless",
                                                   {"order": "combined", "weight": 0}), precision="fp32")
    assert order(no_weight) == [f.picture_id for f in found]  # the contrastive order, probabilities added
    assert all(f.match is not None for f in rerank(no_weight, text, found, 3, lambda f: pictures[f.picture_id]))


@pytest.mark.parametrize(("setting", "says"), [
    ("combined", "search_rerank must hold only order, temperature and weight"),
    ({"order": "sideways"}, "order must be one of matching, combined, off"),
    ({"order": "combined", "weight": "heavy"}, "weight must be a number from 0 to 100"),
    ({"order": "combined", "temperature": 0}, "temperature must be a number from 0.001 to 10"),
    ({"order": "combined", "trust": True}, "must hold only order, temperature and weight"),
])
def test_a_bad_re_ranking_setting_is_refused_in_a_sentence(tiny_retrieval, tmp_path, setting, says):
    folder = _with_setting(tiny_retrieval["other"], tmp_path / "bad", setting)
    with pytest.raises(ModelLoadError, match=says):
        load_retrieval_model(folder, precision="fp32")
