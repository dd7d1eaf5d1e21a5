"""The retrieval model: BLIP-2's image-text contrastive (ITC) and image-text matching (ITM) heads.

transformers' `Blip2ForImageTextRetrieval` computes both in one `forward` over a batch of
pictures and texts. An index needs the halves apart: every picture is embedded once (its query
embeddings, stored), every search embeds only the text. The arithmetic below is the model's own
forward taken apart, and the tests check it equals `forward` with use_image_text_matching_head
False (contrastive) and True (matching):

- a picture: the vision transformer, then the Q-Former's learned queries reading it, each query
  projected by `vision_projection` and normalised: N vectors (32 for blip2-itm-vit-g);
- a text: the Q-Former in text mode, the first ([CLS]) token projected by `text_projection` and
  normalised;
- the contrastive score: the highest dot product over the N queries; it ranks everything;
- the matching score: the Q-Former reading queries and text together over the picture's vision
  output, the ITM head's two logits averaged over the queries; it re-ranks the top few (it needs
  the vision output, which is too big to store, so those pictures are encoded again).

Loading follows desktop_app/vision/loader.py: safetensors only, trust_remote_code=False, configs
that ask for code refused, damaged weights named. Every method runs on the thread that loaded
the model.

A model folder may say how its matching head should re-rank, in its `lookaloud.json`:
`{"search_rerank": {"order": "combined", "temperature": 0.07, "weight": 1.0}}` (see
RerankSetting; measured per model: the demo search model's head re-ranks best added to the
contrastive score, see its README.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.models import vision_catalog as catalog
from desktop_app.models.vision_catalog import ModelSpec
from desktop_app.vision.loader import (
    ModelLoadError,
    check_folder_configs,
    check_weights,
    choose_device,
    choose_precision,
    model_folder,
    one_line,
    torch_dtype,
)

RETRIEVAL_ARCHITECTURE = "Blip2ForImageTextRetrieval"
RERANK_FIELD = "search_rerank"
RERANK_ORDERS = ("matching", "combined", "off")


@dataclass(frozen=True)
class RerankSetting:
    """How the matching head re-ranks the contrastive ranking's best results.

    order "matching": by the head's probability alone (BLIP-2's way, the default);
    "combined": by contrastive score / temperature + weight * the head's log-odds, so a head
    that is less sure than the contrastive ranking only breaks near-ties; "off": no re-ranking."""

    order: str = "matching"
    temperature: float = 0.07
    weight: float = 1.0


def read_rerank_setting(folder: Path | None) -> RerankSetting:
    """The folder's lookaloud.json search_rerank setting, or the default. Raises ModelLoadError
    with a sentence naming what is wrong."""
    path = folder / catalog.OVERRIDES_FILE if folder else None
    if path is None or not path.is_file():
        return RerankSetting()
    try:
        data = catalog.read_json_object(path)
    except catalog.BadModelFolderError as error:
        raise ModelLoadError(str(error)) from None
    value = data.get(RERANK_FIELD)
    if value is None:
        return RerankSetting()
    if not isinstance(value, dict) or set(value) - {"order", "temperature", "weight"}:
        raise ModelLoadError(f"In the file {path}, {RERANK_FIELD} must hold only order, temperature and weight.")
    order = value.get("order", "matching")
    if order not in RERANK_ORDERS:
        raise ModelLoadError(f"In the file {path}, the {RERANK_FIELD} order must be one of {', '.join(RERANK_ORDERS)}.")
    numbers = {}
    for key, low, high in (("temperature", 0.001, 10.0), ("weight", 0.0, 100.0)):
        number = value.get(key, getattr(RerankSetting, key))
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not low <= number <= high:
            raise ModelLoadError(f"In the file {path}, the {RERANK_FIELD} {key} must be a number from {low:g} to {high:g}.")
        numbers[key] = float(number)
    return RerankSetting(order, **numbers)


@dataclass
class RetrievalModel:
    """A loaded retrieval model and what identifies it in the index."""

    spec: ModelSpec
    model: Any
    processor: Any
    device: str
    precision: str
    load_ms: float
    # What the index records: embeddings from another model or revision are never compared.
    model_name: str = ""
    model_revision: str = ""
    rerank: RerankSetting = RerankSetting()

    @property
    def dtype(self) -> Any:
        return torch_dtype(self.precision)

    @property
    def num_queries(self) -> int:
        return int(self.model.config.num_query_tokens)

    @property
    def dimension(self) -> int:
        return int(self.model.config.image_text_hidden_size)

    # ---- pictures -------------------------------------------------------------------------

    def pixel_values(self, images: list[Any]) -> Any:
        px = self.processor.image_processor(images=images, return_tensors="pt")["pixel_values"]
        return px.to(self.model.device, self.dtype)

    def vision_states(self, images: list[Any]) -> Any:
        """The vision transformer's last hidden state for a batch of RGB pictures."""
        import torch

        with torch.inference_mode():
            return self.model.vision_model(pixel_values=self.pixel_values(images), return_dict=True).last_hidden_state

    def image_embeddings_from_vision(self, vision_states: Any) -> np.ndarray:
        """Normalised query embeddings [batch, queries, dimension] (float32) from vision states
        (this model's or, when they hash equal, the describer's: see shared_vision.py)."""
        import torch
        from torch.nn import functional

        model = self.model
        with torch.inference_mode():
            vision_states = vision_states.to(model.device)
            mask = torch.ones(vision_states.shape[:-1], dtype=torch.long, device=vision_states.device)
            queries = model.query_tokens.expand(vision_states.shape[0], -1, -1)
            out = model.qformer(query_embeds=queries, encoder_hidden_states=vision_states,
                                encoder_attention_mask=mask, return_dict=True).last_hidden_state
            out = out.to(dtype=model.vision_projection.weight.dtype)
            embeds = functional.normalize(model.vision_projection(out), dim=-1)
        return embeds.float().cpu().numpy()

    def image_embeddings(self, images: list[Any]) -> np.ndarray:
        """Normalised query embeddings [batch, queries, dimension] for RGB pictures."""
        return self.image_embeddings_from_vision(self.vision_states(images))

    # ---- texts ----------------------------------------------------------------------------

    def _tokens(self, texts: list[str]) -> tuple[Any, Any]:
        """Token ids and mask of the text alone: what the model's forward keeps after it strips
        the image placeholders the processor puts in front."""
        encoded = self.processor.tokenizer(texts, padding=True, return_tensors="pt")
        return encoded["input_ids"].to(self.model.device), encoded["attention_mask"].to(self.model.device)

    def text_embeddings(self, texts: list[str]) -> np.ndarray:
        """Normalised text embeddings [texts, dimension] (float32)."""
        import torch
        from torch.nn import functional

        model = self.model
        ids, mask = self._tokens(texts)
        with torch.inference_mode():
            embeds = model.embeddings(input_ids=ids)
            out = model.qformer(query_embeds=embeds, query_length=0, attention_mask=mask,
                                return_dict=True).last_hidden_state
            out = out.to(dtype=model.text_projection.weight.dtype)
            text = functional.normalize(model.text_projection(out[:, 0, :]), dim=-1)
        return text.float().cpu().numpy()

    # ---- matching head --------------------------------------------------------------------

    def matching_logits(self, vision_states: Any, text: str) -> np.ndarray:
        """The ITM head's [no match, match] logits for each picture (vision states) and one text."""
        import torch

        model = self.model
        ids, text_mask = self._tokens([text])
        batch = vision_states.shape[0]
        ids, text_mask = ids.expand(batch, -1), text_mask.expand(batch, -1)
        with torch.inference_mode():
            vision_states = vision_states.to(model.device)
            image_mask = torch.ones(vision_states.shape[:-1], dtype=torch.long, device=vision_states.device)
            queries = model.query_tokens.expand(batch, -1, -1)
            query_mask = torch.ones(queries.shape[:-1], dtype=torch.long, device=queries.device)
            embeds = model.embeddings(input_ids=ids, query_embeds=queries)
            out = model.qformer(query_embeds=embeds, query_length=queries.shape[1],
                                attention_mask=torch.cat([query_mask, text_mask], dim=1),
                                encoder_hidden_states=vision_states, encoder_attention_mask=image_mask,
                                return_dict=True).last_hidden_state
            out = out.to(dtype=model.itm_head.weight.dtype)
            logits = model.itm_head(out[:, : queries.shape[1], :]).mean(dim=1)
        return logits.float().cpu().numpy()

    def matching_log_odds(self, images: list[Any], text: str) -> np.ndarray:
        """The ITM head's match minus no-match logit for each picture (log p / (1 - p))."""
        logits = self.matching_logits(self.vision_states(images), text)
        return logits[:, 1] - logits[:, 0]

    def matching_probability(self, images: list[Any], text: str) -> np.ndarray:
        """How likely each picture matches the text, 0 to 1 (softmax of the ITM logits)."""
        return matching_probability(self.matching_log_odds(images, text))


def matching_probability(log_odds: np.ndarray) -> np.ndarray:
    """The softmax of two logits from their difference: 1 / (1 + e^-d), without overflow."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(log_odds, dtype=np.float64)))


def contrastive_scores(image_embeds: np.ndarray, text_embed: np.ndarray) -> np.ndarray:
    """Each picture's score for one text: the best dot product over its query embeddings.

    image_embeds: [pictures, queries, dimension] or [pictures * queries, dimension] with
    queries given by the caller's reshape; text_embed: [dimension]."""
    return (image_embeds @ text_embed).max(axis=-1)


def is_retrieval_folder(folder: Path) -> bool:
    """True when a folder's config.json says it holds a Blip2ForImageTextRetrieval."""
    try:
        config = catalog.read_json_object(folder / "config.json")
    except catalog.BadModelFolderError:
        return False
    architectures = config.get("architectures") or []
    return isinstance(architectures, list) and RETRIEVAL_ARCHITECTURE in architectures


def load_retrieval_model(spec: ModelSpec | str | None = None, device: str = "auto",
                         precision: str = "auto") -> RetrievalModel:
    """Load a retrieval model (a catalog name, the demo, a folder; None for the default).

    Raises catalog.UnknownModelError, loader.ModelNotInstalledError or ModelLoadError (one
    sentence each). Runs on the calling thread; use the model only there.
    """
    import torch

    if spec is None or isinstance(spec, str):
        spec = catalog.resolve_retrieval(spec)
    folder = model_folder(spec)
    if precision not in ("auto", "fp32", "bf16", "fp16"):
        precision = "auto"  # a describer-only precision (a quantized one) from the app's settings
    chosen_device = choose_device(device)
    chosen_precision = choose_precision(chosen_device, precision)
    if chosen_device == "cpu" and chosen_precision == "fp16":
        chosen_precision = "fp32"
    start = time.perf_counter()
    try:
        model, processor = _load_parts(folder, torch_dtype(chosen_precision), chosen_device)
    except ModelLoadError:
        raise
    except torch.OutOfMemoryError:
        raise ModelLoadError(f"There is not enough memory to load {spec.name}.") from None
    except Exception as exc:  # damaged files raise anything from JSON to safetensors errors
        raise ModelLoadError(f"The model in {folder} could not be loaded: {one_line(exc)}.") from exc
    load_ms = (time.perf_counter() - start) * 1000
    # A folder the user named is known by its path: two folders of the same name are two models.
    name = spec.name if spec.repo_id or spec.name == catalog.DEMO_SEARCH_MODEL else str(folder)
    return RetrievalModel(spec, model, processor, chosen_device, chosen_precision, load_ms,
                          model_name=name, model_revision=model_revision(spec, folder),
                          rerank=read_rerank_setting(folder))


def model_revision(spec: ModelSpec, folder: Path) -> str:
    """What identifies these weights: the pinned commit of a catalog model; for a folder, a
    digest of its weights files' names, sizes and modification times (a retrained demo model
    gets a new revision, so the index is rebuilt)."""
    if spec.revision:
        return spec.revision
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.safetensors")):
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return "local-" + digest.hexdigest()[:16]


def _load_parts(folder: Path, dtype: Any, device: str) -> tuple[Any, Any]:
    from transformers import Blip2ForImageTextRetrieval, Blip2Processor

    if not any(folder.glob("*.safetensors")):
        raise ModelLoadError(
            f"The model folder {folder} has no safetensors weights. Lookaloud only loads safetensors files."
        )
    check_folder_configs(folder)
    check_weights(folder)
    if not is_retrieval_folder(folder):
        raise ModelLoadError(
            f"The folder {folder} does not hold a picture search model: its config.json does not name "
            f"{RETRIEVAL_ARCHITECTURE}."
        )
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    kwargs: dict[str, Any] = {"dtype": dtype, "use_safetensors": True, "trust_remote_code": False}
    if device != "cpu":
        kwargs["device_map"] = {"": device}
    model = Blip2ForImageTextRetrieval.from_pretrained(str(folder), **kwargs)
    model.eval()
    processor = Blip2Processor.from_pretrained(str(folder), trust_remote_code=False)
    return model, processor
