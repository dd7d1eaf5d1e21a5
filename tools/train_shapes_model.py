"""Train the tiny BLIP-2 demo model on generated shape scenes and write it, with its scores,
to resources/models/shapes-demo.

The model is a real Blip2ForConditionalGeneration (ViT, Q-Former, OPT decoder) with a
word-level tokenizer and a real Blip2Processor, small enough to train on a 2-core CPU in
about 20 minutes. Scenes, captions and question/answer pairs come from
desktop_app.vision.demo_scenes; the prompt formats are the ones lookaloud.json gives the
engine. Training is deterministic from --seed; scores are measured on held-out scenes drawn
from --eval-seed.

    .venv/bin/python tools/train_shapes_model.py                   # train, evaluate, save
    .venv/bin/python tools/train_shapes_model.py --eval-only       # score the saved model
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch
import torch.nn.functional as F

from desktop_app.vision import demo_scenes as ds

OUT_DIR = ROOT / "resources" / "models" / "shapes-demo"
IMAGE_SIZE = 128
NUM_QUERY_TOKENS = 16
PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
LOOKALOUD_JSON = {
    "kind": "blip2-opt",
    "label": "Demo model: knows only simple shapes",
    "caption_prompt": ds.CAPTION_PROMPT,
    "question_format": ds.QUESTION_FORMAT,
    "followup_format": ds.FOLLOWUP_FORMAT,
    "caption_generation": {"num_beams": 1, "max_new_tokens": 24},
    "answer_generation": {"num_beams": 1, "max_new_tokens": 6},
}
# Scene seeds: training scene i is TRAIN_BASE * seed + i; held-out scenes use another seed.
TRAIN_BASE = 10_000_000


def build_processor():
    """A word-level tokenizer over the scenes' vocabulary, with an <image> token, and the real
    BLIP image processor resizing to IMAGE_SIZE."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import AddedToken, Blip2Processor, PreTrainedTokenizerFast
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

    vocab = {tok: i for i, tok in enumerate([PAD, UNK, BOS, EOS, *ds.vocabulary()])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation(behavior="isolated")]
    )
    tok.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", special_tokens=[(BOS, vocab[BOS])])
    # WordPiece's cleanup joins "circle ," back into "circle," when decoding.
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=EOS, unk_token=UNK, pad_token=PAD
    )
    tokenizer.add_tokens([AddedToken("<image>", normalized=False, special=True)], special_tokens=True)
    image_processor = BlipImageProcessorPil(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    return Blip2Processor(image_processor, tokenizer, num_query_tokens=NUM_QUERY_TOKENS)


def build_model(tokenizer):
    from transformers import Blip2Config, Blip2ForConditionalGeneration

    hidden = 128
    config = Blip2Config(
        vision_config={
            "hidden_size": hidden, "intermediate_size": 4 * hidden, "num_hidden_layers": 3,
            "num_attention_heads": 4, "image_size": IMAGE_SIZE, "patch_size": 16, "initializer_range": 0.02,
        },
        qformer_config={
            "vocab_size": 8, "hidden_size": hidden, "num_hidden_layers": 2, "num_attention_heads": 4,
            "intermediate_size": 4 * hidden, "cross_attention_frequency": 1, "encoder_hidden_size": hidden,
            "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, "max_position_embeddings": 64,
        },
        text_config={
            "model_type": "opt", "vocab_size": len(tokenizer), "hidden_size": hidden, "num_hidden_layers": 3,
            "ffn_dim": 4 * hidden, "num_attention_heads": 4, "max_position_embeddings": 160,
            "word_embed_proj_dim": hidden, "dropout": 0.0, "attention_dropout": 0.0,
            "pad_token_id": tokenizer.pad_token_id, "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
        },
        num_query_tokens=NUM_QUERY_TOKENS,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
    )
    model = Blip2ForConditionalGeneration(config)
    gen = model.generation_config
    gen.bos_token_id, gen.eos_token_id = tokenizer.bos_token_id, tokenizer.eos_token_id
    gen.pad_token_id = tokenizer.pad_token_id
    gen.max_new_tokens, gen.num_beams, gen.do_sample = 24, 1, False
    return model


class Encoder:
    """Token ids for prompt pieces, cached because the same phrases come back all the time."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.image_id = tokenizer.convert_tokens_to_ids("<image>")
        self.bos, self.eos, self.pad = tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
        self._ids: dict[str, tuple[int, ...]] = {}

    def ids(self, text: str) -> tuple[int, ...]:
        if text not in self._ids:
            out = tuple(self.tokenizer(text, add_special_tokens=False)["input_ids"])
            if self.tokenizer.unk_token_id in out:
                raise ValueError(f"unknown word in {text!r}")
            self._ids[text] = out
        return self._ids[text]

    def caption_example(self, caption: str) -> tuple[list[int], list[int]]:
        """(ids, loss mask) for [image] <s> caption </s>."""
        ids = [self.bos, *self.ids(caption), self.eos]
        return ids, [0] + [1] * (len(ids) - 1)

    def qa_example(self, turns: list[ds.QA]) -> tuple[list[int], list[int]]:
        """(ids, loss mask) for a conversation in the engine's follow-up format; every answer
        is learned, and the last one ends with </s>."""
        ids, mask = [self.bos], [0]
        for i, qa in enumerate(turns):
            if i:
                ids.extend(self.ids(" "))
            prompt = self.ids(ds.QUESTION_FORMAT.format(question=qa.question))
            answer = self.ids(qa.answer)
            ids.extend(prompt)
            mask.extend([0] * len(prompt))
            ids.extend(answer)
            mask.extend([1] * len(answer))
            last = i == len(turns) - 1
            tail = [self.eos] if last else list(self.ids("."))
            ids.extend(tail)
            mask.extend([1 if last else 0] * len(tail))
        return ids, mask


def pick_turns(scene: ds.Scene, rng: random.Random) -> list[ds.QA]:
    """One to three questions about the scene, the question kind chosen first so that rare
    kinds (the sign's word, position) get their share."""
    by_kind: dict[str, list[ds.QA]] = {}
    for qa in scene.questions():
        by_kind.setdefault(qa.kind, []).append(qa)
    turns = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        kind = rng.choice(sorted(by_kind))
        turns.append(rng.choice(by_kind[kind]))
    return turns


def lm_logits(model, features: torch.Tensor, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """Logits for [image features] + ids, the same way the engine's cached-features path feeds
    the decoder. features: (B, Q, H); ids, attention: (B, T)."""
    embeds = model.get_input_embeddings()(ids)
    inputs = torch.cat([features.to(embeds.dtype), embeds], dim=1)
    mask = torch.cat([torch.ones(features.shape[:2], dtype=attention.dtype), attention], dim=1)
    return model.language_model(inputs_embeds=inputs, attention_mask=mask).logits


def pad_batch(rows: list[list[int]], value: int) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [value] * (width - len(r)) for r in rows])


def train(args: argparse.Namespace) -> None:
    torch.manual_seed(args.seed)
    processor = build_processor()
    model = build_model(processor.tokenizer)
    enc = Encoder(processor.tokenizer)
    print(f"parameters: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M", flush=True)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n]
    other = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": other, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98))
    rng = random.Random(args.seed)
    model.train()
    start = time.monotonic()
    for step in range(args.steps):
        lr = args.lr * min(1.0, (step + 1) / args.warmup) * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        for group in opt.param_groups:
            group["lr"] = lr
        scenes = [ds.random_scene(TRAIN_BASE * args.seed + step * args.batch + i) for i in range(args.batch)]
        px = processor.image_processor([s.render() for s in scenes], return_tensors="pt")["pixel_values"]
        rows, masks, owners = [], [], []
        for i, scene in enumerate(scenes):
            for ids, mask in (enc.caption_example(scene.caption()), enc.qa_example(pick_turns(scene, rng))):
                rows.append(ids)
                masks.append(mask)
                owners.append(i)
        ids = pad_batch(rows, enc.pad)
        loss_mask = pad_batch(masks, 0).bool()
        attention = pad_batch([[1] * len(r) for r in rows], 0)
        features = model.get_image_features(pixel_values=px, return_dict=True).pooler_output
        logits = lm_logits(model, features[torch.tensor(owners)], ids, attention)
        # The Q image positions come first; the logit at Q + t predicts text token t + 1.
        pred = logits[:, NUM_QUERY_TOKENS : NUM_QUERY_TOKENS + ids.shape[1] - 1]
        target = ids[:, 1:]
        tmask = loss_mask[:, 1:]
        loss = F.cross_entropy(pred[tmask], target[tmask])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 25 == 0 or step < 8 or step == args.steps - 1:
            print(f"step {step:5d}  loss {loss.item():.4f}  lr {lr:.2e}  {time.monotonic() - start:7.1f} s",
                  flush=True)
    train_seconds = time.monotonic() - start
    model.eval()
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)
    processor.save_pretrained(args.out)
    (args.out / "lookaloud.json").write_text(json.dumps(LOOKALOUD_JSON, indent=2) + "\n")
    (args.out / "training.json").write_text(json.dumps(
        {"seed": args.seed, "steps": args.steps, "batch": args.batch, "lr": args.lr,
         "train_seconds": round(train_seconds), "threads": torch.get_num_threads()}, indent=2) + "\n")
    print(f"saved to {args.out} after {train_seconds:.0f} s", flush=True)


@torch.no_grad()
def greedy(model, enc: Encoder, features: torch.Tensor, prompts: list[list[int]], max_new: int) -> list[str]:
    """Batched greedy decoding from image features; stops at </s>. Recomputes the (tiny)
    decoder each step instead of caching, which keeps right padding simple."""
    rows = [list(p) for p in prompts]
    done = [False] * len(rows)
    out: list[list[int]] = [[] for _ in rows]
    for _ in range(max_new):
        ids = pad_batch(rows, enc.pad)
        attention = pad_batch([[1] * len(r) for r in rows], 0)
        logits = lm_logits(model, features, ids, attention)
        last = torch.tensor([NUM_QUERY_TOKENS + len(r) - 1 for r in rows])
        nxt = logits[torch.arange(len(rows)), last].argmax(-1).tolist()
        for i, tok in enumerate(nxt):
            if done[i]:
                continue
            if tok == enc.eos:
                done[i] = True
            else:
                out[i].append(tok)
                rows[i].append(tok)
        if all(done):
            break
    return [enc.tokenizer.decode(o, skip_special_tokens=True).strip() for o in out]


@torch.no_grad()
def evaluate(folder: Path, eval_seed: int, scenes: int, dtype: torch.dtype = torch.float32) -> dict:
    """Caption exact match and VQA accuracy per question kind on held-out scenes."""
    from transformers import Blip2ForConditionalGeneration, Blip2Processor

    model = Blip2ForConditionalGeneration.from_pretrained(folder, dtype=dtype).eval()
    processor = Blip2Processor.from_pretrained(folder)
    enc = Encoder(processor.tokenizer)
    right: dict[str, int] = {}
    total: dict[str, int] = {}
    wrong_examples: list[str] = []
    for first in range(0, scenes, 50):
        batch = [ds.random_scene(eval_seed * TRAIN_BASE + i) for i in range(first, min(scenes, first + 50))]
        px = processor.image_processor([s.render() for s in batch], return_tensors="pt")["pixel_values"]
        feats = model.get_image_features(pixel_values=px.to(dtype), return_dict=True).pooler_output
        captions = greedy(model, enc, feats, [[enc.bos]] * len(batch), 24)
        owners, prompts, qas = [], [], []
        for i, scene in enumerate(batch):
            for qa in scene.questions():
                owners.append(i)
                prompts.append([enc.bos, *enc.ids(ds.QUESTION_FORMAT.format(question=qa.question))])
                qas.append(qa)
        answers = greedy(model, enc, feats[torch.tensor(owners)], prompts, 6)
        for scene, got in zip(batch, captions):
            ok = got == scene.caption()
            right["caption"] = right.get("caption", 0) + ok
            total["caption"] = total.get("caption", 0) + 1
            if not ok and len(wrong_examples) < 10:
                wrong_examples.append(f"caption: want {scene.caption()!r} got {got!r}")
        for qa, got in zip(qas, answers):
            ok = got == qa.answer
            right[qa.kind] = right.get(qa.kind, 0) + ok
            total[qa.kind] = total.get(qa.kind, 0) + 1
            if not ok and len(wrong_examples) < 30:
                wrong_examples.append(f"{qa.question} want {qa.answer!r} got {got!r}")
    scores = {k: {"accuracy": round(right[k] / total[k], 4), "n": total[k]} for k in total}
    return {"eval_seed": eval_seed, "scenes": scenes, "dtype": str(dtype).replace("torch.", ""),
            "scores": scores, "wrong_examples": wrong_examples}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--eval-seed", type=int, default=2)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=48)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--eval-scenes", type=int, default=400)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--eval-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not args.eval_only:
        train(args)
    results = {}
    for dtype in (torch.float32, torch.bfloat16):
        results[str(dtype).replace("torch.", "")] = evaluate(args.out, args.eval_seed, args.eval_scenes, dtype)
        print(json.dumps(results[str(dtype).replace("torch.", "")], indent=2), flush=True)
    (args.out / "scores.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
