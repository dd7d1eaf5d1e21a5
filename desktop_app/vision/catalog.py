"""The model catalog: which BLIP-family models Lookaloud knows, where they come from, how to
prompt them, and how big they are.

Prompt formats and generation settings follow the BLIP-2 / InstructBLIP papers and LAVIS:
VQA prompt "Question: {} Short answer:" (OPT) / "Question: {} Answer:", beam search 5,
max 10 new tokens, length penalty -1 for FlanT5 answers; captions from the pretrained
checkpoints with no prompt. A folder holding a saved model can carry a `lookaloud.json` that
overrides any of these fields (the shapes demo model does).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from desktop_app.paths import resource

# Model kinds: how the engine drives the model.
BLIP2_OPT = "blip2-opt"
BLIP2_T5 = "blip2-t5"
INSTRUCTBLIP_T5 = "instructblip-t5"
INSTRUCTBLIP_LLM = "instructblip-llm"  # decoder-only language model (Vicuna)
BLIP_PAIR = "blip-pair"  # BLIP captioning model + BLIP VQA model

KINDS = (BLIP2_OPT, BLIP2_T5, INSTRUCTBLIP_T5, INSTRUCTBLIP_LLM, BLIP_PAIR)


@dataclass(frozen=True)
class ModelSpec:
    """One model Lookaloud can run."""

    name: str
    kind: str
    label: str  # what it is good for, spoken in setup
    repo_id: str = ""  # hub repository; empty for a local folder
    revision: str = ""  # a pinned commit; "" for a local folder
    # BLIP pair only: the VQA model's repository and revision.
    vqa_repo_id: str = ""
    vqa_revision: str = ""
    download_mb: int = 0
    params_billion: float = 0.0
    caption_prompt: str = ""
    question_format: str = "Question: {question} Answer:"
    followup_format: str = "Question: {question} Answer: {answer}."
    caption_generation: dict[str, Any] = field(default_factory=dict)
    answer_generation: dict[str, Any] = field(default_factory=dict)
    folder: Path | None = None  # set when the model lives in a known local folder

    def memory_gb(self, precision: str) -> float:
        """Memory needed to hold the weights in a precision, plus a working margin."""
        bytes_per = 4 if precision == "fp32" else 2
        return round(self.params_billion * bytes_per * 1.15 + 0.3, 1)

    def prompt_for(self, question: str, history: list[tuple[str, str]] = ()) -> str:  # type: ignore[assignment]
        """The text prompt for a question, with earlier questions and answers as context."""
        turns = [self.followup_format.format(question=q, answer=a.rstrip(".")) for q, a in history]
        turns.append(self.question_format.format(question=question))
        return " ".join(turns)


_BLIP2_CAPTION = {"num_beams": 5, "max_new_tokens": 30, "min_new_tokens": 8, "repetition_penalty": 1.15}
_OPT_ANSWER = {"num_beams": 5, "max_new_tokens": 10}
_T5_ANSWER = {"num_beams": 5, "max_new_tokens": 10, "length_penalty": -1.0}
_INSTRUCT_CAPTION = {"num_beams": 5, "max_new_tokens": 60, "min_new_tokens": 8, "repetition_penalty": 1.5,
                     "length_penalty": 1.0}
# Revisions: pinned to commits that public code pins and that serve safetensors:
# blip2-opt-2.7b (pinned by several projects), blip2-flan-t5-xl (a download script that insists
# on safetensors at that commit), the BLIP pair (the MTEB model registry, which marks both as
# safetensors). For the others no commit could be verified from our build machines, so they are
# pinned at download time: the downloader records the commit it fetched and later loads use
# exactly that (see download.py).
CATALOG: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "blip2-opt-2.7b", BLIP2_OPT, "Best all-round describer for a GPU with 8 GB or more.",
            "Salesforce/blip2-opt-2.7b", "51572668da0eb669e01a189dc22abe6088589a24",
            download_mb=15_500, params_billion=3.87,
            question_format="Question: {question} Short answer:",
            followup_format="Question: {question} Short answer: {answer}.",
            caption_generation=_BLIP2_CAPTION, answer_generation=_OPT_ANSWER,
        ),
        ModelSpec(
            "blip2-opt-6.7b", BLIP2_OPT, "Richer descriptions; needs a GPU with 16 GB or more.",
            "Salesforce/blip2-opt-6.7b", download_mb=31_000, params_billion=7.75,
            question_format="Question: {question} Short answer:",
            followup_format="Question: {question} Short answer: {answer}.",
            caption_generation=_BLIP2_CAPTION, answer_generation=_OPT_ANSWER,
        ),
        ModelSpec(
            "blip2-flan-t5-xl", BLIP2_T5, "Better at answering questions; a GPU with 8 GB or more.",
            "Salesforce/blip2-flan-t5-xl", "0eb0d3b46c14c1f8c7680bca2693baafdb90bb28",
            download_mb=15_800, params_billion=3.94,
            caption_generation=_BLIP2_CAPTION, answer_generation=_T5_ANSWER,
        ),
        ModelSpec(
            "blip2-flan-t5-xxl", BLIP2_T5, "The strongest question answerer; a GPU with 24 GB or more.",
            "Salesforce/blip2-flan-t5-xxl", download_mb=47_600, params_billion=12.2,
            caption_generation=_BLIP2_CAPTION, answer_generation=_T5_ANSWER,
        ),
        ModelSpec(
            "instructblip-flan-t5-xl", INSTRUCTBLIP_T5, "Follows instructions, longer descriptions; 8 GB GPU.",
            "Salesforce/instructblip-flan-t5-xl", download_mb=16_000, params_billion=4.02,
            caption_prompt="A short image description:",
            caption_generation=_INSTRUCT_CAPTION, answer_generation=_T5_ANSWER,
        ),
        ModelSpec(
            "instructblip-vicuna-7b", INSTRUCTBLIP_LLM, "Most detailed descriptions; a GPU with 16 GB or more.",
            "Salesforce/instructblip-vicuna-7b", download_mb=31_800, params_billion=7.91,
            caption_prompt="A short image description:",
            caption_generation=_INSTRUCT_CAPTION, answer_generation=_OPT_ANSWER,
        ),
        ModelSpec(
            "blip-base-pair", BLIP_PAIR, "Small and fast for computers without a GPU.",
            "Salesforce/blip-image-captioning-large", "2227ac38c9f16105cb0412e7cab4759978a8fd90",
            vqa_repo_id="Salesforce/blip-vqa-base", vqa_revision="c7df8e7cd7aa2ee9af18f56e2b29e59a92651b64",
            download_mb=1_880 + 1_540, params_billion=0.47 + 0.385,
            caption_generation={"num_beams": 3, "max_new_tokens": 30, "min_new_tokens": 5},
            answer_generation={"num_beams": 3, "max_new_tokens": 10},
        ),
    )
}

DEFAULT_MODEL = "blip2-opt-2.7b"
DEMO_MODEL = "shapes-demo"
OVERRIDES_FILE = "lookaloud.json"


class UnknownModelError(LookupError):
    """The name is neither a catalog model, the demo model, nor a folder holding a model."""


def demo_folder() -> Path:
    return resource("models", DEMO_MODEL)


def _apply_overrides(spec: ModelSpec, folder: Path) -> ModelSpec:
    path = folder / OVERRIDES_FILE
    if not path.is_file():
        return spec
    data = json.loads(path.read_text(encoding="utf-8"))
    allowed = {f for f in ModelSpec.__dataclass_fields__ if f not in ("name", "folder")}
    return replace(spec, **{k: v for k, v in data.items() if k in allowed})


def kind_of_folder(folder: Path) -> str:
    """Tell the model kind of a saved model from its config.json."""
    if (folder / "caption" / "config.json").is_file() and (folder / "vqa" / "config.json").is_file():
        return BLIP_PAIR
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise UnknownModelError(f"The folder {folder} does not hold a saved model: it has no config.json.")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    model_type = config.get("model_type", "")
    text_type = (config.get("text_config") or {}).get("model_type", "")
    encoder_decoder = text_type in ("t5", "mt5", "umt5") or bool((config.get("text_config") or {}).get("is_encoder_decoder"))
    if model_type == "blip-2":
        return BLIP2_T5 if encoder_decoder else BLIP2_OPT
    if model_type == "instructblip":
        return INSTRUCTBLIP_T5 if encoder_decoder else INSTRUCTBLIP_LLM
    raise UnknownModelError(
        f"The folder {folder} holds a {model_type or 'unknown'} model, which Lookaloud cannot run. "
        "It runs BLIP-2, InstructBLIP and BLIP models."
    )


def spec_for_folder(folder: Path, name: str | None = None) -> ModelSpec:
    """A spec for a model saved in a folder: settings of its kind, then its lookaloud.json."""
    folder = folder.resolve()
    kind = kind_of_folder(folder)
    base = next((s for s in CATALOG.values() if s.kind == kind), None)
    spec = replace(base, name=name or folder.name, repo_id="", revision="", folder=folder) if base else ModelSpec(
        name or folder.name, kind, "A model from a folder.", folder=folder
    )
    if not name or name not in CATALOG:
        spec = replace(spec, label=f"A model from the folder {folder}.")
    return _apply_overrides(spec, folder)


def resolve(name_or_folder: str) -> ModelSpec:
    """The spec for a catalog name, the demo model, or a folder path.

    Catalog models are returned without a folder; the loader finds them in the download
    cache (or reports them missing).
    """
    if name_or_folder in CATALOG:
        return CATALOG[name_or_folder]
    if name_or_folder == DEMO_MODEL:
        folder = demo_folder()
        if not (folder / "config.json").is_file():
            raise UnknownModelError("The demo model is not included in this copy of Lookaloud.")
        return spec_for_folder(folder, name=DEMO_MODEL)
    path = Path(name_or_folder).expanduser()
    if path.is_dir():
        return spec_for_folder(path)
    names = ", ".join([*CATALOG, DEMO_MODEL])
    raise UnknownModelError(f"There is no model called {name_or_folder}. Known models: {names}; or give a folder.")
