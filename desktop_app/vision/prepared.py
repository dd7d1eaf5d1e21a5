"""Prepared copies: a model folder's weights made ready for this computer once, then memory-mapped.

Quantizing a 2.7B language model, or converting float32 shards to bfloat16, takes tens of
seconds and holds the whole model in memory. A prepared copy does it once and saves the result
under the user's data folder (`paths.data_dir()/prepared/<name>-<precision>-<key>/`):

- `model.safetensors`: every tensor of the model's state as plain tensors (the quantized layers'
  int8 or packed int4 weights and their scales included), written one tensor at a time;
- `lookaloud-prepared.json`: the manifest: Lookaloud's format version, the precision, the float
  type of the rest, the source folder and its key, the quantized layers, and the weights file's
  size and header hash. It is written last, so a half-written copy has none and is ignored.

The key hashes the source folder's path, its pinned revision (when it has one) and, for each weights file, its
name, size, modification time and safetensors header, plus config.json: a changed source folder
gets a new copy. The source folder is never written to; its configs are still the ones read
(checked by the loader), and only safetensors are read, never pickle. Before use the manifest
and weights header are checked; a damaged copy raises DamagedCopyError and the loader removes
and rebuilds it. Runs on the loading thread; progress goes to a plain callback (no Qt here).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from desktop_app import paths

FORMAT_VERSION = 2  # 2: the vision transformer and Q-Former quantized too
MANIFEST = "lookaloud-prepared.json"
WEIGHTS = "model.safetensors"
Progress = Callable[[float, str], None]  # (fraction done 0..1, a sentence to show or speak)

_ST_DTYPES = {"F32": "float32", "BF16": "bfloat16", "F16": "float16", "I8": "int8", "U8": "uint8",
              "I32": "int32", "I64": "int64", "BOOL": "bool"}


class DamagedCopyError(RuntimeError):
    """A prepared copy exists but does not match its manifest (truncated, edited, foreign)."""


def root() -> Path:
    return paths.data_dir() / "prepared"


def read_header(path: Path) -> bytes:
    """A safetensors file's JSON header, raw (ValueError for one that cannot be a header)."""
    with path.open("rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        if length > 100_000_000:
            raise ValueError("header too long")
        return f.read(length)


def source_key(folder: Path, precision: str, float_dtype: str, revision: str = "") -> str:
    """A hash that changes whenever the source weights, its config, the precision, the float type
    or Lookaloud's format change. Reads only file headers: quick even for 15 GB of shards."""
    digest = hashlib.sha256(f"{FORMAT_VERSION}|{precision}|{float_dtype}|{revision}|{folder.resolve()}".encode())
    for path in sorted(folder.glob("*.safetensors")):
        st = path.stat()
        digest.update(f"|{path.name}|{st.st_size}|{st.st_mtime_ns}|".encode())
        digest.update(hashlib.sha256(read_header(path)).digest())
    config = folder / "config.json"
    if config.is_file():
        digest.update(config.read_bytes())
    return digest.hexdigest()


def _slug(text: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "-" for c in text).strip("-.")
    return keep[:60] or "model"


def copy_folder(folder: Path, precision: str, float_dtype: str, label: str = "",
                revision: str = "") -> tuple[Path, str]:
    """Where the prepared copy of `folder` in `precision` lives (it may not exist yet), and its key."""
    key = source_key(folder, precision, float_dtype, revision)
    return root() / f"{_slug(label or folder.name)}-{precision}-{key[:16]}", key


# ---- writing --------------------------------------------------------------------------------

def write_safetensors(path: Path, tensors: list[tuple[str, Any]], metadata: dict[str, str] | None = None) -> None:
    """Write a safetensors file one tensor at a time (never a second copy of the whole model).
    Larger elements come first so every tensor's offset is aligned to its element size."""
    import torch

    names = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16", torch.int8: "I8",
             torch.uint8: "U8", torch.int32: "I32", torch.int64: "I64", torch.bool: "BOOL"}
    ordered = sorted(tensors, key=lambda item: (-item[1].element_size(), item[0]))
    header: dict[str, Any] = {"__metadata__": {"format": "pt", **(metadata or {})}}
    offset = 0
    for name, tensor in ordered:
        n = tensor.numel() * tensor.element_size()
        header[name] = {"dtype": names[tensor.dtype], "shape": list(tensor.shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for _name, tensor in ordered:
            data = tensor.detach().contiguous().cpu()
            f.write(data.reshape(-1).view(torch.uint8).numpy().tobytes() if data.numel() else b"")
        f.flush()
        os.fsync(f.fileno())


def _state_tensors(model: Any) -> list[tuple[str, Any]]:
    """The model's state, each tensor once (tied weights are stored under their first name)."""
    seen: set[int] = set()
    out = []
    for name, tensor in model.state_dict().items():
        ptr = tensor.data_ptr()
        if ptr in seen and tensor.numel():
            continue
        seen.add(ptr)
        out.append((name, tensor))
    return out


def save(model: Any, target: Path, *, precision: str, float_dtype: str, quantized: list[str], source: Path,
         source_key_: str, progress: Progress | None = None) -> None:
    """Write a prepared copy of an in-memory model into `target`, atomically: a temporary folder
    renamed into place, the manifest written last. Raises OSError (e.g. a full disk)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        if progress:
            progress(0.9, "Saving the prepared model.")
        write_safetensors(tmp / WEIGHTS, _state_tensors(model))
        header = read_header(tmp / WEIGHTS)
        manifest = {
            "format": FORMAT_VERSION, "precision": precision, "float_dtype": float_dtype,
            "source": str(source), "source_key": source_key_, "quantized": quantized,
            "weights": {"file": WEIGHTS, "size": (tmp / WEIGHTS).stat().st_size,
                        "header_sha256": hashlib.sha256(header).hexdigest()},
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _remove_stale(target, source, precision)


def _remove_stale(current: Path, source: Path, precision: str) -> None:
    """Older copies of the same source and precision (the source changed since) are dead weight."""
    for other in root().glob("*"):
        if other == current or not other.is_dir():
            continue
        try:
            data = json.loads((other / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("source") == str(source) and data.get("precision") == precision:
            shutil.rmtree(other, ignore_errors=True)


def remove(target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)


# ---- reading --------------------------------------------------------------------------------

def read_manifest(target: Path, *, precision: str, float_dtype: str, key: str) -> dict[str, Any] | None:
    """The manifest of a usable prepared copy; None when there is none yet. Raises
    DamagedCopyError when the folder exists but its manifest or weights do not add up."""
    manifest_path = target / MANIFEST
    if not target.exists():
        return None
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DamagedCopyError(f"its manifest cannot be read ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise DamagedCopyError("its manifest is not an object")
    expected = {"format": FORMAT_VERSION, "precision": precision, "float_dtype": float_dtype, "source_key": key}
    for field, value in expected.items():
        if data.get(field) != value:
            raise DamagedCopyError(f"its manifest's {field} does not match")
    weights = data.get("weights")
    quantized = data.get("quantized")
    if not isinstance(weights, dict) or weights.get("file") != WEIGHTS or not isinstance(quantized, list) \
            or not all(isinstance(q, str) for q in quantized):
        raise DamagedCopyError("its manifest is incomplete")
    path = target / WEIGHTS
    try:
        size = path.stat().st_size
        header = read_header(path)
        parsed = json.loads(header)
    except (OSError, ValueError, struct.error) as exc:
        raise DamagedCopyError(f"its weights cannot be read ({exc.__class__.__name__})") from None
    if size != weights.get("size") or hashlib.sha256(header).hexdigest() != weights.get("header_sha256"):
        raise DamagedCopyError("its weights file is not the one it was saved with")
    try:
        ends = [int(t["data_offsets"][1]) for k, t in parsed.items() if k != "__metadata__"]
        bad_type = [k for k, t in parsed.items() if k != "__metadata__" and t["dtype"] not in _ST_DTYPES]
    except (TypeError, KeyError, IndexError, ValueError, AttributeError):
        raise DamagedCopyError("its weights header is malformed") from None
    if bad_type or 8 + len(header) + max(ends, default=0) != size:
        raise DamagedCopyError("its weights file is incomplete")
    return data


def load_weights(target: Path) -> dict[str, Any]:
    """The prepared tensors, memory-mapped from the file (pages are read on first use)."""
    from safetensors.torch import load_file

    return load_file(str(target / WEIGHTS), device="cpu")


def build_model(model_cls: Any, folder: Path, target: Path, float_dtype: Any, manifest: dict[str, Any]) -> Any:
    """The model from the source folder's config with the prepared tensors assigned in place:
    no weight is initialised or copied. Raises DamagedCopyError when the tensors do not fit."""
    from transformers import GenerationConfig
    from transformers.initialization import no_init_weights

    from desktop_app.vision import quantize

    config = model_cls.config_class.from_pretrained(str(folder), trust_remote_code=False)
    with no_init_weights():  # uninitialised float tensors cost no memory until written
        model = model_cls._from_config(config, dtype=float_dtype)
    precision = manifest["precision"]
    if manifest["quantized"]:
        try:
            quantize.empty_quantized_layers(model, precision, manifest["quantized"])
        except ValueError as exc:
            raise DamagedCopyError(str(exc)) from None
    model.tie_weights()  # so that tied weights share storage in the skeleton, as they did when saved
    state = load_weights(target)
    expected = model.state_dict()
    for name, tensor in state.items():
        want = expected.get(name)
        if want is None or want.shape != tensor.shape or want.dtype != tensor.dtype:
            raise DamagedCopyError(f"the tensor {name} does not belong to this model")
    # A tensor not saved must share its storage with one that was (tied weights, as written by
    # _state_tensors); it gets the same memory-mapped tensor. Anything else is missing.
    by_storage: dict[int, str] = {}
    for name, tensor in expected.items():
        if name in state and tensor.numel():
            by_storage.setdefault(tensor.data_ptr(), name)
    for name, tensor in expected.items():
        if name in state:
            continue
        mate = by_storage.get(tensor.data_ptr()) if tensor.numel() else None
        if mate is None:
            raise DamagedCopyError(f"the tensor {name} is missing")
        state[name] = state[mate]
    model.load_state_dict(state, strict=True, assign=True)
    generation = folder / "generation_config.json"
    if generation.is_file():
        model.generation_config = GenerationConfig.from_pretrained(str(folder))
    model.eval()
    return model
