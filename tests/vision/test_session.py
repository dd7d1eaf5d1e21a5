"""ImageSession: the cached path gives exactly what the stock generate gives, for every kind;
follow-ups see earlier answers; cancellation stops generation at once."""

from __future__ import annotations

import dataclasses
import threading

import pytest
import torch
from PIL import Image

from desktop_app.models import vision_catalog as catalog
from desktop_app.vision import loader
from desktop_app.vision.session import Cancelled, ImageSession

KINDS = ["blip2-opt", "blip2-t5", "instructblip-t5", "instructblip-llm", "blip-pair"]
BEAMS = {"num_beams": 3, "max_new_tokens": 8}
GREEDY = {"num_beams": 1, "max_new_tokens": 8}


@pytest.fixture(scope="module")
def loaded_models(tiny_model_dirs):
    return {kind: loader.load_model(catalog.resolve(str(tiny_model_dirs[kind])), precision="fp32") for kind in KINDS}


def _picture(seed: int) -> Image.Image:
    generator = torch.Generator().manual_seed(seed)
    array = (torch.rand(40, 48, 3, generator=generator) * 255).to(torch.uint8).numpy()
    return Image.fromarray(array, "RGB")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("settings", [GREEDY, BEAMS], ids=["greedy", "beams"])
def test_cached_path_matches_stock_generate(loaded_models, kind, settings):
    loaded = loaded_models[kind]
    session = ImageSession(loaded, _picture(1))
    assert loaded.spec.kind == kind
    prompts = [("", True), ("what colour is the circle ?", False),
               (loaded.spec.prompt_for("how many", [("what colour", "red")]), False)]
    for prompt, caption in prompts:
        if kind == "blip-pair" and not caption:
            prompt = "what colour is the circle ?"
        ours = session.token_ids(prompt, settings, caption=caption)
        reference = session.reference_ids(prompt, settings, caption=caption)
        assert ours == reference, f"{kind} {prompt!r}"
        assert len(ours) > 0


@pytest.mark.parametrize("settings", [GREEDY, BEAMS], ids=["greedy", "beams"])
def test_a_conversation_reuses_its_prompt_prefix_and_still_matches_stock_generate(loaded_models, settings):
    """BLIP-2 OPT keeps the keys/values of the picture tokens and earlier turns: each follow-up
    runs only its new tokens, and still says exactly what the stock generate says for its prompt."""
    loaded = loaded_models["blip2-opt"]
    spec = loaded.spec
    session = ImageSession(loaded, _picture(6))
    session.spec = spec = dataclasses.replace(spec, answer_generation=settings)
    reused = []
    for question in ("what colour ?", "how many ?", "is there a star ?", "what shape ?"):
        prompt = spec.prompt_for(question, session._context)
        expected = session.reference_ids(prompt, settings, caption=False)
        session.ask(question)
        assert session._last_ids == expected, question
        reused.append(session._prefix.reused_tokens)
    image_tokens = loaded.model.config.num_query_tokens
    assert reused[0] == 0  # nothing to reuse on the first question
    # Later questions reuse the picture tokens and every earlier turn up to the last answer.
    assert all(r > image_tokens for r in reused[1:])
    assert reused[1] < reused[2] < reused[3]


def test_a_stopped_answer_leaves_the_conversation_intact(loaded_models):
    loaded = loaded_models["blip2-opt"]
    session = ImageSession(loaded, _picture(7))
    session.ask("what colour ?")
    calls = []  # stop in the middle of the next answer: the prefix run, then two tokens

    def stop_on_third_call(*_args):
        calls.append(1)
        if len(calls) == 3:
            session.cancel.set()

    hook = loaded.model.language_model.register_forward_hook(stop_on_third_call)
    try:
        with pytest.raises(Cancelled):
            session.ask("how many ?")
    finally:
        hook.remove()
    session.cancel.clear()
    prompt = loaded.spec.prompt_for("is there a star ?", session._context)
    expected = session.reference_ids(prompt, loaded.spec.answer_generation, caption=False)
    session.ask("is there a star ?")
    assert session._last_ids == expected


@pytest.mark.parametrize("kind", KINDS)
def test_vision_runs_once_per_picture(loaded_models, kind):
    loaded = loaded_models[kind]
    model = loaded.model
    calls = []
    handle = model.vision_model.register_forward_hook(lambda *a: calls.append(1))
    try:
        session = ImageSession(loaded, _picture(2))
        session.caption()
        for q in ("what colour ?", "how many ?", "is there a star ?"):
            session.ask(q)
    finally:
        handle.remove()
    assert len(calls) == 1
    assert [q for q, _ in session.history] == ["what colour ?", "how many ?", "is there a star ?"]


def test_features_belong_to_their_own_picture(loaded_models):
    loaded = loaded_models["blip2-opt"]
    first, second = ImageSession(loaded, _picture(3)), ImageSession(loaded, _picture(4))
    first.caption()
    second.caption()
    assert not torch.equal(first._features["main"], second._features["main"])


def test_follow_up_prompt_carries_earlier_answers(loaded_models):
    loaded = loaded_models["blip2-opt"]
    session = ImageSession(loaded, _picture(5))
    first = session.ask("what colour ?")
    prompts = []
    original = session._run
    session._run = lambda prompt, *a, **k: prompts.append(prompt) or original(prompt, *a, **k)
    session.ask("how many ?")
    fmt = loaded.spec.question_format
    assert prompts[0].startswith(fmt.format(question="what colour ?") + " " + first.rstrip(".").lower())
    assert prompts[0].endswith(fmt.format(question="how many ?"))
    assert prompts[0].count("what colour") == 1


@pytest.mark.parametrize("kind", KINDS)
def test_cancel_stops_within_one_token(loaded_models, kind):
    """Cancelling while the model writes a caption or an answer stops it at the next token:
    caption() and ask() raise Cancelled themselves, after at most one more step."""
    loaded = loaded_models[kind]
    cancel = threading.Event()
    session = ImageSession(loaded, _picture(6), cancel=cancel)
    long_run = {"num_beams": 1, "max_new_tokens": 30, "min_new_tokens": 30}
    session.spec = dataclasses.replace(session.spec, caption_generation=long_run, answer_generation=long_run)
    session.encode()
    steps = []

    def on_step(*_):
        steps.append(1)
        if len(steps) == 2:
            cancel.set()

    def decoder(model):
        return model.text_decoder if kind == "blip-pair" else model.language_model

    runs = [(session.caption, decoder(loaded.model)),
            (lambda: session.ask("what colour is it ?"), decoder(loaded.vqa_model or loaded.model))]
    for run, target in runs:
        steps.clear()
        cancel.clear()
        handle = target.register_forward_hook(on_step)
        try:
            with pytest.raises(Cancelled):
                run()
        finally:
            handle.remove()
        # Cancelled during the second step: that step finishes, at most one more runs.
        assert 2 <= len(steps) <= 3, f"{len(steps)} steps ran after a cancel at step 2"


def test_empty_question_is_refused(loaded_models):
    session = ImageSession(loaded_models["blip2-t5"], _picture(7))
    with pytest.raises(ValueError):
        session.ask("   ")


def test_prompt_ids_match_the_processor(loaded_models):
    for kind in ("blip2-opt", "blip2-t5", "instructblip-llm"):
        loaded = loaded_models[kind]
        session = ImageSession(loaded, _picture(8))
        prompt = "Question: what colour ? Answer:"
        expected = loaded.processor(images=_picture(8), text=prompt, return_tensors="pt")["input_ids"][0].tolist()
        assert session.prompt_ids(prompt)[0].tolist() == expected
