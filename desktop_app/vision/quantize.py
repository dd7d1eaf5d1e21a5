"""Integer weights for the processor: the language model's Linear layers in 8 or 4 bits, and the
vision transformer's and Q-Former's in 8 bits.

Chosen by measuring each kernel on a 2-core AVX512-BF16/AMX CPU with torch 2.13, one layer of
blip2-opt-2.7b at a time (docs/benchmarks.md, "Kernels"):

- int8 language model: weights as int8 with one float scale per output row, used two ways.
  One row at a time (greedy decoding, the step that repeats) goes through the weight-only kernel
  `_weight_int8pack_mm` with the activations kept in their float type: 0.27-0.49x bf16's time.
  Several rows at once (the prompt, beams) quantize the input per row to int8 and multiply with
  `torch._int_mm` (exact int32 sums): 0.4-0.7x bf16 for 40 rows, where the weight-only kernel is
  6x slower than bf16. Each kernel gives a row the same result whatever the other rows, so the
  cached path of ImageSession (the prompt in pieces, then one row per token) makes the same
  calls as the stock `generate` and stays exact. The weights are plain int8 tensors: a prepared
  copy memory-maps them with nothing to repack at load.
- int4 language model, weight-only: groups of 32 weights share a scale and a zero point (round
  to nearest, the clipping range searched per group for the least error), packed for
  `torch.ops.aten._weight_int4pack_mm_for_cpu`; inputs run in bfloat16. It needs the output
  size to be a multiple of 16 and the input size a multiple of 32; other layers stay float.
  Quickest per token (0.26-0.47x bf16) and least memory, but 4x slower than bf16 on a prompt.
- The vision transformer and the Q-Former (both int8 and int4): weight-only int8, a scale per
  output row; each call turns the int8 weight into the activations' float type (exact: integers
  up to 127) and multiplies, then scales. It halves their memory (ViT-g: 2 GB to 1 GB) for
  about 1.0-1.7x the encode time; the activations are never quantized (per-token dynamic int8
  broke the ViT's output in the measurements).

Only Linear layers change (`language_model` in BLIP-2 and InstructBLIP, `text_decoder`/
`text_encoder` in BLIP; `vision_model` and `qformer`); the output layer that shares the input
embeddings stays float. Qt-free; runs on the thread that loads the model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

INT8 = "int8"
INT4 = "int4"
QUANTIZED = (INT8, INT4)
GROUP_SIZE = 32
# The submodules whose Linear layers are quantized, by model class attribute.
LANGUAGE_PARTS = ("language_model", "text_decoder", "text_encoder")
VISION_PARTS = ("vision_model", "qformer")
_CLIP_SEARCH = (1.0, 0.95, 0.9, 0.85, 0.8)


class Int8DynamicLinear(nn.Module):
    """y = x W^T + b with W in int8 (a scale per output row); one row runs weight-only, several
    rows are quantized per row and multiplied in integers."""

    def __init__(self, in_features: int, out_features: int, bias: bool, bias_dtype: Any = torch.float32) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.register_buffer("qweight", torch.empty(out_features, in_features, dtype=torch.int8))
        self.register_buffer("scale", torch.empty(out_features, dtype=torch.float32))
        self.bias: Any = nn.Parameter(torch.empty(out_features, dtype=bias_dtype), requires_grad=False) if bias \
            else None

    @property
    def weight(self) -> torch.Tensor:
        """The int8 weight: some models (T5) look at `.weight.dtype`, and int8 tells them not to cast."""
        return self.qweight

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> Int8DynamicLinear:
        weight = linear.weight.detach().float()
        module = cls(linear.in_features, linear.out_features, linear.bias is not None)
        scale = weight.abs().amax(dim=1).clamp(min=1e-12) / 127
        module.qweight = (weight / scale[:, None]).round().clamp(-127, 127).to(torch.int8)
        module.scale = scale
        if linear.bias is not None:
            module.bias = nn.Parameter(linear.bias.detach().clone(), requires_grad=False)
        return module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        rows = x.reshape(-1, self.in_features)
        if rows.shape[0] == 1 and self.in_features % 16 == 0 and self.out_features % 16 == 0:
            # One token: the weight-only kernel, activations in their float type. Its bfloat16
            # path returns garbage or crashes for sizes that are not multiples of 16 (torch
            # 2.13; tests/vision/test_quantize.py has such a tiny model), so such layers always
            # take the integer path below.
            kind = rows.dtype if rows.dtype in (torch.bfloat16, torch.float32) else torch.float32
            out = torch.ops.aten._weight_int8pack_mm(rows.to(kind), self.qweight, self.scale.to(kind))
            if self.bias is not None:
                out = out + self.bias.to(kind)
            return out.to(x.dtype).reshape(*shape[:-1], self.out_features)
        rows = rows.float()
        x_scale = rows.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127
        x_int = (rows / x_scale).round().to(torch.int8)
        out = torch._int_mm(x_int, self.qweight.t()).float() * (x_scale * self.scale)
        if self.bias is not None:
            out = out + self.bias.float()
        return out.to(x.dtype).reshape(*shape[:-1], self.out_features)


class Int8WeightOnlyLinear(Int8DynamicLinear):
    """y = (x W_int8^T) * scale + b: the int8 weight in the activations' float type, for the
    vision side (many rows, never quantized)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kind = x.dtype if x.dtype in (torch.bfloat16, torch.float32, torch.float16) else torch.float32
        out = torch.nn.functional.linear(x.to(kind), self.qweight.to(kind)) * self.scale.to(kind)
        if self.bias is not None:
            out = out + self.bias.to(kind)
        return out.to(x.dtype)


class Int4WeightOnlyLinear(nn.Module):
    """y = x W^T + b with W in 4 bits, groups of GROUP_SIZE along the input, packed for the CPU kernel."""

    def __init__(self, in_features: int, out_features: int, bias: bool, bias_dtype: Any = torch.float32,
                 group_size: int = GROUP_SIZE) -> None:
        super().__init__()
        self.in_features, self.out_features, self.group_size = in_features, out_features, group_size
        self.register_buffer("packed", torch.empty(out_features, in_features // 2, dtype=torch.uint8))
        self.register_buffer("scales_zeros",
                             torch.empty(in_features // group_size, out_features, 2, dtype=torch.bfloat16))
        self.bias: Any = nn.Parameter(torch.empty(out_features, dtype=bias_dtype), requires_grad=False) if bias \
            else None

    @property
    def weight(self) -> torch.Tensor:
        """An empty int8 marker: models that check `.weight.dtype` (T5) then leave the input alone."""
        return torch.empty(0, dtype=torch.int8, device=self.packed.device)

    @staticmethod
    def fits(linear: nn.Linear, group_size: int = GROUP_SIZE) -> bool:
        return linear.out_features % 16 == 0 and linear.in_features % group_size == 0

    @classmethod
    def from_linear(cls, linear: nn.Linear, group_size: int = GROUP_SIZE) -> Int4WeightOnlyLinear:
        n, k = linear.out_features, linear.in_features
        weight = linear.weight.detach().float().reshape(n, k // group_size, group_size)
        best_q: Any = None
        best_err: Any = None
        best_scale: Any = None
        best_low: Any = None
        low_all, high_all = weight.amin(-1, keepdim=True), weight.amax(-1, keepdim=True)
        for shrink in _CLIP_SEARCH:  # a slightly narrower range often rounds the bulk better
            low, high = low_all * shrink, high_all * shrink
            scale = ((high - low) / 15).clamp(min=1e-12)
            q = ((weight - low) / scale).round().clamp(0, 15)
            err = ((q * scale + low - weight) ** 2).sum(-1, keepdim=True)
            if best_err is None:
                best_q, best_err, best_scale, best_low = q, err, scale, low
                continue
            better = err < best_err
            best_q = torch.where(better, q, best_q)
            best_scale = torch.where(better, scale, best_scale)
            best_low = torch.where(better, low, best_low)
            best_err = torch.minimum(err, best_err)
        module = cls(k, n, linear.bias is not None, group_size=group_size)
        module.packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(
            best_q.reshape(n, k).to(torch.int32).contiguous(), 2)
        # The kernel computes (q - 8) * scale + zero, so zero = low + 8 * scale.
        zeros = best_low + 8 * best_scale
        module.scales_zeros = torch.stack([best_scale.reshape(n, -1), zeros.reshape(n, -1)], dim=-1) \
            .transpose(0, 1).contiguous().to(torch.bfloat16)
        if linear.bias is not None:
            module.bias = nn.Parameter(linear.bias.detach().clone(), requires_grad=False)
        return module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        rows = x.reshape(-1, self.in_features).to(torch.bfloat16)
        out = torch.ops.aten._weight_int4pack_mm_for_cpu(rows, self.packed, self.group_size, self.scales_zeros)
        if self.bias is not None:
            out = out + self.bias.to(out.dtype)
        return out.to(x.dtype).reshape(*shape[:-1], self.out_features)


METHODS: dict[str, type[nn.Module]] = {INT8: Int8DynamicLinear, INT4: Int4WeightOnlyLinear}


def _parts(model: nn.Module, parts: tuple[str, ...]) -> Iterator[tuple[str, nn.Module]]:
    for part in parts:
        sub = getattr(model, part, None)
        if isinstance(sub, nn.Module):
            yield part, sub


def targets(model: nn.Module, precision: str) -> Iterator[tuple[str, nn.Linear, type[nn.Module]]]:
    """(qualified name, Linear, the quantized class for it) of every layer that `precision`
    quantizes in this model: the language model's, then the vision side's."""
    if precision not in QUANTIZED:
        return
    tied: set[int] = set()
    try:
        tied.add(id(model.get_input_embeddings().weight))
    except (AttributeError, NotImplementedError):
        pass
    for part, sub in _parts(model, LANGUAGE_PARTS):
        try:
            tied.add(id(sub.get_input_embeddings().weight))
        except (AttributeError, NotImplementedError):
            pass
        for name, module in sub.named_modules():
            if type(module) is not nn.Linear or id(module.weight) in tied:
                continue
            if precision == INT4 and not Int4WeightOnlyLinear.fits(module):
                continue
            yield f"{part}.{name}", module, METHODS[precision]
    for part, sub in _parts(model, VISION_PARTS):
        for name, module in sub.named_modules():
            if type(module) is nn.Linear and id(module.weight) not in tied:
                yield f"{part}.{name}", module, Int8WeightOnlyLinear


def _set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def quantize_model(model: nn.Module, precision: str,
                   progress: Callable[[int, int], None] | None = None) -> list[str]:
    """Replace the Linear layers in place; returns their names. Each float weight is freed as soon
    as its layer is replaced (only names are kept between layers), so memory never holds both
    copies of more than one layer."""
    names = [(name, method) for name, _linear, method in targets(model, precision)]
    for i, (name, method) in enumerate(names):
        _set_module(model, name, method.from_linear(model.get_submodule(name)))  # type: ignore[attr-defined]
        if progress is not None:
            progress(i + 1, len(names))
    return [name for name, _method in names]


def empty_quantized_layers(model: nn.Module, precision: str, names: list[str]) -> None:
    """Swap the named Linear layers for empty quantized ones, to be filled from a prepared copy.
    Raises ValueError when a name is not a Linear layer that `precision` can quantize."""
    allowed = {name: (linear, method) for name, linear, method in targets(model, precision)}
    for name in names:
        found = allowed.get(name)
        if found is None:
            raise ValueError(f"{name} is not a layer that {precision} quantizes")
        linear, method = found
        _set_module(model, name, method(linear.in_features, linear.out_features,  # type: ignore[call-arg]
                                        linear.bias is not None, linear.weight.dtype))
