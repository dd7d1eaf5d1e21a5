"""Held-out scores of the shapes-demo model in fp32, int8 and int4, per question kind (issue 14's
quality guard): the rows for the model card's table, and the largest drop against fp32.

The scoring is the model's own (`tools/train_shapes_model.evaluate`: the same held-out scenes,
greedy decoding from cached image features); only the model differs: int8 and int4 are the
loader's quantized models (`load_model(..., precision=...)`: the language model in 8 or 4 bits,
the vision transformer and Q-Former in 8 bits, the rest in the CPU's float type), put in place of `from_pretrained` for that call.

    .venv/bin/python bench/demo_quant_scores.py                 # 400 scenes, as the card
    .venv/bin/python bench/demo_quant_scores.py --scenes 100 --json out.json

Prints a Markdown table; exits 1 when a quantized precision is more than --max-drop points below
fp32 in any kind.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
if str(REPO / "tools") not in sys.path:
    sys.path.insert(0, str(REPO / "tools"))


def scores(precision: str, scenes: int, eval_seed: int = 2, folder: Path | None = None,
           eval_set: str = "demo") -> dict[str, Any]:
    """evaluate() of the demo model's training tool, on the model as the loader gives it."""
    import torch
    import train_shapes_model as tsm
    from transformers import Blip2ForConditionalGeneration

    from desktop_app.models import vision_catalog as catalog
    from desktop_app.vision import loader

    folder = folder or catalog.demo_folder()
    if precision == "fp32":
        return tsm.evaluate(folder, eval_seed, scenes, torch.float32, eval_set=eval_set)
    loaded = loader.load_model(catalog.resolve(str(folder)), device="cpu", precision=precision, prepare=False)
    original = Blip2ForConditionalGeneration.from_pretrained
    try:
        Blip2ForConditionalGeneration.from_pretrained = lambda *a, **k: loaded.model  # type: ignore[method-assign]
        return tsm.evaluate(folder, eval_seed, scenes, loaded.dtype, eval_set=eval_set)
    finally:
        Blip2ForConditionalGeneration.from_pretrained = original  # type: ignore[method-assign]


def table(results: dict[str, dict[str, Any]]) -> str:
    kinds = list(next(iter(results.values()))["scores"])
    lines = ["| | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    for precision, res in results.items():
        cells = [f"{res['scores'][k]['accuracy'] * 100:.1f}% ({res['scores'][k]['n']})" for k in kinds]
        lines.append(f"| {precision} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def largest_drop(results: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Per quantized precision, the largest fall below fp32 over all kinds, in points."""
    base = results["fp32"]["scores"]
    return {p: max((base[k]["accuracy"] - r["scores"][k]["accuracy"]) * 100 for k in base)
            for p, r in results.items() if p != "fp32"}


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenes", type=int, default=400)
    parser.add_argument("--precisions", default="fp32,int8,int4")
    parser.add_argument("--max-drop", type=float, default=1.0, help="points below fp32 allowed in any kind")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--eval-set", default="demo", choices=("demo", "wide", "other"),
                        help="held-out scenes: demo_scenes' classic ones (the card's table), its wide ones, "
                             "or testkit/other_scenes.py's")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    results = {p: scores(p, args.scenes, eval_set=args.eval_set) for p in args.precisions.split(",")}
    print(table(results))
    drops = largest_drop(results)
    print("\nLargest drop below fp32: " + ", ".join(f"{p} {d:.1f} points" for p, d in drops.items()))
    if args.json:
        args.json.write_text(json.dumps({"results": results, "drops": drops}, indent=1), encoding="utf-8")
    return 0 if all(d <= args.max_drop for d in drops.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
