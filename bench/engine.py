"""Benchmark of the vision engine on this computer's CPU (run by hand; never a test).

It builds a real-size blip2-opt-2.7b with random weights from configs (no download), saves it
once as bf16 safetensors outside the repository, and then, in a fresh process:

- loads it with `loader.load_model(..., precision="bf16")`, sampling resident memory while it
  loads, and compares the peak with the size of the weights on disk;
- encodes one picture (ViT-g + Q-Former);
- captions it (20 new tokens) and asks follow-up questions through `ImageSession`, and does
  the same work the naive way, one `model.generate(pixel_values=...)` per request
  (`ImageSession.reference_ids`, identical settings and prompts), side by side.

The weights are random, so generation would stop at random points: lengths are forced with
min_new_tokens = max_new_tokens and greedy decoding, so both paths produce the same number of
tokens (and, since the cached path is exact, the same tokens). Timing does not depend on the
weights' values.

    .venv/bin/python bench/engine.py                 # build once, then measure
    .venv/bin/python bench/engine.py --tiny          # a seconds-long dry run of the script
    .venv/bin/python bench/engine.py --skip-build --threads 2 --questions 3

It prints a Markdown table and writes the figures as JSON to bench/out/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # so `python bench/engine.py` finds desktop_app

DEFAULT_DIR = Path("/tmp/lookaloud-bench/blip2-opt-2.7b-random")
TINY_DIR = Path("/tmp/lookaloud-bench/blip2-opt-tiny-random")
OUT_DIR = REPO / "bench" / "out"
DONE_MARKER = "bench-build.json"  # written last, so a half-written folder is never reused

QUESTIONS = (
    "What colour is the button?",
    "Is there any text in the picture?",
    "How many windows are open?",
    "What is on the left side?",
    "Is there a person in the picture?",
)
# Real blip2-opt-2.7b shapes (its config.json): OPT-2.7b with the embedding padded to 50304,
# the GPT-2 BPE vocabulary of 50265 tokens and "<image>" at 50265.
OPT_TOKENS = 50265
OPT_EMBEDDING_ROWS = 50304
WORDS = [
    "a", "an", "the", "of", "and", "on", "in", "with", "is", "are", "there", "what", "colour", "color", "red",
    "green", "blue", "yellow", "white", "black", "button", "window", "windows", "text", "picture", "screen",
    "person", "left", "right", "side", "how", "many", "any", "open", "question", "short", "answer", "photo",
    "Question", "What", "Is", "How", "Short", ":", "?", ".",
]


# ---- building the random-weight model ---------------------------------------------------------

def _tokenizer(size: int) -> Any:
    """An OPT-like word-level tokenizer with `size` tokens ("</s>" first, like OPT), built offline."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["<s>", "<pad>", "</s>", "<unk>"]  # OPT's ids 0..3
    words = [*specials, *WORDS]
    words += [f"w{i}" for i in range(size - len(words))]
    vocab = {w: i for i, w in enumerate(words)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="</s> $A", special_tokens=[("</s>", 2)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="</s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>")


def _config(tiny: bool, image_token_id: int, vocab_rows: int) -> Any:
    """Blip2Config of blip2-opt-2.7b's real shapes, or a tiny one with the same structure."""
    from transformers import Blip2Config, Blip2QFormerConfig, Blip2VisionConfig, OPTConfig

    vision = Blip2VisionConfig(
        hidden_size=32 if tiny else 1408, intermediate_size=64 if tiny else 6144,
        num_hidden_layers=2 if tiny else 39, num_attention_heads=2 if tiny else 16,
        image_size=224, patch_size=14, qkv_bias=True, layer_norm_eps=1e-6,
    )
    qformer = Blip2QFormerConfig(
        hidden_size=32 if tiny else 768, intermediate_size=64 if tiny else 3072,
        num_hidden_layers=2 if tiny else 12, num_attention_heads=2 if tiny else 12,
        encoder_hidden_size=vision.hidden_size, cross_attention_frequency=2,
    )
    text = OPTConfig(
        vocab_size=vocab_rows, hidden_size=32 if tiny else 2560, word_embed_proj_dim=32 if tiny else 2560,
        ffn_dim=64 if tiny else 10240, num_hidden_layers=2 if tiny else 32, num_attention_heads=2 if tiny else 32,
        max_position_embeddings=2048, do_layer_norm_before=True, pad_token_id=1, bos_token_id=2, eos_token_id=2,
    )
    return Blip2Config(vision_config=vision.to_dict(), qformer_config=qformer.to_dict(), text_config=text.to_dict(),
                       num_query_tokens=32, image_token_index=image_token_id)


def build(folder: Path, tiny: bool) -> None:
    """Build and save the random-weight model (bf16 safetensors) and its processor."""
    import torch
    from transformers import Blip2ForConditionalGeneration, Blip2Processor
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

    torch.manual_seed(0)
    start = time.perf_counter()
    tokenizer = _tokenizer(200 if tiny else OPT_TOKENS)
    processor = Blip2Processor(BlipImageProcessorPil(size={"height": 224, "width": 224}), tokenizer,
                               num_query_tokens=32)
    image_token_id = tokenizer.convert_tokens_to_ids("<image>")
    rows = len(tokenizer) if tiny else OPT_EMBEDDING_ROWS
    config = _config(tiny, image_token_id, rows)
    # Built straight in bf16: an fp32 build of the real size would need 15 GB.
    model = Blip2ForConditionalGeneration._from_config(config, dtype=torch.bfloat16).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    params = sum(p.numel() for p in model.parameters())
    info = {"params": params, "build_s": round(time.perf_counter() - start, 1), "tiny": tiny}
    (folder / DONE_MARKER).write_text(json.dumps(info), encoding="utf-8")
    print(f"Built {params / 1e9:.2f} B parameters in {info['build_s']} s into {folder}", flush=True)


def _write_safetensors(path: Path, tensors: list[tuple[str, Any]], dtype: Any) -> None:
    """Write one safetensors file tensor by tensor, converting each to `dtype` only while it is
    written, so a 10 GB fp32 shard never sits in memory at once."""
    import struct

    import torch

    names = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16"}
    size = torch.empty((), dtype=dtype).element_size()
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, tensor in tensors:
        n = tensor.numel() * size
        header[name] = {"dtype": names[dtype], "shape": list(tensor.shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for _name, tensor in tensors:
            f.write(tensor.detach().to(dtype).contiguous().view(torch.uint8).numpy().tobytes())


def build_fp32_shards(folder: Path, tiny: bool, shard_bytes: int = 10_000_000_000) -> None:
    """Build the random-weight model in bf16 and save it as the published checkpoint is stored:
    float32 safetensors in shards of at most about 10 GB, with model.safetensors.index.json.
    Needs about 8 GB of memory for the real size (the bf16 model plus one fp32 tensor)."""
    import torch
    from transformers import Blip2ForConditionalGeneration, Blip2Processor
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

    torch.manual_seed(0)
    start = time.perf_counter()
    tokenizer = _tokenizer(200 if tiny else OPT_TOKENS)
    processor = Blip2Processor(BlipImageProcessorPil(size={"height": 224, "width": 224}), tokenizer,
                               num_query_tokens=32)
    image_token_id = tokenizer.convert_tokens_to_ids("<image>")
    rows = len(tokenizer) if tiny else OPT_EMBEDDING_ROWS
    config = _config(tiny, image_token_id, rows)
    model = Blip2ForConditionalGeneration._from_config(config, dtype=torch.bfloat16).eval()
    folder.mkdir(parents=True, exist_ok=True)
    seen: set[int] = set()
    tensors = []
    for name, tensor in model.state_dict().items():
        if tensor.data_ptr() in seen:  # tied weights are stored once, as save_pretrained does
            continue
        seen.add(tensor.data_ptr())
        tensors.append((name, tensor))
    shards: list[list[tuple[str, Any]]] = [[]]
    filled = 0
    for name, tensor in tensors:
        n = tensor.numel() * 4
        if shards[-1] and filled + n > shard_bytes:
            shards.append([])
            filled = 0
        shards[-1].append((name, tensor))
        filled += n
    weight_map = {}
    for i, shard in enumerate(shards, 1):
        file = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        _write_safetensors(folder / file, shard, torch.float32)
        weight_map.update({name: file for name, _ in shard})
    index = {"metadata": {"total_size": sum(t.numel() * 4 for _, t in tensors)}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=1), encoding="utf-8")
    config.dtype = "float32"
    config.save_pretrained(folder)
    model.generation_config.save_pretrained(folder)
    processor.save_pretrained(folder)
    params = sum(t.numel() for _, t in tensors)
    info = {"params": params, "build_s": round(time.perf_counter() - start, 1), "tiny": tiny, "dtype": "float32",
            "shards": len(shards)}
    (folder / DONE_MARKER).write_text(json.dumps(info), encoding="utf-8")
    print(f"Built {params / 1e9:.2f} B parameters (fp32, {len(shards)} shards) in {info['build_s']} s into {folder}",
          flush=True)


# ---- measuring --------------------------------------------------------------------------------

class MemorySampler(threading.Thread):
    """Samples this process's resident memory (total, anonymous, file-backed) every few ms."""

    def __init__(self, interval_s: float = 0.01) -> None:
        super().__init__(daemon=True)
        self.interval_s = interval_s
        self.peak = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0}
        self._stop_event = threading.Event()

    @staticmethod
    def read() -> dict[str, int]:
        """Bytes for VmRSS, RssAnon and RssFile from /proc/self/status."""
        values: dict[str, int] = {}
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "RssAnon", "RssFile"):
                    values[key] = int(rest.split()[0]) * 1024
        return values

    def run(self) -> None:
        while not self._stop_event.is_set():
            for key, value in self.read().items():
                self.peak[key] = max(self.peak[key], value)
            time.sleep(self.interval_s)

    def stop(self) -> dict[str, int]:
        self._stop_event.set()
        self.join()
        for key, value in self.read().items():
            self.peak[key] = max(self.peak[key], value)
        return self.peak


class TokenClock:
    """A generate() streamer that timestamps every new token (the first put() is the prompt)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.times: list[float] = []
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        self.times.append(time.perf_counter())

    def end(self) -> None:
        pass

    def summary(self) -> dict[str, float]:
        total = (time.perf_counter() - self.start) * 1000
        n = len(self.times)
        first = (self.times[0] - self.start) * 1000 if n else total
        per_token = (self.times[-1] - self.times[0]) * 1000 / (n - 1) if n > 1 else 0.0
        return {"ms": total, "tokens": n, "first_token_ms": first, "per_token_ms": per_token}


def _picture() -> Any:
    """A screen-like 1280x800 picture (its content does not change the cost)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1280, 800), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 1280, 40), fill=(40, 40, 90))
    draw.rectangle((100, 120, 600, 500), outline="black", width=3, fill=(220, 230, 250))
    draw.rectangle((700, 600, 900, 660), fill=(30, 150, 60))
    draw.text((720, 620), "Save", fill="white")
    draw.text((120, 140), "Lookaloud benchmark picture", fill="black")
    return image


def measure(folder: Path, threads: int, n_questions: int, caption_tokens: int, answer_tokens: int,
            repeats: int, beams: int = 1) -> dict[str, Any]:
    """Load (sampling memory) and time both paths; runs in a fresh process."""
    baseline = MemorySampler.read()  # before torch is imported
    import torch

    from desktop_app.models import vision_catalog as catalog
    from desktop_app.vision import loader
    from desktop_app.vision.session import ImageSession
    from desktop_app.vision.text import clean_output

    torch.set_num_threads(threads)
    after_import = MemorySampler.read()
    sampler = MemorySampler()
    sampler.start()
    loaded = loader.load_model(catalog.resolve(str(folder)), precision="bf16")
    peak = sampler.stop()
    after_load = MemorySampler.read()
    weights_bytes = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
    load = {
        "load_ms": loaded.load_ms, "device": loaded.device, "precision": loaded.precision,
        "weights_bytes": weights_bytes, "params": sum(p.numel() for p in loaded.model.parameters()),
        "rss_before_import": baseline["VmRSS"], "rss_after_import": after_import["VmRSS"],
        "peak_rss": peak["VmRSS"], "peak_rss_anon": peak["RssAnon"], "peak_rss_file": peak["RssFile"],
        "rss_after_load": after_load["VmRSS"], "rss_anon_after_load": after_load["RssAnon"],
        "rss_file_after_load": after_load["RssFile"],
        "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    load["peak_over_weights"] = load["peak_rss"] / weights_bytes
    print(f"Loaded in {load['load_ms'] / 1000:.1f} s; peak RSS {load['peak_rss'] / 2**30:.2f} GiB for "
          f"{weights_bytes / 2**30:.2f} GiB of weights", flush=True)

    greedy = {"num_beams": beams, "do_sample": False}  # greedy unless --beams
    caption_settings = {**greedy, "max_new_tokens": caption_tokens, "min_new_tokens": caption_tokens}
    answer_settings = {**greedy, "max_new_tokens": answer_tokens, "min_new_tokens": answer_tokens}
    spec = loaded.spec
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(n_questions)]
    image = _picture()

    # Warm-up: the first oneDNN calls of each shape are slow; do one short request per path.
    # The loader leaves bf16 weights memory-mapped from the safetensors file, so they become
    # resident on first use: the first request's time and the memory after it belong to loading.
    warm = ImageSession(loaded, image)
    start = time.perf_counter()
    warm.token_ids(spec.caption_prompt, {**greedy, "max_new_tokens": 2, "min_new_tokens": 2})
    load["first_request_ms"] = (time.perf_counter() - start) * 1000
    first_use = MemorySampler.read()
    load.update(rss_after_first_use=first_use["VmRSS"], rss_anon_after_first_use=first_use["RssAnon"],
                rss_file_after_first_use=first_use["RssFile"])
    load["first_use_over_weights"] = first_use["VmRSS"] / weights_bytes
    warm.reference_ids(spec.caption_prompt, {**greedy, "max_new_tokens": 2, "min_new_tokens": 2})

    def session_round() -> dict[str, Any]:
        """The app's path: ImageSession encodes once, captions, then answers follow-ups."""
        session = ImageSession(loaded, image)

        def step(what: str, settings: dict[str, Any], run: Any) -> dict[str, Any]:
            clock = TokenClock()
            timed = {**settings, "streamer": clock} if beams == 1 else settings  # no streamer with beams
            session.spec = replace(spec, caption_generation=timed, answer_generation=timed)
            text = run()
            return {"what": what, **clock.summary(), "text": text}

        start = time.perf_counter()
        session.encode()
        encode_ms = (time.perf_counter() - start) * 1000
        steps = [step("caption", caption_settings, session.caption)]
        steps += [step(q, answer_settings, lambda q=q: session.ask(q)) for q in questions]
        return {"encode_ms": encode_ms, "steps": steps, "total_ms": (time.perf_counter() - start) * 1000}

    def naive_round() -> dict[str, Any]:
        """The naive path: model.generate(pixel_values=...) per request, re-encoding every time."""
        session = ImageSession(loaded, image)  # only for its reference path
        tokenizer = loaded.processor.tokenizer

        def step(what: str, prompt: str, settings: dict[str, Any]) -> tuple[dict[str, Any], str]:
            clock = TokenClock()
            ids = session.reference_ids(prompt, {**settings, "streamer": clock} if beams == 1 else settings)
            text = tokenizer.decode(ids, skip_special_tokens=True)
            # Cleaned as ImageSession cleans: a sentence to speak, raw text for follow-up prompts.
            spoken = clean_output(text, truncated=len(ids) >= settings["max_new_tokens"])
            raw = clean_output(text, truncated=len(ids) >= settings["max_new_tokens"], as_sentence=False)
            return {"what": what, **clock.summary(), "text": spoken}, raw

        start = time.perf_counter()
        steps = [step("caption", spec.caption_prompt, caption_settings)[0]]
        history: list[tuple[str, str]] = []
        for q in questions:
            figures, raw = step(q, spec.prompt_for(q, history), answer_settings)
            history.append((q, raw))
            steps.append(figures)
        return {"steps": steps, "total_ms": (time.perf_counter() - start) * 1000}

    rounds: list[dict[str, Any]] = []
    for i in range(repeats):
        # Alternate the order so a burst of load from other users hits both paths alike.
        order = ("session", "naive") if i % 2 == 0 else ("naive", "session")
        result: dict[str, Any] = {}
        for path in order:
            result[path] = session_round() if path == "session" else naive_round()
            print(f"round {i + 1} {path}: {result[path]['total_ms'] / 1000:.1f} s", flush=True)
        rounds.append(result)
    load["peak_rss_whole_run"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    load["whole_run_over_weights"] = load["peak_rss_whole_run"] / weights_bytes
    return {"load": load, "threads": threads, "questions": questions, "caption_tokens": caption_tokens,
            "answer_tokens": answer_tokens, "beams": beams, "rounds": rounds}


# ---- precisions side by side (issue 14) ----------------------------------------------------------

PREPARED_DATA = Path("/work/bigmodel-data")  # XDG_DATA_HOME of the children: prepared copies go here


def _upcast_to_fp32(model: Any) -> None:
    """Make a bf16-loaded model compute in fp32 without a 15 GB fp32 copy: Linear layers upcast
    their bf16 weights per call, everything else becomes fp32. For weights that are exactly
    representable in bf16 (the random model is built in bf16) this is the fp32 model."""
    import types

    import torch
    import torch.nn.functional as F

    def forward(self: Any, x: Any) -> Any:
        bias = None if self.bias is None else self.bias.float()
        return F.linear(x.float(), self.weight.float(), bias)

    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            module.forward = types.MethodType(forward, module)
            continue
        for name, param in list(module.named_parameters(recurse=False)):
            if param.dtype == torch.bfloat16 and name != "weight" or not hasattr(module, "in_features"):
                param.data = param.data.float()
        for name, buf in list(module.named_buffers(recurse=False)):
            if buf.dtype == torch.bfloat16:
                setattr(module, name, buf.float())


def _load(folder: Path, precision: str) -> tuple[Any, dict[str, Any]]:
    """Load in a precision ("fp32ref": bf16 weights computing in fp32), sampling memory."""
    import transformers.models.blip_2.modeling_blip_2  # noqa: F401 - imports are not part of loading

    from desktop_app.models import vision_catalog as catalog
    from desktop_app.vision import loader

    sampler = MemorySampler()
    sampler.start()
    start = time.perf_counter()
    loaded = loader.load_model(catalog.resolve(str(folder)), device="cpu",
                               precision="bf16" if precision == "fp32ref" else precision)
    if precision == "fp32ref":
        _upcast_to_fp32(loaded.model)
        loaded.precision = "fp32"
    load_s = time.perf_counter() - start
    peak = sampler.stop()
    after = MemorySampler.read()
    return loaded, {"load_s": load_s, "peak_rss": peak["VmRSS"], "peak_anon": peak["RssAnon"],
                    "peak_file": peak["RssFile"], "after_rss": after["VmRSS"], "after_anon": after["RssAnon"],
                    "prepared": loaded.prepared, "note": loaded.note}


def measure_precision(folder: Path, precision: str, threads: int, caption_tokens: int, answer_tokens: int,
                      n_questions: int) -> dict[str, Any]:
    """One precision in a fresh process: load, encode, caption, follow-ups (ImageSession, greedy)."""
    import torch

    from desktop_app.vision.session import ImageSession

    torch.set_num_threads(threads)
    loaded, load = _load(folder, precision)
    print(f"{precision}: loaded in {load['load_s']:.1f} s, peak RSS {load['peak_rss'] / 2**30:.2f} GiB", flush=True)
    spec = loaded.spec
    image = _picture()
    greedy = {"num_beams": 1, "do_sample": False}
    warm = ImageSession(loaded, image)
    start = time.perf_counter()
    warm.token_ids(spec.caption_prompt, {**greedy, "max_new_tokens": 2, "min_new_tokens": 2})
    load["first_request_s"] = time.perf_counter() - start
    session = ImageSession(loaded, image)
    start = time.perf_counter()
    session.encode()
    encode_ms = (time.perf_counter() - start) * 1000
    steps = []
    for what, settings, run in [
        ("caption", {**greedy, "max_new_tokens": caption_tokens, "min_new_tokens": caption_tokens}, session.caption),
        *[(q, {**greedy, "max_new_tokens": answer_tokens, "min_new_tokens": answer_tokens},
           (lambda q=q: session.ask(q))) for q in QUESTIONS[:n_questions]],
    ]:
        clock = TokenClock()
        session.spec = replace(spec, caption_generation={**settings, "streamer": clock},
                               answer_generation={**settings, "streamer": clock})
        run()
        steps.append({"what": what, **clock.summary()})
    total_ms = encode_ms + sum(x["ms"] for x in steps)
    load["peak_rss_whole_run"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"precision": precision, "threads": threads, "load": load, "encode_ms": encode_ms, "steps": steps,
            "total_ms": total_ms}


def _teacher_forced(loaded: Any, sequence: list[int] | None, steps: int) -> tuple[list[int], list[int]]:
    """Top-1 next token at each of `steps` steps after the caption prompt, feeding `sequence`
    (teacher forcing) or, when None, the model's own choice (greedy). Returns (top1, fed)."""
    import torch

    from desktop_app.vision.session import ImageSession

    session = ImageSession(loaded, _picture())
    lm = loaded.model.language_model
    top1: list[int] = []
    fed: list[int] = []
    with torch.inference_mode():
        embeds, attention, _ids = session._language_inputs(loaded.spec.caption_prompt)
        out = lm(inputs_embeds=embeds, attention_mask=attention, use_cache=True)
        for i in range(steps):
            best = int(out.logits[0, -1].float().argmax())
            top1.append(best)
            token = best if sequence is None else sequence[i]
            fed.append(token)
            attention = torch.cat([attention, attention.new_ones((1, 1))], dim=1)
            out = lm(input_ids=torch.tensor([[token]]), attention_mask=attention,
                     past_key_values=out.past_key_values, use_cache=True)
    return top1, fed


def agreement_child(folder: Path, precision: str, threads: int, steps: int, refs: Path) -> dict[str, Any]:
    """Teacher-forced top-1 of `precision` along the fp32 and bf16 greedy sequences in `refs`."""
    import torch

    torch.set_num_threads(threads)
    loaded, load = _load(folder, precision)
    known = json.loads(refs.read_text(encoding="utf-8")) if refs.is_file() else {}
    result: dict[str, Any] = {"precision": precision, "load": load}
    own, _ = _teacher_forced(loaded, None, steps)
    result["greedy"] = own
    for ref in ("fp32ref", "bf16"):
        if ref in known and ref != precision:
            top1, fed = _teacher_forced(loaded, known[ref]["greedy"], steps)
            result[f"vs_{ref}"] = sum(a == b for a, b in zip(top1, fed)) / steps
    return result


def compare(folder: Path, precisions: list[str], threads: int, caption_tokens: int, answer_tokens: int,
            n_questions: int, agreement_steps: int) -> int:
    """Every precision side by side, each in its own fresh process (and a prepare run first)."""
    env = {**os.environ, "XDG_DATA_HOME": str(PREPARED_DATA)}
    me = [sys.executable, str(Path(__file__).resolve()), "--dir", str(folder), "--threads", str(threads)]
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results: dict[str, Any] = {"machine": {}, "runs": {}, "agreement": {}}
    for precision in precisions:
        runs = ["measure"] if precision in ("bf16", "fp32") else ["prepare", "measure"]
        for what in runs:
            out = OUT_DIR / f"compare-{stamp}-{precision}-{what}.json"
            cmd = [*me, "--child", "precision", "--precision", precision, "--result", str(out),
                   "--caption-tokens", str(caption_tokens if what == "measure" else 1),
                   "--answer-tokens", str(answer_tokens), "--questions", str(n_questions if what == "measure" else 0)]
            subprocess.run(cmd, check=True, env=env)
            results["runs"][f"{precision}-{what}"] = json.loads(out.read_text(encoding="utf-8"))
    if agreement_steps:
        refs = OUT_DIR / f"compare-{stamp}-agreement.json"
        for precision in ("fp32ref", "bf16", *[p for p in precisions if p in ("int8", "int4")]):
            out = OUT_DIR / f"compare-{stamp}-agree-{precision}.json"
            subprocess.run([*me, "--child", "agreement", "--precision", precision, "--result", str(out),
                            "--agreement-steps", str(agreement_steps), "--refs", str(refs)], check=True, env=env)
            results["agreement"][precision] = json.loads(out.read_text(encoding="utf-8"))
            refs.write_text(json.dumps(results["agreement"]), encoding="utf-8")
    results["machine"] = machine()
    path = OUT_DIR / f"compare-{stamp}.json"
    path.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print()
    print(compare_table(results))
    print(f"\nFigures: {path}")
    return 0


def compare_table(results: dict[str, Any]) -> str:
    """The side-by-side Markdown table of a compare() run."""
    gib = 2**30
    runs = results["runs"]
    measured = {k.rsplit("-", 1)[0]: v for k, v in runs.items() if k.endswith("-measure")}
    base = measured.get("bf16")

    def ratio(value: float, ref: float) -> str:
        return f" ({value / ref:.2f}x)" if ref else ""

    lines = ["| | " + " | ".join(measured) + " |", "|---|" + "---|" * len(measured)]

    def row(label: str, cell: Any) -> None:
        lines.append(f"| {label} | " + " | ".join(cell(p, r) for p, r in measured.items()) + " |")

    def prep(p: str, r: dict[str, Any]) -> str:
        first = runs.get(f"{p}-prepare")
        if not first:
            return "none"
        ld = first["load"]
        return f"{ld['load_s']:.0f} s, peak {ld['peak_rss'] / gib:.1f} GiB (anon {ld['peak_anon'] / gib:.1f})"

    row("Preparing once (from the fp32 shards)", prep)
    row("Load (fresh process)", lambda p, r: f"{r['load']['load_s']:.1f} s" + (
        " from the prepared copy" if r["load"]["prepared"] else " from the fp32 shards"))
    row("Peak RSS while loading (anon / file-backed)", lambda p, r: (
        f"{r['load']['peak_rss'] / gib:.2f} GiB ({r['load']['peak_anon'] / gib:.2f} / "
        f"{r['load']['peak_file'] / gib:.2f})"))
    row("Peak RSS, whole run", lambda p, r: f"{r['load']['peak_rss_whole_run'] / gib:.2f} GiB")
    row("First request after load (2 tokens)", lambda p, r: f"{r['load']['first_request_s']:.1f} s")
    row("Encode picture", lambda p, r: f"{r['encode_ms'] / 1000:.2f} s")
    cap = {p: r["steps"][0] for p, r in measured.items()}
    b = base["steps"][0] if base else None
    row("Caption: first token (prefill)", lambda p, r: f"{cap[p]['first_token_ms']:.0f} ms" + ratio(
        cap[p]["first_token_ms"], b["first_token_ms"] if b else 0))
    row("Per token", lambda p, r: f"{cap[p]['per_token_ms']:.0f} ms" + ratio(
        cap[p]["per_token_ms"], b["per_token_ms"] if b else 0))
    row(f"Whole caption ({cap[next(iter(cap))]['tokens']} tokens, with encode)", lambda p, r: (
        f"{(cap[p]['ms'] + r['encode_ms']) / 1000:.1f} s" + ratio(
            cap[p]["ms"] + r["encode_ms"], (b["ms"] + base["encode_ms"]) if b and base else 0)))
    row("Caption + follow-ups, total", lambda p, r: f"{r['total_ms'] / 1000:.1f} s" + ratio(
        r["total_ms"], base["total_ms"] if base else 0))
    agree = results.get("agreement") or {}
    if agree:
        lines.append("")
        lines.append("| Teacher-forced top-1 agreement | vs fp32 greedy | vs bf16 greedy |")
        lines.append("|---|---|---|")
        for p, a in agree.items():
            if p == "fp32ref":
                continue
            steps = len(a["greedy"])
            lines.append(f"| {p} ({steps} steps) | {a.get('vs_fp32ref', 0) * 100:.0f}% | "
                         f"{a.get('vs_bf16', 1.0) * 100:.0f}% |")
    m = results.get("machine") or {}
    lines.append(f"\nMachine: {m.get('Model name')}, {m.get('CPU(s)')} CPUs, {m.get('ram_gib')} GiB RAM, bf16: "
                 f"{m.get('bf16_flags') or 'none'}; torch {m.get('torch')}; load average {m.get('load_average')}.")
    return "\n".join(lines)


# ---- summary ----------------------------------------------------------------------------------

def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def summarize(data: dict[str, Any]) -> dict[str, float]:
    """Median figures over rounds for the table."""
    rounds = data["rounds"]
    s: dict[str, float] = {}
    for path in ("session", "naive"):
        s[f"{path}_caption_ms"] = _median([r[path]["steps"][0]["ms"] for r in rounds])
        s[f"{path}_caption_token_ms"] = _median([r[path]["steps"][0]["per_token_ms"] for r in rounds])
        s[f"{path}_caption_first_ms"] = _median([r[path]["steps"][0]["first_token_ms"] for r in rounds])
        s[f"{path}_followups_ms"] = _median([sum(x["ms"] for x in r[path]["steps"][1:]) for r in rounds])
        s[f"{path}_answer_token_ms"] = _median([x["per_token_ms"] for r in rounds for x in r[path]["steps"][1:]])
        s[f"{path}_answer_first_ms"] = _median([x["first_token_ms"] for r in rounds for x in r[path]["steps"][1:]])
        s[f"{path}_total_ms"] = _median([r[path]["total_ms"] for r in rounds])
    s["encode_ms"] = _median([r["session"]["encode_ms"] for r in rounds])
    # The session's caption is timed after its separate encode(); the app's first request pays both.
    s["session_caption_with_encode_ms"] = s["session_caption_ms"] + s["encode_ms"]
    s["followups_ratio"] = s["session_followups_ms"] / s["naive_followups_ms"]
    s["total_ratio"] = s["session_total_ms"] / s["naive_total_ms"]
    s["same_output"] = float(all(
        [x["text"] for x in r["session"]["steps"]] == [x["text"] for x in r["naive"]["steps"]]
        for r in rounds))
    return s


def table(data: dict[str, Any]) -> str:
    s = summarize(data)
    load = data["load"]
    n, ct, at = len(data["questions"]), data["caption_tokens"], data["answer_tokens"]
    gib = 2**30

    def sec(ms: float) -> str:
        return f"{ms / 1000:.2f} s"

    per_token_rows = [] if data.get("beams", 1) > 1 else [  # generate has no streamer with beams
        (f"| Caption: first token / then per token | {s['session_caption_first_ms']:.0f} ms (after encode) / "
         f"{s['session_caption_token_ms']:.0f} ms | {s['naive_caption_first_ms']:.0f} ms / "
         f"{s['naive_caption_token_ms']:.0f} ms | |"),
        (f"| Answer: first token / then per token | {s['session_answer_first_ms']:.0f} ms / "
         f"{s['session_answer_token_ms']:.0f} ms | {s['naive_answer_first_ms']:.0f} ms / "
         f"{s['naive_answer_token_ms']:.0f} ms | |"),
    ]
    rows = [
        ("| Measure | ImageSession (encode once) | naive `model.generate(pixel_values=...)` | ratio |"),
        ("|---|---|---|---|"),
        (f"| Load, bf16, fresh process | {sec(load['load_ms'])} | same loader | |"),
        (f"| Peak RSS while loading (weights on disk {load['weights_bytes'] / gib:.2f} GiB) | "
         f"{load['peak_rss'] / gib:.2f} GiB (anon {load['peak_rss_anon'] / gib:.2f}, file-backed "
         f"{load['peak_rss_file'] / gib:.2f}; {load['rss_after_import'] / gib:.2f} after imports) | | "
         f"{load['peak_over_weights']:.2f}x weights |"),
        (f"| First request after loading (2 tokens; weights are memory-mapped, paged in on first use) | "
         f"{sec(load['first_request_ms'])} | | |"),
        (f"| RSS after the first request (every weight touched) | {load['rss_after_first_use'] / gib:.2f} GiB "
         f"(anon {load['rss_anon_after_first_use'] / gib:.2f}, file-backed {load['rss_file_after_first_use'] / gib:.2f})"
         f" | | {load['first_use_over_weights']:.2f}x weights |"),
        (f"| Peak RSS over the whole run | {load['peak_rss_whole_run'] / gib:.2f} GiB | | "
         f"{load['whole_run_over_weights']:.2f}x weights |"),
        (f"| Encode picture (ViT-g + Q-Former) | {sec(s['encode_ms'])} once | inside every call | |"),
        (f"| Caption, {ct} new tokens (incl. encode) | {sec(s['session_caption_with_encode_ms'])} | "
         f"{sec(s['naive_caption_ms'])} | {s['session_caption_with_encode_ms'] / s['naive_caption_ms']:.2f}x |"),
        (f"| {n} follow-up questions, {at} new tokens each | {sec(s['session_followups_ms'])} | "
         f"{sec(s['naive_followups_ms'])} | **{s['followups_ratio']:.2f}x** |"),
        *per_token_rows,
        (f"| Caption + {n} follow-ups, total | {sec(s['session_total_ms'])} | {sec(s['naive_total_ms'])} | "
         f"{s['total_ratio']:.2f}x |"),
    ]
    beams = data.get("beams", 1)
    decoding = "greedy decoding" if beams == 1 else f"beam search with {beams} beams (no per-token times)"
    notes = (f"\nMedians of {len(data['rounds'])} round(s), {data['threads']} thread(s); {decoding} with "
             f"min_new_tokens = max_new_tokens; caption and answers identical on both paths: "
             f"{'yes' if s['same_output'] else 'NO'}.")
    return "\n".join(rows) + notes


def machine() -> dict[str, Any]:
    """What the benchmark ran on."""
    import torch

    info: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__}
    try:
        import transformers

        info["transformers"] = transformers.__version__
    except ImportError:
        pass
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in lscpu.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("Model name", "CPU(s)", "Thread(s) per core", "Core(s) per socket"):
                info[key.strip()] = value.strip()
        flags = next((line for line in lscpu.splitlines() if line.startswith("Flags")), "")
        info["bf16_flags"] = " ".join(f for f in flags.split() if "bf16" in f or f.startswith("amx"))
    except OSError:
        pass
    with open("/proc/meminfo", encoding="ascii") as f:
        info["ram_gib"] = round(int(f.readline().split()[1]) / 2**20, 1)
    info["load_average"] = os.getloadavg()
    return info


# ---- command line -------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, help=f"model folder (default {DEFAULT_DIR}; {TINY_DIR} with --tiny)")
    parser.add_argument("--tiny", action="store_true", help="a tiny model: checks the script in seconds")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads")
    parser.add_argument("--questions", type=int, default=3, help="follow-up questions after the caption")
    parser.add_argument("--caption-tokens", type=int, default=20)
    parser.add_argument("--answer-tokens", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2, help="rounds of both paths (medians are reported)")
    parser.add_argument("--beams", type=int, default=1,
                        help="beam search with N beams, as the catalog's settings (5); default greedy")
    parser.add_argument("--skip-build", action="store_true", help="never build; fail if the folder is missing")
    parser.add_argument("--compare", default="",
                        help="comma-separated precisions to measure side by side, e.g. bf16,int8,int4 "
                             "(fp32 needs about 15 GB); prepared copies go to " + str(PREPARED_DATA))
    parser.add_argument("--agreement-steps", type=int, default=50,
                        help="with --compare: teacher-forced top-1 agreement over this many decode steps (0: skip)")
    parser.add_argument("--fp32-shards", action="store_true",
                        help="build the model as the published checkpoint is stored: fp32 safetensors in shards")
    parser.add_argument("--precision", default="bf16", help=argparse.SUPPRESS)
    parser.add_argument("--refs", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=("build", "measure", "precision", "agreement"), help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    folder: Path = args.dir or (TINY_DIR if args.tiny else DEFAULT_DIR)

    if args.child == "build":
        if args.fp32_shards:
            build_fp32_shards(folder, args.tiny)
        else:
            build(folder, args.tiny)
        return 0
    if args.child == "precision":
        data = measure_precision(folder, args.precision, args.threads, args.caption_tokens, args.answer_tokens,
                                 args.questions)
        args.result.write_text(json.dumps(data, indent=1), encoding="utf-8")
        return 0
    if args.child == "agreement":
        data = agreement_child(folder, args.precision, args.threads, args.agreement_steps, args.refs)
        args.result.write_text(json.dumps(data, indent=1), encoding="utf-8")
        return 0
    if args.child == "measure":
        data = measure(folder, args.threads, args.questions, args.caption_tokens, args.answer_tokens, args.repeats,
                       args.beams)
        data["machine"] = machine()
        args.result.write_text(json.dumps(data, indent=1), encoding="utf-8")
        return 0

    # Each heavy step runs in its own process: the load is measured from a fresh start, and the
    # build's copy of the weights is gone before the measurement begins.
    me = [sys.executable, str(Path(__file__).resolve()), "--dir", str(folder)] + (["--tiny"] if args.tiny else [])
    if not (folder / DONE_MARKER).is_file():
        if args.skip_build:
            print(f"There is no built model in {folder}; run without --skip-build first.", file=sys.stderr)
            return 2
        subprocess.run([*me, "--child", "build", *(["--fp32-shards"] if args.fp32_shards else [])], check=True)
    if args.compare:
        return compare(folder, [p.strip() for p in args.compare.split(",") if p.strip()], args.threads,
                       args.caption_tokens, args.answer_tokens, args.questions, args.agreement_steps)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    result = OUT_DIR / f"engine-{'tiny-' if args.tiny else ''}{stamp}.json"
    subprocess.run([*me, "--child", "measure", "--result", str(result), "--threads", str(args.threads),
                    "--questions", str(args.questions), "--caption-tokens", str(args.caption_tokens),
                    "--answer-tokens", str(args.answer_tokens), "--repeats", str(args.repeats),
                    "--beams", str(args.beams)], check=True)
    data = json.loads(result.read_text(encoding="utf-8"))
    data["summary"] = summarize(data)
    data["table"] = table(data)
    result.write_text(json.dumps(data, indent=1), encoding="utf-8")
    m = data["machine"]
    print()
    print(data["table"])
    print(f"\nMachine: {m.get('Model name')}, {m.get('CPU(s)')} CPUs, {m['ram_gib']} GiB RAM, "
          f"bf16: {m.get('bf16_flags') or 'none'}; torch {m['torch']}, transformers {m.get('transformers')}.")
    print(f"Figures: {result}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
