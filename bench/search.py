"""Benchmark of picture search over a large index on this computer (run by hand; never a test).

Fills a fresh index (a temporary folder, never the user's) with synthetic pictures: random
normalised float16 query embeddings of blip2-itm-vit-g's shape (32 queries x 256), then times:

- the first search after indexing: every embedding read from SQLite into one float16 matrix,
  which is then kept beside the index (store.py);
- the first search in a new process (what each `lookaloud search` pays): the kept matrix read
  in one go, then scored;
- later searches in the same process (what the app's Find picture dialog pays);
- torch is imported before timing (a real search has it loaded for the text model);
- with --text, the text side too: a random-weight model with blip2-itm-vit-g's Q-Former (12
  layers, 768 wide, BERT vocabulary; the vision part is cut down, search never runs it) embeds
  queries through RetrievalModel.text_embeddings, as `lookaloud search` does.

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


def time_text(repeat: int = 10) -> list[float]:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import BertTokenizerFast, Blip2Config, Blip2ForImageTextRetrieval

    from desktop_app.retrieval.engine import RetrievalModel

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", *(f"w{i}" for i in range(30_518))]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tokenizer = BertTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
                                  sep_token="[SEP]")
    config = Blip2Config(
        vision_config={"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "image_size": 28, "patch_size": 14},
        qformer_config={"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                        "intermediate_size": 3072, "encoder_hidden_size": 64, "vocab_size": 30_522,
                        "cross_attention_frequency": 2, "use_qformer_text_input": True},
        num_query_tokens=32, image_text_hidden_size=256)
    model = Blip2ForImageTextRetrieval(config).eval()

    class Processor:
        pass

    processor = Processor()
    processor.tokenizer = tokenizer  # type: ignore[attr-defined]
    retrieval = RetrievalModel(None, model, processor, "cpu", "fp32", 0.0)  # type: ignore[arg-type]
    queries = [" ".join(f"w{(i * 7 + j) % 30_000}" for j in range(8)) for i in range(repeat + 1)]
    retrieval.text_embeddings(queries[:1])  # warm up
    times = []
    with torch.inference_mode():
        for q in queries[1:]:
            start = time.perf_counter()
            retrieval.text_embeddings([q])
            times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pictures", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=32)
    parser.add_argument("--dimension", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--text", action="store_true", help="also time embedding the query text")
    args = parser.parse_args()
    text_ms = time_text() if args.text else None
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
        with IndexStore(path) as store:  # a new connection: nothing cached, no kept matrix yet
            start = time.perf_counter()
            store.search(model_id, texts[0], args.top)
            rows_ms = (time.perf_counter() - start) * 1000
        with IndexStore(path) as store:  # as a new `lookaloud search`: the kept matrix file
            start = time.perf_counter()
            hits = store.search(model_id, texts[0], args.top)
            cold_ms = (time.perf_counter() - start) * 1000
            warm = []
            for text in texts[1:]:
                start = time.perf_counter()
                store.search(model_id, text, args.top)
                warm.append((time.perf_counter() - start) * 1000)
            matrix_mb = sum(f.stat().st_size for f in store.matrix_files(model_id)) / 1e6
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print("| pictures | index MB | kept matrix MB | fill s | first search, from SQLite rows, ms | "
          "first search in a new process ms | later searches ms (median, max) | load |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {args.pictures:,} | {size_mb:.0f} | {matrix_mb:.0f} | {fill_s:.1f} | {rows_ms:.0f} | {cold_ms:.0f} | "
          f"{np.median(warm):.1f}, {max(warm):.1f} | {load:.1f} |")
    if text_ms is not None:
        print(f"\nquery text embedding (real-size Q-Former, fp32): median {np.median(text_ms):.0f} ms, "
              f"max {max(text_ms):.0f} ms over {len(text_ms)} queries")
    assert len(hits) == min(args.top, args.pictures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
