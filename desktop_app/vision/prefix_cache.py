"""Keep the language model's keys and values for the part of a prompt a conversation repeats.

A BLIP-2 OPT prompt is the picture's 32 query tokens, then the text; a follow-up's text starts
with the earlier questions and answers. Everything up to the first token that differs from
the last prompt has already been through the language model, so its keys and values are kept
after each request and `generate` runs only the new tokens: one pass over about ten tokens
instead of fifty, and for beam search ten tokens per beam instead of fifty per beam.

Only for decoder-only models whose picture tokens do not depend on the prompt (BLIP-2 OPT):
FlanT5 reads the prompt with a bidirectional encoder and InstructBLIP's Q-Former reads the
question, so nothing of theirs can be carried over.
"""

from __future__ import annotations

import inspect
from typing import Any


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class PrefixCache:
    """The key/value cache of the last prompt of one picture's conversation."""

    def __init__(self, language_model: Any, image_tokens: int) -> None:
        # transformers 5.x renamed `past_key_values` to `cache` (the old name still works, with a warning).
        self.kwarg = "cache" if "cache" in inspect.signature(language_model.forward).parameters else "past_key_values"
        self.image_tokens = image_tokens  # the leading positions that only the kept cache can supply
        self.ids: list[int] = []
        self._cache: Any = None
        self.reused_tokens = 0  # of the last prompt, for tests and benchmarks

    def generate_inputs(self, input_ids: Any, embeds: Any, beams: int) -> dict[str, Any]:
        """`generate` inputs for this prompt (batch size one): with the kept keys and values of
        the prefix it shares with the last prompt, or the whole prompt's embeddings if none fit."""
        ids = input_ids[0].tolist()
        keep = common_prefix(self.ids, ids[:-1])  # generate must be left at least one token to run
        # generate grows the cache in place: it is kept again only when the request completes.
        cache, self._cache, self.ids = self._cache, None, []
        if cache is None or keep < self.image_tokens:
            self.reused_tokens = 0
            return {"inputs_embeds": embeds, "input_ids": input_ids}
        self.reused_tokens = keep
        if cache.get_seq_length() > keep:
            cache.crop(keep - cache.get_seq_length())  # negative: drop that many from the end
        if beams > 1:
            cache.batch_repeat_interleave(beams)
        return {"input_ids": input_ids, self.kwarg: cache}

    def keep(self, output: Any, input_ids: Any) -> None:
        """Keep the keys and values of this prompt from a finished `generate(...,
        return_dict_in_generate=True)`; every beam holds the same prompt, the first is taken."""
        import torch

        cache = getattr(output, "cache", None) or getattr(output, "past_key_values", None)
        if cache is None or not hasattr(cache, "crop"):
            return
        if cache.layers[0].keys.shape[0] > 1:  # beam search: one row per beam
            cache.batch_select_indices(torch.tensor([0], device=output.sequences.device))
        length = input_ids.shape[1]
        if cache.get_seq_length() > length:
            cache.crop(length - cache.get_seq_length())
        self._cache, self.ids = cache, input_ids[0].tolist()
