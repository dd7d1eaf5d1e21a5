"""Train the tiny BLIP-2 demo model on generated shape scenes and write it, with its scores,
to resources/models/shapes-demo.

The model is a real Blip2ForConditionalGeneration (ViT, Q-Former, OPT decoder) with a
word-level tokenizer and a real Blip2Processor, small enough to train on a 2-core CPU in
about 20 minutes. Scenes, captions and question/answer pairs come from
testkit.demo_scenes; the prompt formats are the ones lookaloud.json gives the
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
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch
import torch.nn.functional as F

from testkit import demo_scenes as ds

OUT_DIR = ROOT / "resources" / "models" / "shapes-demo"
IMAGE_SIZE = 96
NUM_QUERY_TOKENS = 8
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
    # Initial weights ~1/sqrt(width): the usual 0.02 suits wide models, but at width 128 it
    # leaves every attention layer uniform and its gradients tiny, and the model sat on a blind
    # language prior for hundreds of steps.
    init = 0.08
    config = Blip2Config(
        vision_config={
            "hidden_size": hidden, "intermediate_size": 4 * hidden, "num_hidden_layers": 3,
            "num_attention_heads": 4, "image_size": IMAGE_SIZE, "patch_size": 32, "initializer_range": init,
        },
        qformer_config={
            "vocab_size": 8, "hidden_size": hidden, "num_hidden_layers": 2, "num_attention_heads": 4,
            "intermediate_size": 4 * hidden, "cross_attention_frequency": 1, "encoder_hidden_size": hidden,
            "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, "max_position_embeddings": 64,
            "initializer_range": init,
        },
        text_config={
            "model_type": "opt", "vocab_size": len(tokenizer), "hidden_size": hidden, "num_hidden_layers": 3,
            "ffn_dim": 4 * hidden, "num_attention_heads": 4, "max_position_embeddings": 160,
            "word_embed_proj_dim": hidden, "dropout": 0.0, "attention_dropout": 0.0,
            "pad_token_id": tokenizer.pad_token_id, "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id, "init_std": init,
        },
        num_query_tokens=NUM_QUERY_TOKENS,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        initializer_range=init,
    )
    model = Blip2ForConditionalGeneration(config)
    # transformers starts the query tokens at zero (pretrained checkpoints overwrite them); from
    # scratch, identical queries would all read the same thing from the picture for a long while.
    with torch.no_grad():
        model.query_tokens.normal_(0.0, init)
        # Where a patch is must stand out against what it shows, or the Q-Former cannot tell the
        # left shape from the right one: at std `init` the 3072 pixels of a patch outweighed
        # its position embedding fifty to one, and colours came out unbound to places.
        embeddings = model.vision_model.embeddings
        fan_in = embeddings.patch_embedding.weight[0].numel()
        embeddings.patch_embedding.weight.normal_(0.0, fan_in**-0.5)
        embeddings.position_embedding.normal_(0.0, 1.0)
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


def scene_labels(scene: ds.Scene) -> list[int]:
    """Class labels for the auxiliary probe: colour and shape in each column (or empty),
    background, sign word (or none) and shape count."""
    labels = []
    by_column = {s.column: s for s in scene.shapes}
    for col in range(3):
        shape = by_column.get(col)
        labels.append(list(ds.COLOURS).index(shape.colour) + 1 if shape else 0)
        labels.append(ds.SHAPES.index(shape.kind) + 1 if shape else 0)
    labels.append(BACKGROUND_NAMES.index(scene.background_name()))
    labels.append(ds.SIGN_WORDS.index(scene.sign) + 1 if scene.sign else 0)
    labels.append(len(scene.shapes) - 1)
    return labels


BACKGROUND_NAMES = [*ds.BACKGROUNDS, *(f"{a} and {b}" for i, a in enumerate(ds.BACKGROUNDS)
                                       for b in list(ds.BACKGROUNDS)[i + 1:])]
PROBE_CLASSES = [len(ds.COLOURS) + 1, len(ds.SHAPES) + 1] * 3 + [len(BACKGROUND_NAMES), len(ds.SIGN_WORDS) + 1, 3]


class Probe(torch.nn.Module):
    """Training-only linear read-out of the Q-Former's query outputs (not saved). From
    scratch, the decoder first learns the answers' language prior and ignores the picture;
    this probe gives the vision transformer and Q-Former a direct signal from the first step,
    much as BLIP-2's first training stage teaches the Q-Former before the language model
    reads it."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.heads = torch.nn.Linear(width, sum(PROBE_CLASSES))

    def loss(self, queries: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, float]:
        logits = self.heads(queries.flatten(1)).split(PROBE_CLASSES, dim=-1)
        losses = [F.cross_entropy(lg, labels[:, i]) for i, lg in enumerate(logits)]
        right = torch.stack([lg.argmax(-1) == labels[:, i] for i, lg in enumerate(logits)])
        return torch.stack(losses).mean(), right.float().mean().item()


def pick_turns(scene: ds.Scene, rng: random.Random, max_turns: int = 3) -> list[ds.QA]:
    """One to three questions about the scene, the question kind chosen first so that rare
    kinds (the sign's word, position) get their share."""
    by_kind: dict[str, list[ds.QA]] = {}
    for qa in scene.questions():
        by_kind.setdefault(qa.kind, []).append(qa)
    turns = []
    for _ in range(rng.choice((1, 1, *range(2, max_turns + 1)))):
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


def train(args: argparse.Namespace) -> tuple:
    torch.manual_seed(args.seed)
    processor = build_processor()
    model = build_model(processor.tokenizer)
    enc = Encoder(processor.tokenizer)
    print(f"parameters: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M", flush=True)
    probe = Probe(NUM_QUERY_TOKENS * model.config.qformer_config.hidden_size)
    named = [*model.named_parameters(), *probe.named_parameters()]
    decay = [p for n, p in named if p.dim() >= 2 and "embed" not in n]
    other = [p for n, p in named if not (p.dim() >= 2 and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": other, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98))
    rng = random.Random(args.seed)
    model.train()
    start = time.monotonic()

    def set_lr(step: int, total: int) -> float:
        lr = args.lr * min(1.0, (step + 1) / args.warmup) * 0.5 * (1 + math.cos(math.pi * step / total))
        for group in opt.param_groups:
            group["lr"] = lr
        return lr

    # Stage 1, like BLIP-2's first stage: the vision transformer and Q-Former learn to read the
    # scene through the probe alone, which is cheap (no decoder) and gives the decoder
    # something worth reading when stage 2 starts.
    for step in range(args.probe_steps):
        lr = set_lr(step, args.probe_steps)
        scenes = [ds.random_scene(TRAIN_BASE * args.seed + TRAIN_BASE // 2 + step * args.batch + i)
                  for i in range(args.batch)]
        px = processor.image_processor([s.render() for s in scenes], return_tensors="pt")["pixel_values"]
        image = model.get_image_features(pixel_values=px, return_dict=True)
        probe_loss, probe_acc = probe.loss(image.qformer_outputs.last_hidden_state,
                                           torch.tensor([scene_labels(s) for s in scenes]))
        opt.zero_grad(set_to_none=True)
        probe_loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == args.probe_steps - 1:
            print(f"probe step {step:5d}  loss {probe_loss.item():.4f}  probe {probe_acc:.3f}  lr {lr:.2e}  "
                  f"{time.monotonic() - start:7.1f} s", flush=True)
    # Stage 2: everything together, captions and question chains through the decoder.
    for step in range(args.steps):
        lr = set_lr(step, args.steps)
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
        image = model.get_image_features(pixel_values=px, return_dict=True)
        features = image.pooler_output
        probe_loss, probe_acc = probe.loss(image.qformer_outputs.last_hidden_state,
                                           torch.tensor([scene_labels(s) for s in scenes]))
        logits = lm_logits(model, features[torch.tensor(owners)], ids, attention)
        # The Q image positions come first; the logit at Q + t predicts text token t + 1.
        pred = logits[:, NUM_QUERY_TOKENS : NUM_QUERY_TOKENS + ids.shape[1] - 1]
        target = ids[:, 1:]
        tmask = loss_mask[:, 1:]
        loss = F.cross_entropy(pred[tmask], target[tmask])
        # Token accuracy on the questions' answers: leaves the blind language prior once the
        # model starts to look at the picture.
        is_qa = torch.tensor([i % 2 == 1 for i in range(len(rows))])[:, None] & tmask
        answer_acc = (pred.argmax(-1) == target)[is_qa].float().mean().item()
        opt.zero_grad(set_to_none=True)
        (loss + args.probe_weight * probe_loss).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 25 == 0 or step == args.steps - 1:
            print(f"step {step:5d}  loss {loss.item():.4f}  answer tokens {answer_acc:.3f}  "
                  f"probe {probe_acc:.3f}  lr {lr:.2e}  {time.monotonic() - start:7.1f} s", flush=True)
    return model, processor, time.monotonic() - start


def answer_practice(model, processor, args: argparse.Namespace) -> float:
    """Stage 3: the decoder alone, on long question chains. After stage 2 the captions are
    right but answers lag: a caption teaches twenty tokens per picture, a question one. The
    picture side is frozen (its features are exact already), which makes a step cheap."""
    start = time.monotonic()
    enc = Encoder(processor.tokenizer)
    for param in model.parameters():
        param.requires_grad_(False)
    params = list(model.language_model.parameters())
    for param in params:
        param.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=args.qa_lr, betas=(0.9, 0.98), weight_decay=0.0)
    rng = random.Random(args.seed + 1)
    model.train()
    for step in range(args.qa_steps):
        lr = args.qa_lr * min(1.0, (step + 1) / args.warmup) * 0.5 * (1 + math.cos(math.pi * step / args.qa_steps))
        for group in opt.param_groups:
            group["lr"] = lr
        scenes = [ds.random_scene(TRAIN_BASE * args.seed + 8 * TRAIN_BASE // 10 + step * args.batch + i)
                  for i in range(args.batch)]
        px = processor.image_processor([s.render() for s in scenes], return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            features = model.get_image_features(pixel_values=px, return_dict=True).pooler_output
        rows, masks, owners = [], [], []
        for i, scene in enumerate(scenes):
            examples = [enc.caption_example(scene.caption())]
            examples += [enc.qa_example(pick_turns(scene, rng, max_turns=4)) for _ in range(2)]
            for ids, mask in examples:
                rows.append(ids)
                masks.append(mask)
                owners.append(i)
        ids = pad_batch(rows, enc.pad)
        tmask = pad_batch(masks, 0).bool()[:, 1:]
        attention = pad_batch([[1] * len(r) for r in rows], 0)
        logits = lm_logits(model, features[torch.tensor(owners)], ids, attention)
        pred = logits[:, NUM_QUERY_TOKENS : NUM_QUERY_TOKENS + ids.shape[1] - 1]
        target = ids[:, 1:]
        loss = F.cross_entropy(pred[tmask], target[tmask])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % 25 == 0 or step == args.qa_steps - 1:
            is_qa = torch.tensor([i % 3 != 0 for i in range(len(rows))])[:, None] & tmask
            answer_acc = (pred.argmax(-1) == target)[is_qa].float().mean().item()
            print(f"answer step {step:5d}  loss {loss.item():.4f}  answer tokens {answer_acc:.3f}  lr {lr:.2e}  "
                  f"{time.monotonic() - start:7.1f} s", flush=True)
    model.eval()
    for param in model.parameters():
        param.requires_grad_(True)
    return time.monotonic() - start


def save(model, processor, args: argparse.Namespace, seconds: float) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)
    processor.save_pretrained(args.out)
    (args.out / "lookaloud.json").write_text(json.dumps(LOOKALOUD_JSON, indent=2) + "\n")
    # Stage 3 may run again on a saved model (--resume): each round is kept, so the card can
    # give every command that made the model.
    rounds = [args.qa_steps]
    if args.resume:
        before = json.loads((args.resume / "training.json").read_text())
        rounds = [*before.get("qa_rounds", [before["qa_steps"]]), args.qa_steps]
    (args.out / "training.json").write_text(json.dumps(
        {"seed": args.seed, "probe_steps": args.probe_steps, "steps": args.steps, "qa_steps": rounds[0],
         "qa_rounds": rounds, "batch": args.batch, "lr": args.lr, "qa_lr": args.qa_lr,
         "probe_weight": args.probe_weight, "train_seconds": round(seconds), "threads": torch.get_num_threads()},
        indent=2) + "\n")
    print(f"saved to {args.out} after {seconds:.0f} s of training", flush=True)


@torch.no_grad()
def greedy(model, enc: Encoder, features: torch.Tensor, prompts: list[list[int]], max_new: int) -> list[str]:
    """Batched greedy decoding from image features; stops at </s>. Recomputes the (tiny)
    decoder each step for the rows still going instead of caching, which keeps right padding
    simple."""
    rows = [list(p) for p in prompts]
    out: list[list[int]] = [[] for _ in rows]
    active = list(range(len(rows)))
    for _ in range(max_new):
        if not active:
            break
        ids = pad_batch([rows[i] for i in active], enc.pad)
        attention = pad_batch([[1] * len(rows[i]) for i in active], 0)
        logits = lm_logits(model, features[torch.tensor(active)], ids, attention)
        last = torch.tensor([NUM_QUERY_TOKENS + len(rows[i]) - 1 for i in active])
        nxt = logits[torch.arange(len(active)), last].argmax(-1).tolist()
        still = []
        for i, tok in zip(active, nxt):
            if tok != enc.eos:
                out[i].append(tok)
                rows[i].append(tok)
                still.append(i)
        active = still
    return [enc.tokenizer.decode(o, skip_special_tokens=True).strip() for o in out]


def question_form(question: str) -> str:
    """The question with its colour, shape and place words replaced by COLOUR, SHAPE, PLACE."""
    question = re.sub(r"\b(" + "|".join(ds.COLOURS) + r")\b", "COLOUR", question)
    question = re.sub(r"\b(" + "|".join(ds.SHAPES) + r")s?\b", "SHAPE", question).replace("an COLOUR", "a COLOUR")
    return re.sub(r"\b(left|middle|right)\b", "PLACE", question)


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
    form_right: dict[str, int] = {}
    form_total: dict[str, int] = {}
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
            form = question_form(qa.question)
            form_right[form] = form_right.get(form, 0) + ok
            form_total[form] = form_total.get(form, 0) + 1
            total[qa.kind] = total.get(qa.kind, 0) + 1
            if not ok and len(wrong_examples) < 30:
                wrong_examples.append(f"{qa.question} want {qa.answer!r} got {got!r}")
    scores = {k: {"accuracy": round(right[k] / total[k], 4), "n": total[k]} for k in total}
    forms = {k: {"accuracy": round(form_right[k] / form_total[k], 4), "n": form_total[k]} for k in form_total}
    return {"eval_seed": eval_seed, "scenes": scenes, "dtype": str(dtype).replace("torch.", ""),
            "question_forms": dict(sorted(forms.items(), key=lambda kv: -kv[1]["accuracy"])),
            "scores": scores, "wrong_examples": wrong_examples}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--eval-seed", type=int, default=2)
    parser.add_argument("--probe-steps", type=int, default=2000, help="stage 1: vision and Q-Former only")
    parser.add_argument("--steps", type=int, default=800, help="stage 2: the whole model")
    parser.add_argument("--qa-steps", type=int, default=600, help="stage 3: the decoder on questions")
    parser.add_argument("--qa-lr", type=float, default=2e-3)
    parser.add_argument("--resume", type=Path, help="run stage 3 only, from this folder")
    parser.add_argument("--batch", type=int, default=48)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--probe-weight", type=float, default=1.0)
    parser.add_argument("--eval-scenes", type=int, default=400)
    # One thread: on a shared, oversubscribed 2-core machine two torch threads spin-wait on
    # each other and ran several times slower. Results depend on the thread count.
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--eval-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.resume:
        # Stage 3 only, from a folder saved after stage 2 (the same as the tail of a full run:
        # stage 3 starts its own optimizer and random generator).
        from transformers import Blip2ForConditionalGeneration, Blip2Processor

        model = Blip2ForConditionalGeneration.from_pretrained(args.resume, dtype=torch.float32)
        processor = Blip2Processor.from_pretrained(args.resume)
        before = json.loads((args.resume / "training.json").read_text())["train_seconds"]
        save(model, processor, args, before + answer_practice(model, processor, args))
    elif not args.eval_only:
        model, processor, seconds = train(args)
        seconds += answer_practice(model, processor, args)
        save(model, processor, args, seconds)
    results = {}
    for dtype in (torch.float32, torch.bfloat16):
        results[str(dtype).replace("torch.", "")] = evaluate(args.out, args.eval_seed, args.eval_scenes, dtype)
        print(json.dumps(results[str(dtype).replace("torch.", "")], indent=2), flush=True)
    (args.out / "scores.json").write_text(json.dumps(results, indent=2) + "\n")
    write_card(args.out, results)
    return 0


def write_card(folder: Path, results: dict) -> None:
    """README.md: what the model knows, how it was made and how well it does."""
    training = json.loads((folder / "training.json").read_text())
    config = json.loads((folder / "config.json").read_text())
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        params = sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())  # noqa: SIM118
    kinds = ["caption", *ds.QUESTION_KINDS]
    header = "| | " + " | ".join(kinds) + " |\n|---|" + "---|" * len(kinds) + "\n"
    rows = ""
    for dtype, res in results.items():
        cells = [f"{res['scores'][k]['accuracy'] * 100:.1f}% ({res['scores'][k]['n']})" if k in res["scores"]
                 else "-" for k in kinds]
        rows += f"| {dtype} | " + " | ".join(cells) + " |\n"
    eval_scenes = next(iter(results.values()))["scenes"]
    first = next(iter(results.values()))
    forms = "\n".join(f"| {q} | {v['accuracy'] * 100:.1f}% | {v['n']} |" for q, v in first["question_forms"].items())
    vision, text = config["vision_config"], config["text_config"]
    rounds = training.get("qa_rounds", [training["qa_steps"]])
    more_rounds = "".join(f"\nthen `.venv/bin/python tools/train_shapes_model.py --resume resources/models/shapes-demo "
                          f"--qa-steps {r} --threads {training['threads']}`" for r in rounds[1:])
    card = f"""# shapes-demo: a tiny BLIP-2 that knows only simple shapes

Lookaloud's demo model ("Demo model: knows only simple shapes") and its test oracle. It is a
real `Blip2ForConditionalGeneration` (ViT, Q-Former, OPT decoder) with a word-level tokenizer
and a real `Blip2Processor`, trained from scratch on pictures drawn by
`testkit/demo_scenes.py`. It needs no download and runs anywhere in a fraction of
a second, but it knows nothing about real screens or photos.

## What it knows

- One to three shapes ({", ".join(ds.SHAPES)}) in {", ".join(ds.COLOURS)}, in three sizes,
  near the middle of three columns (left, middle, right), on a {", ".join(ds.BACKGROUNDS)} or
  two-tone background, sometimes with a sign near the bottom showing one of:
  {", ".join(ds.SIGN_WORDS)}. Pictures of other layouts or anything real get guesses.
- Captions like "a red circle, a blue square and a sign that says stop on a white background"
  (shapes named left to right; the engine adds the capital letter and full stop).
- Questions in lower-case answers of one to three words: colour ("what colour is the shape on the
  left?", "what color is the star?"), shape ("what shape is on the right?", "what shape is the red
  one?"), count ("how many shapes are there?", "how many circles are there?"), position ("where is
  the red circle?"), presence ("is there a triangle?", "is there a blue star?", "is there a sign?"),
  the written word ("what does the sign say?") and the background ("what colour is the
  background?"). Follow-ups in the `lookaloud.json` format work.
- Any other word is unknown to its tokenizer; questions outside these templates get guesses.

## How it was made

Commands, in order:
`.venv/bin/python tools/train_shapes_model.py --seed {training['seed']} --probe-steps {training['probe_steps']} \
--steps {training['steps']} --qa-steps {rounds[0]} --batch {training['batch']} --threads {training['threads']}`{more_rounds}

- Stage 1 ({training['probe_steps']} steps): the vision transformer and Q-Former alone, through a
  training-only linear probe (not saved) that names the colour and shape in each column, the
  background, the sign's word and the count, much like BLIP-2's first stage.
- Stage 2 ({training['steps']} steps): the whole model, each step on {training['batch']} freshly drawn scenes,
  each with its caption and a one- to three-turn question chain in the engine's prompt formats.
- Stage 3 ({" + ".join(str(r) for r in rounds)} steps, learning rate {training['qa_lr']}): the decoder alone,
  picture side frozen, on each scene's caption and two question chains of one to four turns.
  Each round starts its own optimizer, warm-up and scene stream from the seed.
- Training: AdamW, learning rate {training['lr']} with warm-up and cosine decay, float32,
  {training['train_seconds'] / 60:.0f} minutes in all on a shared 2-core CPU with {training['threads']} torch thread(s).
  Deterministic for the same seed and thread count.
- Vision: {vision['num_hidden_layers']} layers, hidden {vision['hidden_size']}, {vision['image_size']} px pictures
  in {vision['patch_size']} px patches (the processor resizes to that, bicubic, CLIP mean and std).
- Q-Former: {config['qformer_config']['num_hidden_layers']} layers, {config['num_query_tokens']} query tokens.
- Language model: OPT, {text['num_hidden_layers']} layers, hidden {text['hidden_size']},
  vocabulary of {text['vocab_size']} words; stops at `</s>` (id {text['eos_token_id']}).
- {params / 1e6:.2f} M parameters, float32 safetensors.

## Scores

Held-out scenes drawn from seed {next(iter(results.values()))['eval_seed']}: {eval_scenes} scenes, n = number
of items. Greedy decoding from cached image features, as the app does. Caption: exact match of
the whole caption. Questions: exact match of the answer, for every unambiguous question of
every scene.

{header}{rows}
By question form (float32), from questions that name a place ("the shape on the left") to
those that name content ("the red circle", "is there a triangle?") and need the model to search
the picture:

| question | accuracy | n |
|---|---|---|
{forms}

`.venv/bin/python tools/train_shapes_model.py --eval-only` recomputes these tables.
"""
    (folder / "README.md").write_text(card)


if __name__ == "__main__":
    sys.exit(main())
