"""Benchmark of streamed captions: how soon the first words are ready, and what greedy decoding
(which streaming needs) costs in caption quality. Run by hand; never a test.

    .venv/bin/python bench/first_word.py quality [--scenes 400]
        The shipped demo model (desktop_app/resources/models/shapes-demo) on its held-out scenes
        (seed 2, the scoring of its README: exact match of the whole caption), for greedy
        decoding (what the app streams) and for the catalog's 5 beams, with the demo's limits
        and with the catalog's caption settings; and how often greedy writes the beams' tokens.
    .venv/bin/python bench/first_word.py timing [--pictures 20]
        The demo model: first phrase ready (from the picture reaching the model) and whole
        caption, streamed greedy vs 5 beams (whose first word is the whole caption).
    .venv/bin/python bench/first_word.py real-size [--threads 1] [--tokens 20] [--runs 3] [--tiny]
        A real-size blip2-opt-2.7b with random weights (built once by bench/engine.py's builder
        into /tmp/lookaloud-bench/, no download; about 7.2 GiB in bf16, so about 7.5 GiB of
        memory in this process): first phrase and whole caption, streamed greedy vs 5 beams,
        lengths forced (random weights stop anywhere), and whether the streamed tokens are the
        stock `model.generate`'s.

Each prints a Markdown table and writes JSON to bench/out/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # so `python bench/first_word.py` finds desktop_app

DEMO = REPO / "desktop_app" / "resources" / "models" / "shapes-demo"
OUT_DIR = REPO / "bench" / "out"
EVAL_SEED = 2
TRAIN_BASE = 10_000_000  # tools/train_shapes_model.TRAIN_BASE: scene seeds are EVAL_SEED * TRAIN_BASE + i


def _catalog_caption() -> dict[str, Any]:
    from desktop_app.models import vision_catalog as catalog

    return dict(catalog.resolve("blip2-opt-2.7b").caption_generation)


def _variants() -> dict[str, dict[str, Any]]:
    from desktop_app.models import vision_catalog as catalog
    from desktop_app.vision.session import streaming_settings

    own = dict(catalog.resolve(str(DEMO)).caption_generation)
    cat = _catalog_caption()
    return {
        "greedy, demo limits (streamed: the app)": streaming_settings(own),
        "5 beams, demo limits": {**own, "num_beams": 5},
        "greedy, catalog settings (streamed)": streaming_settings(cat),
        "5 beams, catalog settings": cat,
    }


def _machine() -> dict[str, Any]:
    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "load": [round(x, 2) for x in os.getloadavg()], "python": platform.python_version()}


def _save(name: str, data: dict[str, Any]) -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"first_word-{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    print(f"\nFigures written to {path}")


def quality(scenes: int) -> dict[str, Any]:
    import torch

    from desktop_app.models import vision_catalog as catalog
    from desktop_app.vision import loader
    from desktop_app.vision.session import ImageSession
    from desktop_app.vision.text import clean_output
    from testkit import demo_scenes

    loaded = loader.load_model(catalog.resolve(str(DEMO)), precision="fp32")
    tokenizer = loaded.processor.tokenizer
    variants = _variants()
    right = dict.fromkeys(variants, 0)
    ids: dict[str, list[list[int]]] = {name: [] for name in variants}
    with torch.inference_mode():
        for i in range(scenes):
            scene = demo_scenes.random_scene(EVAL_SEED * TRAIN_BASE + i)
            session = ImageSession(loaded, scene.render())
            for name, settings in variants.items():
                got = session.token_ids("", settings)
                ids[name].append(got)
                text = clean_output(tokenizer.decode(got, skip_special_tokens=True))
                right[name] += text.lower().rstrip(".") == scene.caption()
    names = list(variants)
    agreement = {}
    for greedy_name, beams_name in ((names[0], names[1]), (names[2], names[3])):
        same_seq = sum(a == b for a, b in zip(ids[greedy_name], ids[beams_name]))
        positions = sum(max(len(a), len(b)) for a, b in zip(ids[greedy_name], ids[beams_name]))
        same_pos = sum(sum(x == y for x, y in zip(a, b)) for a, b in zip(ids[greedy_name], ids[beams_name]))
        agreement[f"{greedy_name} vs {beams_name}"] = {
            "same_caption": same_seq / scenes, "same_token": same_pos / max(1, positions)}
    data = {"scenes": scenes, "caption_exact": {k: v / scenes for k, v in right.items()},
            "agreement": agreement, "machine": _machine()}
    print(f"Demo model, {scenes} held-out scenes (seed {EVAL_SEED}), caption exact match:\n")
    print("| decoding | caption exact match |\n|---|---|")
    for name, value in data["caption_exact"].items():
        print(f"| {name} | {value:.1%} |")
    print("\n| greedy vs beams | same caption | same token (position by position) |\n|---|---|---|")
    for name, value in agreement.items():
        print(f"| {name} | {value['same_caption']:.1%} | {value['same_token']:.1%} |")
    return data


def _time_caption(loaded: Any, image: Any, settings: dict[str, Any]) -> dict[str, float]:
    """First phrase and whole caption (ms from the picture reaching the model), one run."""
    import dataclasses

    from desktop_app.vision.session import ImageSession

    session = ImageSession(loaded, image)
    session.spec = dataclasses.replace(session.spec, caption_generation=settings)
    if int(settings.get("num_beams", 1)) > 1:  # beams cannot stream: the first word is the caption
        session.token_ids(session.spec.caption_prompt, settings)
        whole = (time.perf_counter() - session.arrived) * 1000
        return {"first_word": whole, "whole": whole, "tokens": session._last_new_tokens}
    session.caption_stream(None)
    whole = (time.perf_counter() - session.arrived) * 1000
    return {"first_word": session.timings_ms["first_word"], "whole": whole, "tokens": session.tokens["caption"]}


def timing(pictures: int) -> dict[str, Any]:
    import torch

    from desktop_app.models import vision_catalog as catalog
    from desktop_app.vision import loader
    from testkit import demo_scenes

    torch.set_num_threads(1)
    loaded = loader.load_model(catalog.resolve(str(DEMO)), precision="fp32")
    images = [demo_scenes.random_scene(EVAL_SEED * TRAIN_BASE + i).render() for i in range(pictures)]
    variants = _variants()
    _time_caption(loaded, images[0], variants[next(iter(variants))])  # warm-up
    rows = {}
    for name, settings in variants.items():
        runs = [_time_caption(loaded, image, settings) for image in images]
        rows[name] = {key: statistics.median(r[key] for r in runs) for key in ("first_word", "whole", "tokens")}
    print(f"Demo model, {pictures} scenes, 1 thread, medians (ms from the picture reaching the model):\n")
    print("| decoding | first phrase ready | whole caption | tokens |\n|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['first_word']:.1f} | {row['whole']:.1f} | {row['tokens']:.0f} |")
    return {"pictures": pictures, "medians_ms": rows, "machine": _machine()}


def build_light(folder: Path) -> None:
    """bench/engine.py's real-size random model, written one tensor at a time (shards of 512 MB)
    so that building it needs about 1 GB of memory instead of the whole model's 7 GiB."""
    import torch
    from safetensors.torch import save_file
    from transformers import Blip2ForConditionalGeneration, Blip2Processor
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

    from bench.engine import DONE_MARKER, OPT_EMBEDDING_ROWS, OPT_TOKENS, _config, _tokenizer

    start = time.perf_counter()
    generator = torch.Generator().manual_seed(0)
    tokenizer = _tokenizer(OPT_TOKENS)
    processor = Blip2Processor(BlipImageProcessorPil(size={"height": 224, "width": 224}), tokenizer,
                               num_query_tokens=32)
    config = _config(False, tokenizer.convert_tokens_to_ids("<image>"), OPT_EMBEDDING_ROWS)
    with torch.device("meta"):
        model = Blip2ForConditionalGeneration._from_config(config, dtype=torch.bfloat16)
    folder.mkdir(parents=True, exist_ok=True)
    weight_map: dict[str, str] = {}
    shard: dict[str, Any] = {}
    size = total = 0

    def flush() -> None:
        nonlocal shard, size
        if shard:
            name = f"model-{len(set(weight_map.values())) + 1:05d}.safetensors"
            save_file(shard, str(folder / name), metadata={"format": "pt"})
            weight_map.update(dict.fromkeys(shard, name))
            shard, size = {}, 0

    for name, meta in model.state_dict().items():
        if name == "language_model.lm_head.weight":
            continue  # tied to the input embeddings
        if name.endswith(("norm.weight", "layernorm.weight", "ln.weight")) or ".LayerNorm.weight" in name:
            tensor = torch.ones(meta.shape, dtype=torch.bfloat16)
        elif name.endswith("bias"):
            tensor = torch.zeros(meta.shape, dtype=torch.bfloat16)
        else:
            tensor = (torch.randn(meta.shape, generator=generator) * 0.02).to(torch.bfloat16)
        shard[name] = tensor
        size += tensor.nbytes
        total += tensor.nbytes
        if size >= 512 * 2**20:
            flush()
    flush()
    (folder / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {"total_size": total}, "weight_map": weight_map}), encoding="utf-8")
    model.config.save_pretrained(folder)
    model.generation_config.save_pretrained(folder)
    processor.save_pretrained(folder)
    params = sum(p.numel() for p in model.parameters())
    info = {"params": params, "build_s": round(time.perf_counter() - start, 1), "tiny": False, "light": True}
    (folder / DONE_MARKER).write_text(json.dumps(info), encoding="utf-8")
    print(f"Built {params / 1e9:.2f} B parameters in {info['build_s']} s into {folder}", flush=True)


def real_size(threads: int, tokens: int, runs: int, tiny: bool = False, precision: str = "bf16",
              model_dir: Path | None = None, greedy_only: bool = False) -> dict[str, Any]:
    import torch

    from bench.engine import DEFAULT_DIR, DONE_MARKER, TINY_DIR, MemorySampler, _picture, build
    from desktop_app.models import vision_catalog as catalog
    from desktop_app.vision import loader
    from desktop_app.vision.session import ImageSession, streaming_settings

    folder = model_dir or (TINY_DIR if tiny else DEFAULT_DIR)
    if model_dir is None and not (folder / DONE_MARKER).exists():
        if tiny:
            build(folder, tiny=True)
        else:
            build_light(folder)
            print("Built; run again to measure in a fresh process.")
            return {}
    torch.set_num_threads(threads)
    sampler = MemorySampler()
    sampler.start()
    loaded = loader.load_model(catalog.resolve(str(folder)), device="cpu", precision=precision)
    image = _picture()
    # Random weights write any word, or one word over and over (said once: repeats collapse).
    # Words that start an invented next question would end what is said (vision/phrases.py), so
    # they are banned, and no word comes twice: every run then streams all its words.
    tokenizer = loaded.processor.tokenizer
    banned = sorted({i for w in ("Question", "question", "Answer", "answer", "Short", "short", ":", "\n")
                     for i in tokenizer(w, add_special_tokens=False).input_ids} - {tokenizer.unk_token_id})
    forced = {"max_new_tokens": tokens, "min_new_tokens": tokens, "bad_words_ids": [[i] for i in banned],
              "no_repeat_ngram_size": 1}
    cat = _catalog_caption()
    variants = {
        "greedy, catalog settings (streamed)": {**streaming_settings(cat), **forced},
        "5 beams, catalog settings": {**cat, **forced},
    }
    if greedy_only:
        del variants["5 beams, catalog settings"]
    _time_caption(loaded, image, {"num_beams": 1, "max_new_tokens": 2})  # warm-up
    rows = {}
    for name, settings in variants.items():
        measured = [_time_caption(loaded, image, settings) for _ in range(runs)]
        rows[name] = {key: statistics.median(r[key] for r in measured) for key in ("first_word", "whole", "tokens")}
        print(f"{name}: {rows[name]}", flush=True)
    # Exactness at real size: the streamed caption's tokens vs the stock generate (which re-runs the ViT).
    session = ImageSession(loaded, image)
    greedy = variants["greedy, catalog settings (streamed)"]
    streamed = session.token_ids("", greedy, on_tokens=lambda ids: None)
    reference = session.reference_ids("", greedy)
    same = sum(a == b for a, b in zip(streamed, reference)) / max(len(streamed), len(reference), 1)
    peak = sampler.stop()
    data = {"precision": precision, "folder": str(folder), "threads": threads, "tokens": tokens, "runs": runs, "medians_ms": rows,
            "streamed_vs_stock_same_token": same, "peak_gib": {k: v / 2**30 for k, v in peak.items()},
            "machine": _machine()}
    print(f"\nReal-size blip2-opt-2.7b (random weights, {precision}), {tokens} tokens forced, {threads} thread(s), "
          f"median of {runs}:\n")
    print("| decoding | first phrase ready | whole caption |\n|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['first_word'] / 1000:.2f} s | {row['whole'] / 1000:.2f} s |")
    print(f"\nStreamed tokens equal to the stock generate's: {same:.0%}; peak RSS {data['peak_gib']['VmRSS']:.2f} GiB")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--scenes", type=int, default=400)
    t = sub.add_parser("timing")
    t.add_argument("--pictures", type=int, default=20)
    r = sub.add_parser("real-size")
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--tokens", type=int, default=20)
    r.add_argument("--runs", type=int, default=3)
    r.add_argument("--tiny", action="store_true", help="a seconds-long dry run on a tiny model of the same shape")
    r.add_argument("--precision", default="bf16", help="bf16, int8, int4 (quantized ones load their prepared copy, "
                   "made on first use under $XDG_DATA_HOME)")
    r.add_argument("--dir", type=Path, help="a model folder to use instead of building one (e.g. the fp32 shards "
                   "of bench/engine.py --fp32-shards)")
    r.add_argument("--greedy-only", action="store_true", help="skip the 5-beam caption (minutes at real size)")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.what == "quality":
        data = quality(args.scenes)
    elif args.what == "timing":
        data = timing(args.pictures)
    else:
        data = real_size(args.threads, args.tokens, args.runs, args.tiny, args.precision, args.dir, args.greedy_only)
    if data:
        _save(args.what, data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
