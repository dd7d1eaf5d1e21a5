"""Loading a BLIP-family model onto the best device in the best precision it supports.

Device: CUDA, then Apple MPS, then the CPU. Precision: bf16 on GPUs that support it, else fp16;
fp16 on MPS; bf16 on CPUs with native bf16 instructions, else fp32. Weights are read straight
from safetensors into the chosen dtype (transformers builds the model on the meta device and
fills it from memory-mapped files), so loading never holds two copies. Runs on whatever thread
calls it; the app calls it on its inference thread.

A model folder never runs code: only safetensors weights are read, every from_pretrained call
passes trust_remote_code=False, and a folder whose configs ask for code (auto_map,
custom_generate, trust_remote_code) is refused before transformers reads it. Any failure while
loading (a truncated or garbage weights file, a damaged config) becomes a ModelLoadError whose
text is one sentence.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desktop_app.choices import Device, Precision
from desktop_app.models import store
from desktop_app.models import vision_catalog as catalog
from desktop_app.models.vision_catalog import ModelSpec

PRECISIONS = Precision.values()
DEVICES = Device.values()


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
    if requested != Precision.AUTO:
        return requested
    gpu_bf16 = device == Device.CUDA and torch.cuda.is_bf16_supported()
    return best_precision(device, gpu_bf16=gpu_bf16, cpu_bf16=device == Device.CPU and cpu_has_native_bf16())


def best_precision(device: str, *, gpu_bf16: bool = False, cpu_bf16: bool = False) -> str:
    """The rule behind "auto": bf16 on a CUDA GPU that supports it, else fp16; fp16 on MPS; bf16
    on a CPU with native bf16, else fp32. Pure, so setup can guess what the loader will pick."""
    if device == Device.CUDA:
        return Precision.BF16.value if gpu_bf16 else Precision.FP16.value
    if device == Device.MPS:
        return Precision.FP16.value
    return Precision.BF16.value if cpu_bf16 else Precision.FP32.value


def model_folder(spec: ModelSpec) -> Path:
    """Where the model's files are, or ModelNotInstalledError saying how to get them."""
    if spec.folder is not None:
        return spec.folder
    path = store.installed_path(spec)
    if path is None:
        raise ModelNotInstalledError(
            f"The model {spec.name} is not installed. Download it with: lookaloud models download {spec.name}"
            " (or give a folder with --model FOLDER)."
        )
    return Path(path)


OUT_OF_GPU_MEMORY_NOTE = (
    "The graphics card ran out of memory, so Lookaloud is using the processor instead; it will be slower."
)


def _config_files(folder: Path) -> list[Path]:
    """The JSON files transformers reads as configuration (not vocabularies, whose keys are words)."""
    names = {"config.json", "generation_config.json", "special_tokens_map.json"}
    return sorted({*(folder / n for n in names), *folder.glob("*config*.json")})


def _find_code_keys(data: Any) -> str:
    """The first key anywhere in a parsed config that would make transformers import code, or ""."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key in catalog.CODE_LOADING_SETTINGS:
                return key
            found = _find_code_keys(value)
            if found:
                return found
    elif isinstance(data, list):
        for item in data:
            found = _find_code_keys(item)
            if found:
                return found
    return ""


def check_folder_configs(folder: Path) -> None:
    """Refuse a folder whose configuration files are damaged or ask for code from the folder or
    the hub (auto_map, custom_generate, trust_remote_code). Raises ModelLoadError."""
    for path in _config_files(folder):
        if not path.is_file():
            continue
        try:
            data = catalog.read_json_object(path)
        except catalog.BadModelFolderError as error:  # the same sentence, as a load failure
            raise ModelLoadError(str(error)) from None
        key = _find_code_keys(data)
        if key:
            raise ModelLoadError(
                f"The file {path} asks for {key}, which would run code from the model folder, so Lookaloud refuses it."
            )


def check_weights(folder: Path) -> None:
    """Refuse a safetensors file that is truncated or not safetensors at all, naming it.

    The format is an 8-byte little-endian header length, a JSON header whose tensors give their
    byte ranges, then the data: a file shorter than its header says is incomplete. Reads only
    the header, so it costs nothing next to the load. Raises ModelLoadError."""
    import struct

    for path in sorted(folder.glob("*.safetensors")):
        damaged = ModelLoadError(
            f"The weights file {path} is damaged or incomplete, so the model cannot be loaded; download it again."
        )
        try:
            size = path.stat().st_size
            with path.open("rb") as f:
                (length,) = struct.unpack("<Q", f.read(8))
                if length > min(size - 8, 100_000_000):
                    raise damaged
                header = json.loads(f.read(length))
            ends = [int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"]
        except (OSError, struct.error, UnicodeDecodeError, ValueError, TypeError, KeyError, IndexError,
                AttributeError):
            raise damaged from None
        if 8 + length + max(ends, default=0) > size:
            raise damaged


def one_line(exc: BaseException, limit: int = 160) -> str:
    """The first line of an exception's text, short enough to be heard."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0].strip().rstrip(".")
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


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
    check_folder_configs(folder)
    check_weights(folder)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # progress bars on stderr are noise to a screen reader
    # trust_remote_code=False explicitly: a folder's code must never run, whatever a later
    # transformers release defaults to for local folders.
    kwargs: dict[str, Any] = {"dtype": dtype, "use_safetensors": True, "trust_remote_code": False}
    if device != "cpu":
        kwargs["device_map"] = {"": device}
    model = model_cls.from_pretrained(str(folder), **kwargs)
    model.eval()
    processor = proc_cls.from_pretrained(str(folder), trust_remote_code=False)
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
        parts = _load_all_or_explain(spec, folder, chosen_device, chosen_precision)
    except torch.OutOfMemoryError:
        if chosen_device == "cpu" or not allow_cpu_fallback:
            raise ModelLoadError(f"There is not enough memory to load {spec.name}.") from None
        _free_gpu_memory()
        chosen_device = "cpu"
        chosen_precision = choose_precision("cpu", "auto")
        note = OUT_OF_GPU_MEMORY_NOTE
        try:
            parts = _load_all_or_explain(spec, folder, chosen_device, chosen_precision)
        except torch.OutOfMemoryError:
            raise ModelLoadError(f"There is not enough memory to load {spec.name}.") from None
    load_ms = (time.perf_counter() - start) * 1000
    return LoadedModel(spec, parts[0], parts[1], chosen_device, chosen_precision, load_ms,
                       vqa_model=parts[2], vqa_processor=parts[3], note=note)


def reload_on_cpu(loaded: LoadedModel) -> LoadedModel:
    """After the GPU ran out of memory while working: drop the GPU copy and load the same model
    on the CPU, with OUT_OF_GPU_MEMORY_NOTE as its note. Raises ModelLoadError."""
    spec = loaded.spec
    loaded.model = loaded.vqa_model = None
    del loaded
    _free_gpu_memory()
    cpu = load_model(spec, device="cpu", precision="auto", allow_cpu_fallback=False)
    cpu.note = OUT_OF_GPU_MEMORY_NOTE
    return cpu


def _load_all_or_explain(spec: ModelSpec, folder: Path, device: str, precision: str) -> tuple[Any, Any, Any, Any]:
    """_load_all, with every failure but running out of memory turned into one sentence."""
    import torch

    try:
        return _load_all(spec, folder, device, precision)
    except (torch.OutOfMemoryError, ModelLoadError):
        raise
    except Exception as exc:  # damaged files raise anything from JSON to safetensors errors
        raise ModelLoadError(f"The model in {folder} could not be loaded: {one_line(exc)}.") from exc


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
