"""Benchmark of picture search over a large index on this computer (run by hand; never a test).

Fills a fresh index (a temporary folder, never the user's) with synthetic pictures: random
normalised float16 query embeddings of blip2-itm-vit-g's shape (32 queries x 256), then times:

- cold: the first search in a new process, reading every embedding from SQLite into one
  float32 matrix and scoring it (what `lookaloud search` pays once per run);
- warm: later searches with that matrix kept (what the app's Find picture dialog pays);
- torch is imported before timing (a real search has it loaded for the text model);
- the text side is not included: embedding one query with the real model is a Q-Former pass
  (12 layers over a few tokens), timed separately with --tiny's demo model when present.

    .venv/bin/python bench/search.py                  # 10,000 pictures
    .venv/bin/python bench/search.py --pictures 50000 --repeat 20
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from desktop_app.retrieval.store import IndexStore


def fill(store: IndexStore, pictures: int, queries: int, dimension: int, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    model_id = store.model_id("bench-model", "0" * 40, queries, dimension)
    for start in range(0, pictures, 1000):
        block = rng.standard_normal((min(1000, pictures - start), queries, dimension), dtype=np.float32)
        block /= np.linalg.norm(block, axis=-1, keepdims=True)
        for i, vectors in enumerate(block.astype(np.float16)):
            n = start + i
            store.put(f"/pictures/{n // 1000:03d}/picture-{n:06d}.jpg", 100_000 + n, n, f"{n:064x}",
                      f"a synthetic picture number {n}", model_id, vectors)
        store.commit()
    return model_id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pictures", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=32)
    parser.add_argument("--dimension", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    import torch  # noqa: F401 - loaded by every real search anyway (the text model); not timed

    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index.sqlite3"
        start = time.perf_counter()
        with IndexStore(path) as store:
            model_id = fill(store, args.pictures, args.queries, args.dimension)
        fill_s = time.perf_counter() - start
        size_mb = os.path.getsize(path) / 1e6
        texts = rng.standard_normal((args.repeat + 1, args.dimension)).astype(np.float32)
        texts /= np.linalg.norm(texts, axis=-1, keepdims=True)
        with IndexStore(path) as store:  # a new connection: nothing cached
            start = time.perf_counter()
            hits = store.search(model_id, texts[0], args.top)
            cold_ms = (time.perf_counter() - start) * 1000
            warm = []
            for text in texts[1:]:
                start = time.perf_counter()
                store.search(model_id, text, args.top)
                warm.append((time.perf_counter() - start) * 1000)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print("| pictures | index MB | fill s | cold search ms | warm search ms (median, max) | load |")
    print("|---|---|---|---|---|---|")
    print(f"| {args.pictures:,} | {size_mb:.0f} | {fill_s:.1f} | {cold_ms:.0f} | "
          f"{np.median(warm):.1f}, {max(warm):.1f} | {load:.1f} |")
    assert len(hits) == min(args.top, args.pictures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
