"""Streamed captions: the phrases come while the caption is written, in order, joined they are
the caption, their tokens are exactly the stock `model.generate`'s, and Stop still cuts at the
next token."""

from __future__ import annotations

import dataclasses
import threading

import pytest
import torch
from PIL import Image

from desktop_app.models import vision_catalog as catalog
from desktop_app.vision import loader
from desktop_app.vision.phrases import PhraseSplitter
from desktop_app.vision.session import Cancelled, ImageSession, streaming_settings
from testkit import demo_scenes

KINDS = ["blip2-opt", "blip2-t5", "instructblip-t5", "instructblip-llm", "blip-pair"]
# Random tiny weights stop at random points: force a length so there is something to stream.
LONG = {"num_beams": 1, "max_new_tokens": 12, "min_new_tokens": 12}
DEMO = "desktop_app/resources/models/shapes-demo"


@pytest.fixture(scope="module")
def loaded_models(tiny_model_dirs):
    return {kind: loader.load_model(catalog.resolve(str(tiny_model_dirs[kind])), precision="fp32") for kind in KINDS}


@pytest.fixture(scope="module")
def demo():
    return loader.load_model(catalog.resolve(DEMO), precision="fp32")


def _picture(seed: int) -> Image.Image:
    generator = torch.Generator().manual_seed(seed)
    array = (torch.rand(40, 48, 3, generator=generator) * 255).to(torch.uint8).numpy()
    return Image.fromarray(array, "RGB")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("settings", [LONG, streaming_settings(catalog.resolve("blip2-opt-2.7b").caption_generation)],
                         ids=["forced-length", "catalog-caption"])
def test_streamed_tokens_equal_stock_generate(loaded_models, kind, settings):
    """Each token reaches the stream as it is made, and the streamed ids are the stock
    generate's with the same settings (the cached path stays exact while streaming)."""
    loaded = loaded_models[kind]
    session = ImageSession(loaded, _picture(3))
    seen: list[list[int]] = []
    streamed = session.token_ids(loaded.spec.caption_prompt, settings, caption=True,
                                 on_tokens=lambda ids: seen.append(list(ids)))
    reference = session.reference_ids(loaded.spec.caption_prompt, settings, caption=True)
    assert streamed == reference
    assert seen, "no token was streamed"
    # One call per token, each one token longer than the last, ending with the whole caption's new ids.
    assert [len(ids) for ids in seen] == list(range(1, len(seen) + 1))
    assert seen[-1] == reference[len(reference) - len(seen[-1]):]


def _wordy(loaded) -> dict:
    """LONG, with the tokens that make random tiny weights write nothing worth saying banned:
    special tokens, and the words that start an invented next question."""
    tokenizer = loaded.processor.tokenizer
    banned = set(tokenizer.all_special_ids)
    for word in ("question", "answer", "short", ":", ".", "?", "\n"):
        banned.update(tokenizer(word, add_special_tokens=False).input_ids)
    banned.discard(tokenizer.unk_token_id)
    return {**LONG, "repetition_penalty": 3.0, "bad_words_ids": [[i] for i in sorted(banned)]}


@pytest.mark.parametrize("kind", KINDS)
def test_caption_stream_gives_the_caption_in_phrases(loaded_models, kind):
    loaded = loaded_models[kind]
    session = ImageSession(loaded, _picture(4))
    session.spec = dataclasses.replace(session.spec, caption_generation=_wordy(loaded))
    phrases: list[str] = []
    caption = session.caption_stream(phrases.append)
    assert len(caption.split()) >= 6, caption
    assert len(phrases) >= 2 and " ".join(phrases) == caption
    assert session.tokens["caption"] == 12
    assert 0 < session.timings_ms["first_word"] <= session.timings_ms["caption"] + session.timings_ms["encode"] + 1e3
    # The same caption as caption() and as the stock generate with the streaming settings.
    again = ImageSession(loaded, _picture(4))
    again.spec = session.spec
    assert again.caption() == caption
    decoded = loaded.processor.tokenizer.decode(
        again.reference_ids(loaded.spec.caption_prompt, again.caption_settings()), skip_special_tokens=True)
    assert caption.rstrip(".").lower().split()[-1] in decoded.lower()


def test_demo_caption_phrases_come_in_order_before_the_caption_ends(demo):
    """On the shipped demo model: the first phrase is out while tokens are still being made."""
    scene = demo_scenes.compose([("red", "circle"), ("blue", "square"), ("green", "triangle")], sign="stop")
    session = ImageSession(demo, scene.render())
    events: list[tuple[str, object]] = []
    target = demo.model.language_model
    handle = target.register_forward_hook(lambda *_: events.append(("token", None)))
    try:
        caption = session.caption_stream(lambda p: events.append(("phrase", p)))
    finally:
        handle.remove()
    phrases = [p for what, p in events if what == "phrase"]
    assert caption.lower().rstrip(".") == scene.caption()
    assert " ".join(phrases) == caption
    assert len(phrases) >= 3
    assert phrases[0] == "A red circle,"
    first = next(i for i, (what, _) in enumerate(events) if what == "phrase")
    tokens_after_first = sum(1 for what, _ in events[first:] if what == "token")
    assert tokens_after_first >= 5, "the first phrase waited for the whole caption"


@pytest.mark.parametrize("kind", KINDS)
def test_stop_mid_stream_cuts_within_one_token(loaded_models, kind):
    loaded = loaded_models[kind]
    cancel = threading.Event()
    session = ImageSession(loaded, _picture(5), cancel=cancel)
    session.spec = dataclasses.replace(session.spec, caption_generation={
        **_wordy(loaded), "max_new_tokens": 30, "min_new_tokens": 30})
    tokens_at_stop: list[int] = []
    counted: list[int] = []
    tokenizer = loaded.processor.tokenizer
    real_decode = tokenizer.decode

    def counting_decode(ids, *args, **kwargs):  # called once per streamed token
        counted.append(len(ids))
        return real_decode(ids, *args, **kwargs)

    def on_phrase(phrase: str) -> None:
        if not tokens_at_stop:
            tokens_at_stop.append(counted[-1])
            cancel.set()

    tokenizer.decode = counting_decode
    try:
        with pytest.raises(Cancelled):
            session.caption_stream(on_phrase)
    finally:
        del tokenizer.decode
    assert tokens_at_stop, "no phrase came before the end"
    assert counted[-1] - tokens_at_stop[0] <= 1, f"{counted[-1] - tokens_at_stop[0]} tokens after Stop"
    assert counted[-1] < 30


def test_phrase_splitter_cuts_at_pauses_and_keeps_whole_words():
    said: list[str] = []
    splitter = PhraseSplitter(said.append)
    text = ""
    for piece in ["a", " red", " circ", "le", ",", " a", " blue", " square", " and", " a", " sign",
                  " that", " says", " stop", " on", " a", " white", " background"]:
        text += piece
        splitter.feed(text)
        # Never a part of a word: every phrase said so far is made of words the text has whole.
        assert all(not p.endswith(("circ", "squ")) for p in said)
    assert said[:2] == ["A red circle,", "a blue square"]
    splitter.finish("A red circle, a blue square and a sign that says stop on a white background.")
    assert " ".join(said) == "A red circle, a blue square and a sign that says stop on a white background."
    assert said[2].startswith("and ")
    assert all(len(p.split()) <= 11 for p in said)


def test_a_length_cut_does_not_end_on_a_word_that_leans_on_the_next():
    said: list[str] = []
    splitter = PhraseSplitter(said.append)
    splitter.feed("a screenshot of a computer screen showing a window")
    assert said and said[0] == "A screenshot of a computer"  # not "A screenshot of a"
    splitter.finish("A screenshot of a computer screen showing a window.")
    assert " ".join(said) == "A screenshot of a computer screen showing a window."


def test_an_invented_next_question_is_never_said():
    said: list[str] = []
    splitter = PhraseSplitter(said.append)
    splitter.feed("a red circle on a white background\nQuestion: what")
    splitter.finish("A red circle on a white background.")
    assert "Question" not in " ".join(said) and "what" not in " ".join(said)
    assert " ".join(said) == "A red circle on a white background."
