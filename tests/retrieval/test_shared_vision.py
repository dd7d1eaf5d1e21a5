"""One vision pass for describing and indexing: only when the vision encoders hash equal."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from desktop_app.models import vision_catalog as catalog
from desktop_app.retrieval.engine import load_retrieval_model
from desktop_app.retrieval.shared_vision import SharedVision, same_vision, vision_fingerprint
from desktop_app.vision.loader import load_model
from desktop_app.vision.session import ImageSession
from tests.retrieval.conftest import drawn


@pytest.fixture(scope="module")
def captioner(tiny_retrieval):
    return load_model(catalog.resolve(str(tiny_retrieval["captioner"])), precision="fp32")


def test_hashes_tell_shared_from_different_encoders(tiny_retrieval, captioner):
    shared = load_retrieval_model(str(tiny_retrieval["shared"]), precision="fp32")
    other = load_retrieval_model(str(tiny_retrieval["other"]), precision="fp32")
    assert vision_fingerprint(captioner.model) == vision_fingerprint(shared.model)
    assert vision_fingerprint(captioner.model) != vision_fingerprint(other.model)
    assert same_vision(captioner.model, captioner.processor, shared)
    assert not same_vision(captioner.model, captioner.processor, other)


def test_one_changed_tensor_breaks_the_match(tiny_retrieval, captioner):
    shared = load_retrieval_model(str(tiny_retrieval["shared"]), precision="fp32")
    with torch.no_grad():
        next(shared.model.vision_model.parameters()).view(-1)[0] += 1e-6
    assert not same_vision(captioner.model, captioner.processor, shared)


def test_describing_a_picture_indexes_it_with_the_same_embeddings(tiny_retrieval, captioner):
    retrieval = load_retrieval_model(str(tiny_retrieval["shared"]), precision="fp32")
    shared = SharedVision(captioner.model, captioner.processor, retrieval)
    assert shared.shared
    image = drawn("red", size=(50, 40))
    separate = retrieval.image_embeddings([image])[0]
    calls = []
    hook = retrieval.model.vision_model.register_forward_hook(lambda *a: calls.append(1))
    try:
        session = ImageSession(captioner, image)
        assert session.caption() is not None  # the describer's own pass
        embeds, reused = shared.embed(image)
    finally:
        hook.remove()
    assert reused and calls == []  # the retrieval model's vision transformer never ran
    np.testing.assert_allclose(embeds, separate, rtol=1e-5, atol=1e-6)
    shared.close()


def test_another_pictures_vision_output_is_never_used(tiny_retrieval, captioner):
    retrieval = load_retrieval_model(str(tiny_retrieval["shared"]), precision="fp32")
    shared = SharedVision(captioner.model, captioner.processor, retrieval)
    ImageSession(captioner, drawn("red")).encode()
    other_picture = drawn("blue", "square")
    embeds, reused = shared.embed(other_picture)
    assert not reused
    np.testing.assert_allclose(embeds, retrieval.image_embeddings([other_picture])[0], rtol=1e-5, atol=1e-6)
    shared.close()


def test_different_encoders_run_their_own_pass(tiny_retrieval, captioner):
    retrieval = load_retrieval_model(str(tiny_retrieval["other"]), precision="fp32")
    shared = SharedVision(captioner.model, captioner.processor, retrieval)
    assert not shared.shared
    image = drawn("green")
    ImageSession(captioner, image).encode()
    embeds, reused = shared.embed(image)
    assert not reused
    np.testing.assert_allclose(embeds, retrieval.image_embeddings([image])[0], rtol=1e-5, atol=1e-6)
