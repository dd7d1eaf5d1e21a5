"""The model catalog: which BLIP-family models Lookaloud knows, where they come from, how to
prompt them, and how big they are.

Prompt formats and generation settings follow the BLIP-2 / InstructBLIP papers and LAVIS:
VQA prompt "Question: {} Short answer:" (OPT) / "Question: {} Answer:", beam search 5,
max 10 new tokens, length penalty -1 for FlanT5 answers; captions from the pretrained
checkpoints with no prompt. A folder holding a saved model can carry a `lookaloud.json` that
overrides the prompts and generation settings (the shapes demo model does).

A model folder is data, never code: `lookaloud.json` may set only the fields below, prompts
may use only their own placeholders, and generation settings come from a whitelist with
checked types and ranges (`custom_generate` / `trust_remote_code` would make transformers
import and run a file from the folder). Anything else is refused with one sentence naming it.
"""

from __future__ import annotations

import json
import string
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
BLIP2_ITM = "blip2-itm"  # BLIP-2 image-text retrieval (finding pictures by meaning), never a describer

KINDS = (BLIP2_OPT, BLIP2_T5, INSTRUCTBLIP_T5, INSTRUCTBLIP_LLM, BLIP_PAIR)


# Bytes a parameter takes in memory, by precision. int8 and int4 (processor only) keep the word
# embeddings and norms in bf16 and quantize the Linear layers (the language model's in 8 or 4
# bits, the vision side's in 8): blip2-opt-2.7b peaked at 4.4 GB (int8) and 3.5 GB (int4)
# (docs/benchmarks.md, bench/engine.py --compare).
BYTES_PER_PARAMETER = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "int8": 1.0, "int4": 0.77}


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
        return round(self.params_billion * BYTES_PER_PARAMETER.get(precision, 2) * 1.15 + 0.3, 1)

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
# exactly that (see hub.py).
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

# Picture search models (desktop_app/retrieval/). Kept apart from CATALOG, which lists the
# describers offered in setup and settings. blip2-itm-vit-g is pinned to the commit
# "Upload Blip2ForImageTextRetrieval" (db1495e, model.safetensors of 4,688,228,528 bytes), as
# shown on its Hugging Face commit page; its ViT-g is the frozen one of the pretrained BLIP-2
# checkpoints (not the -coco ones), which desktop_app/retrieval/shared_vision.py checks by hashing.
RETRIEVAL_CATALOG: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "blip2-itm-vit-g", BLIP2_ITM, "Finds pictures by what they show; about 5 GB, best with a GPU.",
            "Salesforce/blip2-itm-vit-g", "db1495e714396915415ac482f4556c2d3bc5155a",
            download_mb=4_690, params_billion=1.17,
        ),
    )
}
DEFAULT_RETRIEVAL_MODEL = "blip2-itm-vit-g"
DEMO_SEARCH_MODEL = "shapes-demo-search"
OVERRIDES_FILE = "lookaloud.json"


class UnknownModelError(LookupError):
    """The name is neither a catalog model, the demo model, nor a folder holding a model."""


class BadModelFolderError(UnknownModelError):
    """A model folder's own files cannot be read or ask for something Lookaloud refuses.

    A subclass of UnknownModelError so that every caller that reports an unknown model
    (the CLI with exit code 3, the app's load-failed message) reports this one too; str() is
    one sentence naming the file and the setting.
    """


# Generation settings a model folder may choose: name -> (type, lowest, highest). Everything
# else is refused, above all what loads code (custom_generate, trust_remote_code) and what
# selects a generation mode that transformers fetches as code from the hub (contrastive search,
# DoLa, group beam search, constraints).
GENERATION_SETTINGS: dict[str, tuple[type, float, float]] = {
    "num_beams": (int, 1, 10),
    "max_new_tokens": (int, 1, 200),
    "min_new_tokens": (int, 0, 200),
    "repetition_penalty": (float, 0.5, 5.0),
    "length_penalty": (float, -5.0, 5.0),
    "no_repeat_ngram_size": (int, 0, 10),
    "early_stopping": (bool, 0, 1),
    "do_sample": (bool, 0, 1),
    "temperature": (float, 0.05, 2.0),
    "top_p": (float, 0.01, 1.0),
    "top_k": (int, 0, 1000),
}
# Settings that make transformers import a Python file; refused wherever they appear.
CODE_LOADING_SETTINGS = frozenset({"custom_generate", "trust_remote_code", "auto_map"})

# lookaloud.json: field -> what it must be. Text fields have a length limit; formats may use
# only the placeholders listed (str.format would otherwise reach attributes and indexes).
_TEXT_LIMITS = {"label": 300, "caption_prompt": 500, "question_format": 500, "followup_format": 500}
_FORMAT_FIELDS = {"question_format": ("question",), "followup_format": ("question", "answer")}
_OVERRIDE_FIELDS = ("kind", *_TEXT_LIMITS, "caption_generation", "answer_generation", "download_mb",
                    "params_billion")


def _refuse_code(path: Path, key: str) -> BadModelFolderError:
    return BadModelFolderError(
        f"The file {path} asks for {key}, which would run code from the model folder, so Lookaloud refuses it."
    )


def _number_ok(value: Any, kind: type) -> bool:
    if isinstance(value, bool):
        return kind is bool
    if kind is int:
        return isinstance(value, int)
    return kind is float and isinstance(value, (int, float))


def check_generation_settings(settings: Any, path: Path, field_name: str) -> dict[str, Any]:
    """The generation settings from a file, checked against GENERATION_SETTINGS; raises
    BadModelFolderError with a sentence naming the first setting refused."""
    if not isinstance(settings, dict):
        raise BadModelFolderError(f"In the file {path}, {field_name} must be a set of named settings.")
    for key, value in settings.items():
        if key in CODE_LOADING_SETTINGS:
            raise _refuse_code(path, f"{key} in {field_name}")
        if key not in GENERATION_SETTINGS:
            raise BadModelFolderError(
                f"The file {path} sets {key} in {field_name}, which Lookaloud does not accept; "
                f"it accepts only {', '.join(GENERATION_SETTINGS)}."
            )
        kind, low, high = GENERATION_SETTINGS[key]
        if not _number_ok(value, kind) or (kind is not bool and not low <= value <= high):
            what = "true or false" if kind is bool else f"a{'' if kind is float else ' whole'} number from {low:g} to {high:g}"
            raise BadModelFolderError(f"In the file {path}, {key} in {field_name} must be {what}.")
    if settings.get("min_new_tokens", 0) > settings.get("max_new_tokens", GENERATION_SETTINGS["max_new_tokens"][2]):
        raise BadModelFolderError(f"In the file {path}, min_new_tokens in {field_name} is larger than max_new_tokens.")
    return dict(settings)


def _check_format(text: str, path: Path, field_name: str, allowed: tuple[str, ...]) -> None:
    """Only bare {name} placeholders from `allowed`: no attributes, indexes, conversions or specs."""
    try:
        names = [(name, spec, conv) for _lit, name, spec, conv in string.Formatter().parse(text) if name is not None]
    except ValueError:
        names = [("", "", "")]  # unbalanced braces
    for name, spec, conv in names:
        if name not in allowed or spec or conv:
            placeholders = " and ".join("{" + a + "}" for a in allowed)
            raise BadModelFolderError(
                f"In the file {path}, {field_name} may use only the placeholders {placeholders}; use {{{{ and }}}} "
                "for a literal brace."
            )
    if "question" not in [name for name, _, _ in names]:
        raise BadModelFolderError(f"In the file {path}, {field_name} must contain {{question}}.")


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON file that must hold an object; BadModelFolderError with a sentence otherwise."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        raise BadModelFolderError(f"The file {path} is damaged: it is not readable JSON.") from None
    if not isinstance(data, dict):
        raise BadModelFolderError(f"The file {path} is damaged: it must hold a JSON object of named settings.")
    return data


def demo_folder() -> Path:
    return resource("models", DEMO_MODEL)


def _apply_overrides(spec: ModelSpec, folder: Path) -> ModelSpec:
    path = folder / OVERRIDES_FILE
    if not path.is_file():
        return spec
    data = read_json_object(path)
    for key, value in data.items():
        if key in CODE_LOADING_SETTINGS:
            raise _refuse_code(path, key)
        if key not in _OVERRIDE_FIELDS:
            raise BadModelFolderError(
                f"The file {path} sets {key}, which Lookaloud does not accept; it accepts only "
                f"{', '.join(_OVERRIDE_FIELDS)}."
            )
        if key in _TEXT_LIMITS:
            if not isinstance(value, str) or len(value) > _TEXT_LIMITS[key]:
                raise BadModelFolderError(
                    f"In the file {path}, {key} must be a text of at most {_TEXT_LIMITS[key]} characters."
                )
            if key in _FORMAT_FIELDS:
                _check_format(value, path, key, _FORMAT_FIELDS[key])
        elif key.endswith("_generation"):
            data[key] = check_generation_settings(value, path, key)
        elif key == "kind":
            if value != spec.kind:
                raise BadModelFolderError(
                    f"The file {path} says the model is of the kind {value}, but its config.json holds a {spec.kind} model."
                )
        elif not _number_ok(value, float) or not 0 <= value <= 1_000_000:
            raise BadModelFolderError(f"In the file {path}, {key} must be a number from 0 to 1000000.")
    return replace(spec, **data)


def kind_of_folder(folder: Path) -> str:
    """Tell the model kind of a saved model from its config.json."""
    if (folder / "caption" / "config.json").is_file() and (folder / "vqa" / "config.json").is_file():
        return BLIP_PAIR
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise UnknownModelError(f"The folder {folder} does not hold a saved model: it has no config.json.")
    config = read_json_object(config_path)
    architectures = config.get("architectures") or []
    if isinstance(architectures, list) and "Blip2ForImageTextRetrieval" in architectures:
        return BLIP2_ITM
    model_type = config.get("model_type", "")
    text_config = config.get("text_config") or {}
    if not isinstance(model_type, str) or not isinstance(text_config, dict):
        raise BadModelFolderError(f"The file {config_path} is damaged: its model_type or text_config is malformed.")
    text_type = text_config.get("model_type", "")
    encoder_decoder = text_type in ("t5", "mt5", "umt5") or bool(text_config.get("is_encoder_decoder"))
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
    if name_or_folder in RETRIEVAL_CATALOG or name_or_folder == DEMO_SEARCH_MODEL:
        return resolve_retrieval(name_or_folder)
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


def demo_search_folder() -> Path:
    return resource("models", DEMO_SEARCH_MODEL)


def default_retrieval_model() -> str:
    """The search model used when none is named: the shipped demo search model when this copy
    has one (no download), else blip2-itm-vit-g."""
    return DEMO_SEARCH_MODEL if (demo_search_folder() / "config.json").is_file() else DEFAULT_RETRIEVAL_MODEL


def resolve_retrieval(name_or_folder: str | None = None) -> ModelSpec:
    """The spec of a picture search model: a RETRIEVAL_CATALOG name, the demo search model, a
    folder holding a Blip2ForImageTextRetrieval, or None for default_retrieval_model()."""
    name = name_or_folder or default_retrieval_model()
    if name in RETRIEVAL_CATALOG:
        return RETRIEVAL_CATALOG[name]
    if name == DEMO_SEARCH_MODEL:
        folder = demo_search_folder()
        if not (folder / "config.json").is_file():
            raise UnknownModelError("The demo search model is not included in this copy of Lookaloud.")
        return replace(_retrieval_folder_spec(folder), name=DEMO_SEARCH_MODEL,
                       label="The demo search model: finds drawn shapes by colour and kind.")
    path = Path(name).expanduser()
    if path.is_dir():
        return _retrieval_folder_spec(path.resolve())
    names = ", ".join([*RETRIEVAL_CATALOG, DEMO_SEARCH_MODEL])
    raise UnknownModelError(f"There is no picture search model called {name}. Known ones: {names}; or give a folder.")


def _retrieval_folder_spec(folder: Path) -> ModelSpec:
    if kind_of_folder(folder) != BLIP2_ITM:
        raise UnknownModelError(
            f"The folder {folder} does not hold a picture search model (a Blip2ForImageTextRetrieval)."
        )
    return ModelSpec(folder.name, BLIP2_ITM, f"A picture search model from the folder {folder}.", folder=folder)
