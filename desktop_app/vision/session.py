"""Describe one picture and answer any number of questions about it: encode once, ask many.

The expensive part of a BLIP-2 call is the vision transformer (about a billion parameters for
the real models). `model.generate(pixel_values=...)` re-runs it for every question; an
ImageSession runs it once per picture and keeps what can be kept:

- BLIP-2 (OPT or FlanT5): the projected Q-Former output, ready to drop into the prompt.
- InstructBLIP: only the vision transformer's output, because its Q-Former reads the prompt.
- BLIP pair: each model's vision output (the caption and the VQA model have their own ViT).

For BLIP-2 OPT it also keeps the language model's keys and values of the last prompt
(prefix_cache.py), so a follow-up runs only the tokens its prompt adds.

Captions are streamed: `caption_stream(on_phrase)` hands out the caption's first phrase while
the rest is still being written (vision/phrases.py cuts them), so the user hears the first
words after a few tokens instead of after the whole caption. Streaming needs one running
sequence, so captions are decoded greedily (`streaming_settings`: the catalog's beams become
one; repetition penalty and length limits stay): on the demo model greedy captions scored as
well as 5 beams (bench/first_word.py; docs/benchmarks.md, "First words early").

Its token ids equal those of the reference `model.generate` with the same settings, streamed
or not (the tests check this in fp32 for every kind; in half precision the kept prefix rounds
a little differently from a single pass). All methods run on the thread that loaded the model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from desktop_app.models import vision_catalog as catalog
from desktop_app.vision.loader import LoadedModel
from desktop_app.vision.phrases import PhraseSplitter
from desktop_app.vision.prefix_cache import PrefixCache
from desktop_app.vision.text import clean_output

# Settings that only mean something with several beams; a streamed caption has one sequence.
_BEAM_ONLY_SETTINGS = ("length_penalty", "early_stopping", "num_beam_groups", "diversity_penalty",
                       "num_return_sequences", "constraints", "force_words_ids")


def streaming_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """`settings` for a caption that can be spoken while it is written: greedy (one beam), with
    the limits and the repetition penalty kept. Sampling settings are kept as they are."""
    kept = {k: v for k, v in settings.items() if k not in _BEAM_ONLY_SETTINGS}
    kept["num_beams"] = 1
    return kept


class _TokenStream:
    """A transformers streamer: `generate` hands it the prompt first, then each new token."""

    def __init__(self, on_tokens: Callable[[list[int]], None]) -> None:
        self.on_tokens = on_tokens
        self.ids: list[int] = []
        self._prompt_seen = False
        self.also: Any = None  # a streamer the settings asked for (the benchmarks' clock) gets every call too

    def joined(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """generate() arguments with this streamer in them (and any the settings had, behind it)."""
        self.also = kwargs.pop("streamer", None)
        return {**kwargs, "streamer": self}

    def put(self, value: Any) -> None:
        if self.also is not None:
            self.also.put(value)
        if not self._prompt_seen:
            self._prompt_seen = True  # generate's first put is the prompt (or the decoder's start)
            return
        self.ids.extend(int(v) for v in value.reshape(-1).tolist())
        self.on_tokens(self.ids)

    def end(self) -> None:
        if self.also is not None:
            self.also.end()


class Cancelled(Exception):
    """The request was cancelled while the model was working."""

    def __init__(self) -> None:
        super().__init__("Stopped.")


def _cancel_criteria(event: threading.Event | None) -> Any:
    """A StoppingCriteria that ends generation at the next token once `event` is set."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    if event is None:
        return None

    class _EventCriteria(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return torch.full((input_ids.shape[0],), event.is_set(), dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([_EventCriteria()])


class ImageSession:
    """One picture, encoded once, with its caption and the conversation about it."""

    def __init__(self, loaded: LoadedModel, image: Any, cancel: threading.Event | None = None,
                 arrived: float | None = None) -> None:
        self.arrived = time.perf_counter() if arrived is None else arrived  # when the picture came
        self.loaded = loaded
        self.spec = loaded.spec
        self.image = image
        self.cancel = cancel or threading.Event()
        self.history: list[tuple[str, str]] = []  # (question, answer as spoken)
        self._context: list[tuple[str, str]] = []  # (question, answer as generated) for prompts
        self._last_raw = ""
        self._last_ids: list[int] = []  # the last request's generated token ids
        self._last_new_tokens = 0  # how many tokens the last request generated
        self.timings_ms: dict[str, float] = {"encode": 0.0, "caption": 0.0, "answers": 0.0}
        # Tokens generated: the caption's, and each answer's in order.
        self.tokens: dict[str, Any] = {"caption": 0, "answers": []}
        self._pixels: dict[str, Any] = {}
        self._features: dict[str, Any] = {}
        self._pending_encode_ms = 0.0  # encode time inside the call being timed
        self._prefix: PrefixCache | None = None  # BLIP-2 OPT: keys/values of the repeated prompt prefix

    # ---- public API -------------------------------------------------------------------------

    def caption(self) -> str:
        """A one-sentence description of the picture. Raises Cancelled."""
        return self.caption_stream(None)

    def caption_stream(self, on_phrase: Callable[[str], None] | None) -> str:
        """The caption, as caption() gives it, with `on_phrase` called (on this thread) with each
        phrase as soon as it is written; the phrases joined with spaces are the caption. The
        first phrase's time since the picture arrived is timings_ms["first_word"]. Raises
        Cancelled (at the next token once `cancel` is set; phrases already handed out stay so)."""
        start = time.perf_counter()
        # Only the new tokens are streamed, so a BLIP caption prompt ("a picture of") is not echoed.
        splitter = PhraseSplitter(self._timed(on_phrase))
        tokenizer = self.loaded.processor.tokenizer

        def on_tokens(ids: list[int]) -> None:
            splitter.feed(tokenizer.decode(ids, skip_special_tokens=True))

        settings = self.caption_settings()
        try:
            text = self._run(self.spec.caption_prompt, settings, caption=True, stream=_TokenStream(on_tokens))
        finally:
            self.timings_ms["caption"] += (time.perf_counter() - start) * 1000 - self._take_encode_time()
        self.tokens["caption"] = self._last_new_tokens
        splitter.finish(text)
        # An empty caption has no phrase: its first word is "ready" when it is.
        self.timings_ms.setdefault("first_word", (time.perf_counter() - self.arrived) * 1000)
        return text

    def caption_settings(self) -> dict[str, Any]:
        """The generate() settings of a caption: the model's, decoded so that it can be streamed."""
        return streaming_settings(self.spec.caption_generation)

    def _timed(self, on_phrase: Callable[[str], None] | None) -> Callable[[str], None]:
        def said(phrase: str) -> None:
            if "first_word" not in self.timings_ms:
                self.timings_ms["first_word"] = (time.perf_counter() - self.arrived) * 1000
            if on_phrase is not None:
                on_phrase(phrase)

        return said

    def ask(self, question: str) -> str:
        """Answer a question; earlier questions and answers are context. Raises Cancelled."""
        question = " ".join(question.split())
        if not question:
            raise ValueError("The question is empty.")
        start = time.perf_counter()
        try:
            prompt = self.spec.prompt_for(question, self._context)
            answer = self._run(prompt, self.spec.answer_generation, caption=False, question=question)
        finally:
            self.timings_ms["answers"] += (time.perf_counter() - start) * 1000 - self._take_encode_time()
        self.tokens["answers"].append(self._last_new_tokens)
        self.history.append((question, answer))
        # Follow-up prompts carry the answer as the model wrote it, not as we tidied it for speech.
        self._context.append((question, self._last_raw))
        return answer

    def release_prefix(self) -> None:
        """Drop the kept keys and values (tens of MB for a real model); the next request about
        this picture runs its whole prompt again and keeps them anew."""
        self._prefix = None

    def encode(self) -> None:
        """Run the vision part now (otherwise it runs on the first caption or question)."""
        self._vision_for("caption" if self.spec.kind == catalog.BLIP_PAIR else "main")
        self._take_encode_time()

    # ---- generation --------------------------------------------------------------------------

    def generation_kwargs(self, settings: dict[str, Any], which: str = "main") -> dict[str, Any]:
        """The exact generate() arguments for this model; used by the reference path too."""
        refused = catalog.CODE_LOADING_SETTINGS & settings.keys()
        if refused:
            # Checked when lookaloud.json is read; this keeps code-loading settings out of generate()
            # whichever way a spec was built.
            raise ValueError(f"The generation setting {min(refused)} would run code, so Lookaloud refuses it.")
        kwargs = dict(settings)
        if self.spec.kind in (catalog.BLIP2_OPT, catalog.INSTRUCTBLIP_LLM) and "eos_token_id" not in kwargs:
            # LAVIS stops OPT at a newline: otherwise it rambles on into an invented next question.
            tokenizer = self.loaded.processor.tokenizer
            newline = tokenizer("\n", add_special_tokens=False).input_ids
            eos = self.loaded.model.language_model.generation_config.eos_token_id
            eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
            if len(newline) == 1 and newline[0] != tokenizer.unk_token_id and newline[0] not in eos_ids:
                eos_ids.append(newline[0])
            if eos_ids:
                kwargs["eos_token_id"] = eos_ids
        criteria = _cancel_criteria(self.cancel)
        if criteria is not None:
            kwargs["stopping_criteria"] = criteria
        return kwargs

    def _run(self, prompt: str, settings: dict[str, Any], caption: bool, question: str = "",
             stream: _TokenStream | None = None) -> str:
        if self.cancel.is_set():
            raise Cancelled()
        kind = self.spec.kind
        if kind == catalog.BLIP_PAIR:
            ids, truncated, echo = self._generate_blip(prompt if caption else question, settings, caption, stream)
            tokenizer = self.loaded.processor.tokenizer if caption else self.loaded.vqa_processor.tokenizer
        else:
            ids, truncated = self._generate_blip2(prompt, settings, stream)
            tokenizer = self.loaded.processor.tokenizer
            echo = ""
        if self.cancel.is_set():
            raise Cancelled()
        self._last_ids = ids
        text = tokenizer.decode(ids, skip_special_tokens=True)
        self._last_raw = clean_output(text, prompt=echo, truncated=truncated, as_sentence=False)
        return clean_output(text, prompt=echo, truncated=truncated)

    def token_ids(self, prompt: str, settings: dict[str, Any], caption: bool = True,
                  on_tokens: Callable[[list[int]], None] | None = None) -> list[int]:
        """Raw generated ids through the cached path (compare with reference_ids); with
        `on_tokens`, streamed: it is called with the new ids so far after every token."""
        stream = _TokenStream(on_tokens) if on_tokens is not None else None
        if self.spec.kind == catalog.BLIP_PAIR:
            return self._generate_blip(prompt, settings, caption, stream)[0]
        return self._generate_blip2(prompt, settings, stream)[0]

    def _pixel_values(self, which: str) -> Any:
        if which not in self._pixels:
            processor = self.loaded.vqa_processor if which == "vqa" else self.loaded.processor
            px = processor.image_processor(images=self.image, return_tensors="pt")["pixel_values"]
            self._pixels[which] = px.to(self.loaded.model.device, self.loaded.dtype)
        return self._pixels[which]

    def _vision_for(self, which: str) -> Any:
        """The cached vision output for this picture, computed on first use."""
        import torch

        if which in self._features:
            return self._features[which]
        start = time.perf_counter()
        px = self._pixel_values(which)
        kind = self.spec.kind
        with torch.inference_mode():
            if kind in (catalog.BLIP2_OPT, catalog.BLIP2_T5):
                feats = self.loaded.model.get_image_features(pixel_values=px, return_dict=True).pooler_output
            elif kind in (catalog.INSTRUCTBLIP_T5, catalog.INSTRUCTBLIP_LLM):
                feats = self.loaded.model.vision_model(pixel_values=px, return_dict=True).last_hidden_state
            else:
                model = self.loaded.vqa_model if which == "vqa" else self.loaded.model
                feats = model.vision_model(pixel_values=px)[0]
        self._features[which] = feats
        elapsed = (time.perf_counter() - start) * 1000
        self._pending_encode_ms += elapsed
        self.timings_ms["encode"] += elapsed
        return feats

    def _take_encode_time(self) -> float:
        ms = self._pending_encode_ms
        self._pending_encode_ms = 0.0
        return ms

    def prompt_ids(self, prompt: str) -> Any:
        """Image placeholder tokens followed by the tokenized prompt, as the processor builds them."""
        import torch

        model = self.loaded.model
        tokenizer = self.loaded.processor.tokenizer
        image_ids = [model.config.image_token_id] * model.config.num_query_tokens
        text_ids = tokenizer(prompt, add_special_tokens=True).input_ids
        return torch.tensor([image_ids + list(text_ids)], dtype=torch.long, device=model.device)

    def _language_inputs(self, prompt: str) -> tuple[Any, Any, Any]:
        """inputs_embeds, attention_mask and input_ids for the language model."""
        import torch

        model = self.loaded.model
        kind = self.spec.kind
        input_ids = self.prompt_ids(prompt)
        if kind in (catalog.BLIP2_OPT, catalog.BLIP2_T5):
            image_features = self._vision_for("main")
        else:
            image_embeds = self._vision_for("main")
            qformer_inputs = self.loaded.processor.qformer_tokenizer(prompt, return_tensors="pt").to(model.device)
            image_features = self._instruct_query_features(image_embeds, qformer_inputs)
        embeds = model.get_input_embeddings()(input_ids)
        mask = input_ids == model.config.image_token_id
        embeds = embeds.masked_scatter(mask.unsqueeze(-1), image_features.to(embeds.device, embeds.dtype))
        attention = torch.ones_like(input_ids)
        return embeds, attention, input_ids

    def _instruct_query_features(self, image_embeds: Any, qformer_inputs: Any) -> Any:
        """InstructBLIP's Q-Former over cached ViT output and the prompt (mirrors get_image_features)."""
        import torch

        model = self.loaded.model
        image_attention_mask = torch.ones(image_embeds.size()[:-1], dtype=torch.long, device=image_embeds.device)
        query_tokens = model.query_tokens.expand(image_embeds.shape[0], -1, -1)
        query_attention_mask = torch.ones(query_tokens.size()[:-1], dtype=torch.long, device=image_embeds.device)
        qformer_attention_mask = torch.cat([query_attention_mask, qformer_inputs["attention_mask"]], dim=1)
        out = model.qformer(
            input_ids=qformer_inputs["input_ids"],
            attention_mask=qformer_attention_mask,
            query_embeds=query_tokens,
            encoder_hidden_states=image_embeds,
            encoder_attention_mask=image_attention_mask,
            return_dict=True,
        )
        query_output = out[0][:, : query_tokens.size(1), :]
        if query_output.dtype != image_embeds.dtype:
            query_output = query_output.to(image_embeds.dtype)
        return model.language_projection(query_output)

    def _generate_blip2(self, prompt: str, settings: dict[str, Any],
                        stream: _TokenStream | None = None) -> tuple[list[int], bool]:
        import torch

        model = self.loaded.model
        kwargs = self.generation_kwargs(settings)
        if stream is not None:
            kwargs = stream.joined(kwargs)
        with torch.inference_mode():
            embeds, attention, input_ids = self._language_inputs(prompt)
            inputs: dict[str, Any] = {"inputs_embeds": embeds, "attention_mask": attention}
            decoder_only = not model.language_model.config.is_encoder_decoder
            if decoder_only:
                inputs["input_ids"] = input_ids
            if self.spec.kind != catalog.BLIP2_OPT:
                out = model.language_model.generate(**inputs, **kwargs)
            else:
                # The prompt prefix this picture's last request shared comes from the kept keys/values.
                if self._prefix is None:
                    self._prefix = PrefixCache(model.language_model, model.config.num_query_tokens)
                beams = int(settings.get("num_beams", 1))
                inputs = {"attention_mask": attention, **self._prefix.generate_inputs(input_ids, embeds, beams)}
                result = model.language_model.generate(**inputs, **kwargs, return_dict_in_generate=True)
                if not self.cancel.is_set():
                    self._prefix.keep(result, input_ids)
                out = result.sequences
        ids = out[0].tolist()
        if decoder_only:
            ids = ids[input_ids.shape[1]:]  # generate echoes the prompt ids
            self._last_new_tokens = len(ids)
        else:
            self._last_new_tokens = len(ids) - 1  # after the decoder's start token
        return ids, self._hit_limit(ids, settings)

    def _generate_blip(self, text: str, settings: dict[str, Any], caption: bool,
                       stream: _TokenStream | None = None) -> tuple[list[int], bool, str]:
        """BLIP captioning / VQA from cached vision output (mirrors BlipFor*.generate)."""
        import torch

        which = "caption" if caption else "vqa"
        model = self.loaded.model if caption else self.loaded.vqa_model
        processor = self.loaded.processor if caption else self.loaded.vqa_processor
        image_embeds = self._vision_for(which)
        image_mask = torch.ones(image_embeds.size()[:-1], dtype=torch.long, device=image_embeds.device)
        cfg = model.config.text_config
        kwargs = self.generation_kwargs(settings, which)
        if stream is not None:
            kwargs = stream.joined(kwargs)
        with torch.inference_mode():
            if caption:
                if text:
                    ids = processor.tokenizer(text, return_tensors="pt").input_ids.to(model.device)
                else:
                    ids = torch.tensor([[cfg.bos_token_id, cfg.eos_token_id]], device=model.device)
                ids[:, 0] = cfg.bos_token_id
                out = model.text_decoder.generate(
                    input_ids=ids[:, :-1], eos_token_id=cfg.sep_token_id, pad_token_id=cfg.pad_token_id,
                    encoder_hidden_states=image_embeds, encoder_attention_mask=image_mask, **kwargs,
                )
                result = out[0].tolist()
                self._last_new_tokens = len(result) - (ids.shape[1] - 1)
                return result, self._hit_limit(result[ids.shape[1] - 1:], settings), text
            q = processor.tokenizer(text, return_tensors="pt").to(model.device)
            question_embeds = model.text_encoder(
                input_ids=q.input_ids, attention_mask=q.attention_mask, encoder_hidden_states=image_embeds,
                encoder_attention_mask=image_mask, return_dict=False,
            )[0]
            question_mask = torch.ones(question_embeds.size()[:-1], dtype=torch.long, device=model.device)
            bos = torch.full((1, 1), model.decoder_start_token_id, device=model.device)
            out = model.text_decoder.generate(
                input_ids=bos, eos_token_id=cfg.sep_token_id, pad_token_id=cfg.pad_token_id,
                encoder_hidden_states=question_embeds, encoder_attention_mask=question_mask, **kwargs,
            )
        result = out[0].tolist()
        self._last_new_tokens = len(result) - 1
        return result, self._hit_limit(result[1:], settings), ""

    @staticmethod
    def _hit_limit(new_ids: list[int], settings: dict[str, Any]) -> bool:
        limit = settings.get("max_new_tokens")
        return bool(limit) and len(new_ids) >= int(limit)

    # ---- the reference path (tests and benchmarks) -------------------------------------------

    def reference_ids(self, prompt: str, settings: dict[str, Any], caption: bool = True) -> list[int]:
        """New token ids from the stock `model.generate(pixel_values=...)` with the same settings."""
        import torch

        model = self.loaded.model if caption or self.spec.kind != catalog.BLIP_PAIR else self.loaded.vqa_model
        which = "vqa" if (self.spec.kind == catalog.BLIP_PAIR and not caption) else (
            "caption" if self.spec.kind == catalog.BLIP_PAIR else "main")
        px = self._pixel_values(which)
        kwargs = self.generation_kwargs(settings, which)
        with torch.inference_mode():
            if self.spec.kind == catalog.BLIP_PAIR:
                processor = self.loaded.processor if caption else self.loaded.vqa_processor
                if caption and not prompt:
                    return model.generate(pixel_values=px, **kwargs)[0].tolist()
                enc = processor.tokenizer(prompt, return_tensors="pt").to(model.device)
                if caption:
                    return model.generate(pixel_values=px, input_ids=enc.input_ids, **kwargs)[0].tolist()
                return model.generate(input_ids=enc.input_ids, pixel_values=px, attention_mask=enc.attention_mask,
                                      **kwargs)[0].tolist()
            input_ids = self.prompt_ids(prompt)
            extra: dict[str, Any] = {}
            if self.spec.kind in (catalog.INSTRUCTBLIP_T5, catalog.INSTRUCTBLIP_LLM):
                q = self.loaded.processor.qformer_tokenizer(prompt, return_tensors="pt").to(model.device)
                extra = {"qformer_input_ids": q.input_ids, "qformer_attention_mask": q.attention_mask}
            out = model.generate(pixel_values=px, input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                 **extra, **kwargs)
        ids = out[0].tolist()
        if not model.language_model.config.is_encoder_decoder:
            ids = ids[input_ids.shape[1]:]
        return ids
