"""Loading a BLIP-family model onto the best device in the best precision it supports.

Device: CUDA, then Apple MPS, then the CPU. Precision: bf16 on GPUs that support it, else fp16;
fp16 on MPS; bf16 on CPUs with native bf16 instructions, else fp32. Weights are read straight
from safetensors into the chosen dtype (transformers builds the model on the meta device and
fills it from memory-mapped files), so loading never holds two copies. Runs on whatever thread
calls it; the app calls it on its inference thread.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desktop_app.vision import catalog
from desktop_app.vision.catalog import ModelSpec

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda", "mps")


class ModelNotInstalledError(RuntimeError):
    """A catalog model has not been downloaded; str() says how to get it."""


class ModelLoadError(RuntimeError):
    """A model folder exists but could not be loaded; str() is a sentence for the user."""


@dataclass
class LoadedModel:
    """A model ready to use, with what was chosen for it. Use it only on the thread that loaded it."""

    spec: ModelSpec
    model: Any
    processor: Any
    device: str
    precision: str
    load_ms: float
    vqa_model: Any = None  # BLIP pair only
    vqa_processor: Any = None
    note: str = ""  # e.g. why it fell back to the CPU

    @property
    def dtype(self) -> Any:
        return torch_dtype(self.precision)


def torch_dtype(precision: str) -> Any:
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def cpu_has_native_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX on x86, BF16 on Arm)."""
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                for line in f:
                    if line.startswith(("flags", "Features")):
                        flags = set(line.split(":", 1)[1].split())
                        return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})
        except OSError:
            return False
    return False


def choose_device(requested: str = "auto") -> str:
    import torch

    if requested not in DEVICES:
        raise ValueError(f"Unknown device {requested}. Choose one of: {', '.join(DEVICES)}.")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("There is no CUDA GPU that this copy of PyTorch can use.")
    if requested == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ModelLoadError("Apple's Metal GPU is not available on this computer.")
    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def choose_precision(device: str, requested: str = "auto") -> str:
    import torch

    if requested not in PRECISIONS:
        raise ValueError(f"Unknown precision {requested}. Choose one of: {', '.join(PRECISIONS)}.")
    if requested != "auto":
        return requested
    if device == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device == "mps":
        return "fp16"
    return "bf16" if cpu_has_native_bf16() else "fp32"


def model_folder(spec: ModelSpec) -> Path:
    """Where the model's files are, or ModelNotInstalledError saying how to get them."""
    if spec.folder is not None:
        return spec.folder
    from desktop_app.vision import download

    path = download.installed_path(spec)
    if path is None:
        raise ModelNotInstalledError(
            f"The model {spec.name} is not installed. Download it with: lookaloud models download {spec.name}"
            " (or give a folder with --model FOLDER)."
        )
    return Path(path)


def _load_parts(kind: str, folder: Path, dtype: Any, device: str) -> tuple[Any, Any]:
    from transformers import (
        Blip2ForConditionalGeneration,
        Blip2Processor,
        InstructBlipForConditionalGeneration,
        InstructBlipProcessor,
    )

    model_cls, proc_cls = {
        catalog.BLIP2_OPT: (Blip2ForConditionalGeneration, Blip2Processor),
        catalog.BLIP2_T5: (Blip2ForConditionalGeneration, Blip2Processor),
        catalog.INSTRUCTBLIP_T5: (InstructBlipForConditionalGeneration, InstructBlipProcessor),
        catalog.INSTRUCTBLIP_LLM: (InstructBlipForConditionalGeneration, InstructBlipProcessor),
    }.get(kind, (None, None))
    if kind == "blip-caption":
        from transformers import BlipForConditionalGeneration as model_cls
        from transformers import BlipProcessor as proc_cls
    elif kind == "blip-vqa":
        from transformers import BlipForQuestionAnswering as model_cls
        from transformers import BlipProcessor as proc_cls
    if model_cls is None:
        raise ModelLoadError(f"Lookaloud cannot run models of the kind {kind}.")
    if not any(folder.glob("*.safetensors")):
        raise ModelLoadError(
            f"The model folder {folder} has no safetensors weights. Lookaloud only loads safetensors files."
        )
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # progress bars on stderr are noise to a screen reader
    kwargs: dict[str, Any] = {"dtype": dtype, "use_safetensors": True}
    if device != "cpu":
        kwargs["device_map"] = {"": device}
    model = model_cls.from_pretrained(str(folder), **kwargs)
    model.eval()
    processor = proc_cls.from_pretrained(str(folder))
    return model, processor


def load_model(spec: ModelSpec | str, device: str = "auto", precision: str = "auto",
               allow_cpu_fallback: bool = True) -> LoadedModel:
    """Load a model for inference. Raises ModelNotInstalledError or ModelLoadError.

    On a GPU that runs out of memory it falls back to the CPU when allowed, and says so in
    LoadedModel.note. Runs on the calling thread (the app's inference thread).
    """
    import torch

    if isinstance(spec, str):
        spec = catalog.resolve(spec)
    folder = model_folder(spec)
    chosen_device = choose_device(device)
    chosen_precision = choose_precision(chosen_device, precision)
    if chosen_device == "cpu" and chosen_precision == "fp16":
        chosen_precision = "fp32"  # fp16 matmuls on most CPUs are very slow or missing
    start = time.perf_counter()
    note = ""
    try:
        parts = _load_all(spec, folder, chosen_device, chosen_precision)
    except torch.OutOfMemoryError:
        if chosen_device == "cpu" or not allow_cpu_fallback:
            raise ModelLoadError(f"There is not enough memory to load {spec.name}.") from None
        _free_gpu_memory()
        chosen_device = "cpu"
        chosen_precision = choose_precision("cpu", "auto")
        note = "The graphics card ran out of memory, so Lookaloud is using the processor instead. It will be slower."
        parts = _load_all(spec, folder, chosen_device, chosen_precision)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"The model in {folder} could not be loaded: {exc}") from exc
    load_ms = (time.perf_counter() - start) * 1000
    return LoadedModel(spec, parts[0], parts[1], chosen_device, chosen_precision, load_ms,
                       vqa_model=parts[2], vqa_processor=parts[3], note=note)


def _load_all(spec: ModelSpec, folder: Path, device: str, precision: str) -> tuple[Any, Any, Any, Any]:
    dtype = torch_dtype(precision)
    if spec.kind == catalog.BLIP_PAIR:
        model, processor = _load_parts("blip-caption", folder / "caption", dtype, device)
        vqa_model, vqa_processor = _load_parts("blip-vqa", folder / "vqa", dtype, device)
        return model, processor, vqa_model, vqa_processor
    model, processor = _load_parts(spec.kind, folder, dtype, device)
    return model, processor, None, None


def _free_gpu_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def default_threads() -> None:
    """Use every core for inference unless the user set OMP_NUM_THREADS."""
    import torch

    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, os.cpu_count() or 1))
