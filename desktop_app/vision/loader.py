"""Loading a BLIP-family model onto the best device in the best precision it supports.

Device: CUDA, then Apple MPS, then the CPU. Precision: bf16 on GPUs that support it, else fp16;
fp16 on MPS. On a CPU, a large model (1 GB of weights or more) runs in int8 (quantize.py: the
language model, vision transformer and Q-Former with 8-bit weights; the rest in bf16 where the
CPU has native bf16, else fp32), which was the fastest setting that kept its answers here, and
the loader says so in LoadedModel.note; a small
model runs in bf16 (native bf16) or fp32, where quantizing gains nothing. So a CPU without bf16
never falls back to a 15 GB fp32 model by default. Weights are read straight from safetensors
into the chosen dtype (transformers builds the model on the meta device and fills it from
memory-mapped files), so loading never holds two copies. The int8 and int4 precisions load from a
prepared copy (prepared.py), made on first use with progress and memory-mapped afterwards; the
original folder is used, and quantized in memory, when no copy can be saved. Runs on whatever
thread calls it; the app calls it on its inference thread.

A model folder never runs code: only safetensors weights are read, every from_pretrained call
passes trust_remote_code=False, and a folder whose configs ask for code (auto_map,
custom_generate, trust_remote_code) is refused before transformers reads it. Any failure while
loading (a truncated or garbage weights file, a damaged config) becomes a ModelLoadError whose
text is one sentence.
"""

from __future__ import annotations

import contextvars
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desktop_app.choices import Device, Precision
from desktop_app.models import store
from desktop_app.models import vision_catalog as catalog
from desktop_app.models.vision_catalog import ModelSpec

PRECISIONS = Precision.values()
DEVICES = Device.values()
QUANTIZED = (Precision.INT8.value, Precision.INT4.value)
# From this size of weights on disk, "auto" on a CPU quantizes the language model: below it the
# model is quick anyway and quantizing would only cost quality.
LARGE_MODEL_BYTES = 1_000_000_000
# "auto" on a CPU takes int4 instead of int8 when int8 would need more than this share of the
# computer's memory (the rest is for the system and other programs), as setup judges fit.
RAM_SHARE = 0.75
Progress = Callable[[float, str], None]  # (fraction done 0..1, a sentence)
AUTO_INT8_NOTE = ("On this processor Lookaloud runs the model with 8-bit weights: "
                  "the fastest setting that kept its answers, in far less memory.")
AUTO_INT4_NOTE = ("This computer has {ram:.0f} gigabytes of memory, too little for this model with 8-bit weights, "
                  "so Lookaloud runs its language model in 4 bits: it needs the least memory and answers "
                  "a little less accurately.")
QUANTIZED_ON_GPU = ("The {precision} precision runs on the processor only; choose the processor as the device, "
                    "or another precision.")


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
    note: str = ""  # e.g. why it fell back to the CPU, or which precision "auto" chose
    prepared: str = ""  # the prepared copy it was loaded from, if any

    @property
    def dtype(self) -> Any:
        """The float type of the unquantized parts (the vision side, the pictures' pixels)."""
        return torch_dtype(self.precision)


def cpu_float_precision() -> str:
    """The float precision the CPU computes best: bf16 with native bf16, else fp32."""
    return Precision.BF16.value if cpu_has_native_bf16() else Precision.FP32.value


def torch_dtype(precision: str) -> Any:
    """The torch float type of a precision; for int8 and int4, that of their unquantized parts."""
    import torch

    if precision in QUANTIZED:
        precision = cpu_float_precision()
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


def choose_precision(device: str, requested: str = "auto", large: bool = False,
                     need_int8_gb: float = 0.0) -> str:
    """The precision to load in: `requested`, or the "auto" rule for this device and model size.
    `need_int8_gb` is the memory the model needs in int8 (0: unknown), compared with this
    computer's RAM."""
    import torch

    if requested not in PRECISIONS:
        raise ValueError(f"Unknown precision {requested}. Choose one of: {', '.join(PRECISIONS)}.")
    if requested in QUANTIZED and device != Device.CPU:
        raise ModelLoadError(QUANTIZED_ON_GPU.format(precision=requested))
    if requested != Precision.AUTO:
        return requested
    gpu_bf16 = device == Device.CUDA and torch.cuda.is_bf16_supported()
    return best_precision(device, gpu_bf16=gpu_bf16, cpu_bf16=device == Device.CPU and cpu_has_native_bf16(),
                          large=large, ram_gb=ram_gb() if need_int8_gb else 0.0, need_int8_gb=need_int8_gb)


def ram_gb() -> float:
    """This computer's memory in gigabytes (0 when it cannot be read)."""
    try:
        import psutil

        return psutil.virtual_memory().total / 1e9
    except Exception:  # noqa: BLE001 - unknown memory: no memory-based choice
        return 0.0


def best_precision(device: str, *, gpu_bf16: bool = False, cpu_bf16: bool = False, large: bool = False,
                   ram_gb: float = 0.0, need_int8_gb: float = 0.0) -> str:
    """The rule behind "auto": bf16 on a CUDA GPU that supports it, else fp16; fp16 on MPS; on a
    CPU, int8 for a large model (8-bit weights), or int4 when int8 would need more than
    RAM_SHARE of this computer's memory; else bf16 with native bf16, else fp32. Pure, so setup
    can guess what the loader will pick."""
    if device == Device.CUDA:
        return Precision.BF16.value if gpu_bf16 else Precision.FP16.value
    if device == Device.MPS:
        return Precision.FP16.value
    if large:
        if ram_gb and need_int8_gb > ram_gb * RAM_SHARE:
            return Precision.INT4.value
        return Precision.INT8.value
    return Precision.BF16.value if cpu_bf16 else Precision.FP32.value


def size_of(spec: ModelSpec, folder: Path) -> tuple[bool, float]:
    """What the "auto" rule needs to know of a model: whether it is large (1 GB of weights or
    more), and for a large one the memory it needs in int8 (gigabytes; 0 for a small one)."""
    if weights_bytes(folder) < LARGE_MODEL_BYTES:
        return False, 0.0
    if spec.params_billion:
        return True, spec.memory_gb(Precision.INT8.value)
    return True, round(parameters_billion(folder) * catalog.BYTES_PER_PARAMETER["int8"] * 1.15 + 0.3, 1)


def parameters_billion(folder: Path) -> float:
    """The number of weights in a folder's safetensors files, from their headers alone (billions)."""
    import struct

    from desktop_app.vision.prepared import read_header

    total = 0
    try:
        for path in folder.rglob("*.safetensors"):
            for name, tensor in json.loads(read_header(path)).items():
                if name != "__metadata__" and isinstance(tensor, dict):
                    total += math.prod(int(dim) for dim in tensor.get("shape", []))
    except (OSError, ValueError, struct.error, TypeError):
        return 0.0
    return total / 1e9


def weights_bytes(folder: Path) -> int:
    """The size of a model folder's safetensors weights (both halves of a BLIP pair)."""
    try:
        return sum(p.stat().st_size for p in folder.rglob("*.safetensors"))
    except OSError:
        return 0


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


@dataclass
class _LoadContext:
    """What a load needs beyond the folder: where to report progress, what to tell the user."""

    precision: str
    device: str
    progress: Progress | None = None
    prepare: bool = True
    label: str = ""
    revision: str = ""
    notes: list[str] | None = None
    prepared_from: str = ""

    def say(self, fraction: float, sentence: str) -> None:
        if self.progress is not None:
            self.progress(fraction, sentence)

    def note(self, sentence: str) -> None:
        if self.notes is not None and sentence not in self.notes:
            self.notes.append(sentence)


# The load in progress on this thread: progress callback and notes, without widening _load_all.
_CONTEXT: contextvars.ContextVar[_LoadContext] = contextvars.ContextVar("lookaloud_load_context")

DAMAGED_COPY_NOTE = ("The prepared copy of the model was damaged ({why}), so Lookaloud removed it and "
                     "prepared it again.")
UNSAVED_COPY_NOTE = ("Lookaloud could not save a prepared copy of the model ({why}), so it prepared the model "
                     "in memory; the next start will take as long.")


def _load_quantized(model_cls: Any, folder: Path, ctx: _LoadContext) -> Any:
    """The model with its language model quantized: from the prepared copy when there is a good
    one, else prepared now from the original folder (and saved, when ctx.prepare allows)."""
    from desktop_app.vision import prepared, quantize

    float_name = cpu_float_precision()
    dtype = torch_dtype(float_name)
    target, key = prepared.copy_folder(folder, ctx.precision, float_name, ctx.label, ctx.revision)
    for attempt in (1, 2):
        try:
            manifest = prepared.read_manifest(target, precision=ctx.precision, float_dtype=float_name, key=key)
            if manifest is None:
                break
            model = prepared.build_model(model_cls, folder, target, dtype, manifest)
            ctx.prepared_from = str(target)
            return model
        except prepared.DamagedCopyError as exc:
            prepared.remove(target)
            ctx.note(DAMAGED_COPY_NOTE.format(why=one_line(exc)))
            if attempt == 2:
                break
    ctx.say(0.0, f"Preparing the model for this computer in {ctx.precision}; this happens once.")
    model = model_cls.from_pretrained(str(folder), dtype=dtype, use_safetensors=True, trust_remote_code=False)
    model.eval()
    ctx.say(0.3, "Quantizing the language model.")
    last = [-1]

    def step(done: int, total: int) -> None:
        percent = int(30 + 60 * done / max(1, total))
        if percent // 10 > last[0]:
            last[0] = percent // 10
            ctx.say(percent / 100, f"Preparing the model: {percent} percent.")

    names = quantize.quantize_model(model, ctx.precision, step)
    if not ctx.prepare:
        return model
    try:
        prepared.save(model, target, precision=ctx.precision, float_dtype=float_name, quantized=names,
                      source=folder, source_key_=key, progress=ctx.say)
    except OSError as exc:
        ctx.note(UNSAVED_COPY_NOTE.format(why=one_line(exc)))
        return model
    # Reload from the saved copy: its weights are memory-mapped (the page cache can drop them)
    # instead of held as anonymous memory, and the copy is checked to work.
    del model
    try:
        manifest = prepared.read_manifest(target, precision=ctx.precision, float_dtype=float_name, key=key)
        model = prepared.build_model(model_cls, folder, target, dtype, manifest or {})
    except (prepared.DamagedCopyError, KeyError) as exc:
        prepared.remove(target)
        raise ModelLoadError(f"The prepared copy of the model could not be read back: {one_line(exc)}.") from None
    ctx.prepared_from = str(target)
    ctx.say(1.0, "The model is prepared.")
    return model


def _load_parts(kind: str, folder: Path, ctx: _LoadContext) -> tuple[Any, Any]:
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
    if ctx.precision in QUANTIZED:
        model = _load_quantized(model_cls, folder, ctx)
    else:
        kwargs: dict[str, Any] = {"dtype": torch_dtype(ctx.precision), "use_safetensors": True,
                                  "trust_remote_code": False}
        if ctx.device != "cpu":
            kwargs["device_map"] = {"": ctx.device}
        model = model_cls.from_pretrained(str(folder), **kwargs)
        model.eval()
    processor = proc_cls.from_pretrained(str(folder), trust_remote_code=False)
    return model, processor


def load_model(spec: ModelSpec | str, device: str = "auto", precision: str = "auto",
               allow_cpu_fallback: bool = True, progress: Progress | None = None,
               prepare: bool = True) -> LoadedModel:
    """Load a model for inference. Raises ModelNotInstalledError or ModelLoadError.

    On a GPU that runs out of memory it falls back to the CPU when allowed, and says so in
    LoadedModel.note; the note also says which precision "auto" chose when it quantizes, and
    when a damaged prepared copy was rebuilt. `progress(fraction, sentence)` hears about the
    one-time preparation of a quantized copy (called on this thread); `prepare=False` quantizes
    in memory without saving a copy. Runs on the calling thread (the app's inference thread).
    """
    import torch

    if isinstance(spec, str):
        spec = catalog.resolve(spec)
    folder = model_folder(spec)
    chosen_device = choose_device(device)
    large, need_int8 = size_of(spec, folder)
    chosen_precision = choose_precision(chosen_device, precision, large, need_int8)
    if chosen_device == "cpu" and chosen_precision == "fp16":
        chosen_precision = "fp32"  # fp16 matmuls on most CPUs are very slow or missing
    notes: list[str] = []
    if precision == Precision.AUTO and chosen_precision == Precision.INT8:
        notes.append(AUTO_INT8_NOTE)
    elif precision == Precision.AUTO and chosen_precision == Precision.INT4 and chosen_device == "cpu":
        notes.append(AUTO_INT4_NOTE.format(ram=ram_gb()))
    ctx = _LoadContext(chosen_precision, chosen_device, progress, prepare, spec.name if not spec.folder else "",
                       spec.revision, notes)
    start = time.perf_counter()
    try:
        parts = _load_all_or_explain(spec, folder, ctx)
    except torch.OutOfMemoryError:
        if chosen_device == "cpu" or not allow_cpu_fallback:
            raise ModelLoadError(f"There is not enough memory to load {spec.name}.") from None
        _free_gpu_memory()
        ctx.device = chosen_device = "cpu"
        ctx.precision = chosen_precision = choose_precision("cpu", "auto", large, need_int8)
        notes.insert(0, OUT_OF_GPU_MEMORY_NOTE)
        try:
            parts = _load_all_or_explain(spec, folder, ctx)
        except torch.OutOfMemoryError:
            raise ModelLoadError(f"There is not enough memory to load {spec.name}.") from None
    load_ms = (time.perf_counter() - start) * 1000
    return LoadedModel(spec, parts[0], parts[1], chosen_device, chosen_precision, load_ms,
                       vqa_model=parts[2], vqa_processor=parts[3], note=" ".join(notes),
                       prepared=ctx.prepared_from)


def reload_on_cpu(loaded: LoadedModel) -> LoadedModel:
    """After the GPU ran out of memory while working: drop the GPU copy and load the same model
    on the CPU, with OUT_OF_GPU_MEMORY_NOTE as its note. Raises ModelLoadError."""
    spec = loaded.spec
    loaded.model = loaded.vqa_model = None
    del loaded
    _free_gpu_memory()
    cpu = load_model(spec, device="cpu", precision="auto", allow_cpu_fallback=False)
    cpu.note = " ".join([OUT_OF_GPU_MEMORY_NOTE, *([cpu.note] if cpu.note else [])])
    return cpu


def _load_all_or_explain(spec: ModelSpec, folder: Path, ctx: _LoadContext) -> tuple[Any, Any, Any, Any]:
    """_load_all, with every failure but running out of memory turned into one sentence."""
    import torch

    try:
        token = _CONTEXT.set(ctx)  # _load_all keeps its (spec, folder, device, precision) signature
        try:
            return _load_all(spec, folder, ctx.device, ctx.precision)
        finally:
            _CONTEXT.reset(token)
    except (torch.OutOfMemoryError, ModelLoadError):
        raise
    except Exception as exc:  # damaged files raise anything from JSON to safetensors errors
        raise ModelLoadError(f"The model in {folder} could not be loaded: {one_line(exc)}.") from exc


def _load_all(spec: ModelSpec, folder: Path, device: str, precision: str) -> tuple[Any, Any, Any, Any]:
    ctx = _CONTEXT.get(None) or _LoadContext(precision, device)
    ctx.device, ctx.precision = device, precision
    if spec.kind == catalog.BLIP_PAIR:
        base = ctx.label
        ctx.label = f"{base or folder.name}-caption"
        model, processor = _load_parts("blip-caption", folder / "caption", ctx)
        caption_copy = ctx.prepared_from
        ctx.label = f"{base or folder.name}-vqa"
        vqa_model, vqa_processor = _load_parts("blip-vqa", folder / "vqa", ctx)
        ctx.prepared_from = " ".join(p for p in (caption_copy, ctx.prepared_from) if p)
        return model, processor, vqa_model, vqa_processor
    model, processor = _load_parts(spec.kind, folder, ctx)
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
