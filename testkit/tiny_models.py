"""Tiny, random-weight checkpoints of every model kind Lookaloud runs, built offline.

Each is built from configs with a `tokenizers` word-level tokenizer and the real processor
classes, saved with save_pretrained (safetensors), and loaded back by the tests through the
same from_pretrained path users hit. A few hundred kilobytes each.
"""

from __future__ import annotations

import json
from pathlib import Path

WORDS = ["a", "an", "the", "of", "and", "on", "in", "with", "is", "are", "there", "what", "colour", "color", "red", "green", "blue", "yellow", "white", "black", "circle", "square", "triangle", "star", "shape", "shapes", "one", "two", "three", "left", "right", "yes", "no", "picture", "photo", "question", "answer", "short", "how", "many", "where", "sign", "word", "background", "dog", "cat", "car", "tree", "sky", ":", "?", "."]

IMAGE_SIZE = 32


def _word_tokenizer(specials: list[str], template: tuple[str, str] | None = None, bos: str | None = None):
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate([*specials, *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>" if "<unk>" in vocab else "[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace()])
    if template:
        first, last = template
        tok.post_processor = processors.TemplateProcessing(
            single=f"{first} $A {last}", special_tokens=[(first, vocab[first]), (last, vocab[last])]
        )
    elif bos:
        tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", special_tokens=[(bos, vocab[bos])])
    return tok, vocab, PreTrainedTokenizerFast


def _decoder_tokenizer(eos_at_end: bool = False):
    specials = ["<pad>", "</s>", "<s>", "<unk>"]
    if eos_at_end:
        tok, _vocab, cls = _word_tokenizer(specials)
        from tokenizers import processors

        tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    else:
        tok, _vocab, cls = _word_tokenizer(specials, bos="<s>")
    fast = cls(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", bos_token="<s>", unk_token="<unk>")
    return fast


def _image_processor():
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

    return BlipImageProcessorPil(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})


def _vision_kwargs() -> dict:
    return {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
                "image_size": IMAGE_SIZE, "patch_size": 8}


def _qformer_kwargs(vocab_size: int) -> dict:
    return {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
                "encoder_hidden_size": 32, "vocab_size": vocab_size, "cross_attention_frequency": 1}


def _text_config(kind: str, vocab_size: int):
    from transformers import LlamaConfig, OPTConfig, T5Config

    if kind == "opt":
        return OPTConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, ffn_dim=64, num_attention_heads=2,
                         max_position_embeddings=128, word_embed_proj_dim=32, pad_token_id=0, bos_token_id=2,
                         eos_token_id=1)
    if kind == "t5":
        return T5Config(vocab_size=vocab_size, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                        decoder_start_token_id=0, pad_token_id=0, eos_token_id=1, is_encoder_decoder=True)
    return LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
                       pad_token_id=0, bos_token_id=2, eos_token_id=1)


def build_blip2(folder: Path, text: str = "opt", seed: int = 0) -> Path:
    """A tiny Blip2ForConditionalGeneration with an OPT ("opt") or FlanT5 ("t5") language model."""
    import torch
    from transformers import Blip2Config, Blip2ForConditionalGeneration, Blip2Processor

    torch.manual_seed(seed)
    tokenizer = _decoder_tokenizer(eos_at_end=text == "t5")
    processor = Blip2Processor(_image_processor(), tokenizer, num_query_tokens=4)
    image_token_id = tokenizer.convert_tokens_to_ids("<image>")
    vocab_size = len(tokenizer)
    config = Blip2Config(
        vision_config=_vision_kwargs(), qformer_config=_qformer_kwargs(vocab_size),
        text_config=_text_config(text, vocab_size).to_dict(), num_query_tokens=4, image_token_id=image_token_id,
    )
    model = Blip2ForConditionalGeneration(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def build_instructblip(folder: Path, text: str = "t5", seed: int = 0) -> Path:
    """A tiny InstructBLIP with a FlanT5 ("t5") or Llama/Vicuna-style ("llama") language model."""
    import torch
    from transformers import InstructBlipConfig, InstructBlipForConditionalGeneration, InstructBlipProcessor

    torch.manual_seed(seed)
    tokenizer = _decoder_tokenizer(eos_at_end=text == "t5")
    qtok, _, cls = _word_tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]"], template=("[CLS]", "[SEP]"))
    qformer_tokenizer = cls(tokenizer_object=qtok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
                            sep_token="[SEP]")
    processor = InstructBlipProcessor(_image_processor(), tokenizer, qformer_tokenizer, num_query_tokens=4)
    image_token_id = tokenizer.convert_tokens_to_ids("<image>")
    vocab_size = len(tokenizer)
    config = InstructBlipConfig(
        vision_config=_vision_kwargs(), qformer_config=_qformer_kwargs(len(qformer_tokenizer)),
        text_config=_text_config(text, vocab_size).to_dict(), num_query_tokens=4, image_token_id=image_token_id,
    )
    model = InstructBlipForConditionalGeneration(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def build_blip_pair(folder: Path, seed: int = 0) -> Path:
    """A tiny BLIP captioning model in folder/caption and a BLIP VQA model in folder/vqa."""
    import torch
    from transformers import BlipConfig, BlipForConditionalGeneration, BlipForQuestionAnswering, BlipProcessor

    tok, vocab, cls = _word_tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[DEC]"], template=("[CLS]", "[SEP]"))
    tokenizer = cls(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
                    sep_token="[SEP]", bos_token="[DEC]")
    text_config = {"vocab_size": len(vocab), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                       "num_attention_heads": 2, "encoder_hidden_size": 32, "max_position_embeddings": 64,
                       "pad_token_id": vocab["[PAD]"], "bos_token_id": vocab["[DEC]"], "sep_token_id": vocab["[SEP]"],
                       "eos_token_id": vocab["[SEP]"]}
    config = BlipConfig(text_config=text_config, vision_config=_vision_kwargs(), projection_dim=32)
    for sub, model_cls in (("caption", BlipForConditionalGeneration), ("vqa", BlipForQuestionAnswering)):
        torch.manual_seed(seed + (sub == "vqa"))
        model = model_cls(config).eval()
        target = folder / sub
        target.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(target)
        BlipProcessor(_image_processor(), tokenizer).save_pretrained(target)
    return folder


def write_overrides(folder: Path, **fields) -> None:
    (folder / "lookaloud.json").write_text(json.dumps(fields), encoding="utf-8")


def _retrieval_tokenizer():
    """A BERT-like word-level tokenizer ([CLS] text [SEP]) with `<image>` as a special token."""
    from tokenizers import AddedToken

    tok, _vocab, cls = _word_tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]"], template=("[CLS]", "[SEP]"))
    fast = cls(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]")
    fast.add_special_tokens({"additional_special_tokens": [AddedToken("<image>", normalized=False, special=True)]})
    return fast


def build_blip2_retrieval(folder: Path, seed: int = 0, num_query_tokens: int = 4,
                          vision_from: Path | None = None) -> Path:
    """A tiny Blip2ForImageTextRetrieval (ITC projections and ITM head) saved with a Blip2Processor.

    With `vision_from` (a folder from build_blip2), its vision encoder's tensors are copied in,
    as the real blip2-itm-vit-g shares the frozen ViT-g of the pretrained BLIP-2 checkpoints.
    """
    import torch
    from transformers import Blip2Config, Blip2ForImageTextRetrieval, Blip2Processor

    torch.manual_seed(seed)
    tokenizer = _retrieval_tokenizer()
    processor = Blip2Processor(_image_processor(), tokenizer, num_query_tokens=num_query_tokens)
    vocab_size = len(tokenizer)
    qformer = {**_qformer_kwargs(vocab_size), "max_position_embeddings": 64, "pad_token_id": 0,
               "use_qformer_text_input": True}
    config = Blip2Config(
        # A wider initialisation than the default, so that different pictures and texts get
        # clearly different embeddings from random weights.
        vision_config={**_vision_kwargs(), "initializer_range": 0.3}, qformer_config={**qformer, "initializer_range": 0.3},
        text_config=_text_config("opt", vocab_size).to_dict(), initializer_range=0.3,
        num_query_tokens=num_query_tokens, image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        image_text_hidden_size=16,
    )
    config.architectures = ["Blip2ForImageTextRetrieval"]
    model = Blip2ForImageTextRetrieval(config).eval()
    with torch.no_grad():  # random query tokens: zeros (the default) make every query the same
        model.query_tokens.normal_(0.0, 0.5)
    if vision_from is not None:
        from transformers import Blip2ForConditionalGeneration

        source = Blip2ForConditionalGeneration.from_pretrained(str(vision_from), use_safetensors=True)
        model.vision_model.load_state_dict(source.vision_model.state_dict())
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
