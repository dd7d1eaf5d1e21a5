"""Integer weights for the processor: the language model's Linear layers in 8 or 4 bits.

Two methods, chosen by measuring on a 2-core AVX512-BF16 CPU with torch 2.13 (docs/benchmarks.md):

- int8, dynamic: weights as int8 with one float scale per output row; each call quantizes its
  input per row (per token) to int8 and multiplies with `torch._int_mm` (exact int32 sums).
  Because every row is quantized on its own and integer sums are exact, a token gets the same
  result alone or in a batch: the cached path of ImageSession stays exact. The weights are
  plain int8 tensors, so a prepared copy memory-maps them with no repacking at load (fbgemm's
  `quantized.linear_dynamic` is faster per token but must repack every weight at each start,
  tens of seconds for a 2.7B model, and its quantized tensors are deprecated).
- int4, weight-only: groups of 32 weights share a scale and a zero point (round to nearest, the
  clipping range searched per group for the least error), packed for
  `torch.ops.aten._weight_int4pack_mm_for_cpu`; inputs run in bfloat16. It needs the output
  size to be a multiple of 16 and the input size a multiple of 32; other layers stay float.

Only the language model's Linear layers change (`language_model` in BLIP-2 and InstructBLIP,
`text_decoder`/`text_encoder` in BLIP); the output layer that shares the input embeddings stays
float, and so do the vision transformer and the Q-Former (dynamic int8 broke the ViT's output
in the measurements). Qt-free; runs on the thread that loads the model.
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
_CLIP_SEARCH = (1.0, 0.95, 0.9, 0.85, 0.8)


class Int8DynamicLinear(nn.Module):
    """y = x W^T + b with W in int8 (a scale per output row) and x quantized per row at each call."""

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
        rows = x.reshape(-1, self.in_features).float()
        x_scale = rows.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127
        x_int = (rows / x_scale).round().to(torch.int8)
        out = torch._int_mm(x_int, self.qweight.t()).float() * (x_scale * self.scale)
        if self.bias is not None:
            out = out + self.bias.float()
        return out.to(x.dtype).reshape(*shape[:-1], self.out_features)


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


def targets(model: nn.Module, precision: str) -> Iterator[tuple[str, nn.Linear]]:
    """(qualified name, Linear) of every layer that `precision` quantizes in this model."""
    if precision not in QUANTIZED:
        return
    tied: set[int] = set()
    try:
        tied.add(id(model.get_input_embeddings().weight))
    except (AttributeError, NotImplementedError):
        pass
    for part in LANGUAGE_PARTS:
        sub = getattr(model, part, None)
        if not isinstance(sub, nn.Module):
            continue
        try:
            tied.add(id(sub.get_input_embeddings().weight))
        except (AttributeError, NotImplementedError):
            pass
        for name, module in sub.named_modules():
            if type(module) is not nn.Linear or id(module.weight) in tied:
                continue
            if precision == INT4 and not Int4WeightOnlyLinear.fits(module):
                continue
            yield f"{part}.{name}", module


def _set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def quantize_model(model: nn.Module, precision: str,
                   progress: Callable[[int, int], None] | None = None) -> list[str]:
    """Replace the language model's Linear layers in place; returns their names. Each float
    weight is freed as soon as its layer is replaced (only names are kept between layers), so
    memory never holds both copies of more than one layer."""
    names = [name for name, _linear in targets(model, precision)]
    method = METHODS[precision]
    for i, name in enumerate(names):
        _set_module(model, name, method.from_linear(model.get_submodule(name)))  # type: ignore[attr-defined]
        if progress is not None:
            progress(i + 1, len(names))
    return names


def empty_quantized_layers(model: nn.Module, precision: str, names: list[str]) -> None:
    """Swap the named Linear layers for empty quantized ones, to be filled from a prepared copy.
    Raises ValueError when a name is not a Linear layer that `precision` can quantize."""
    method = METHODS[precision]
    allowed = dict(targets(model, precision))
    for name in names:
        linear = allowed.get(name)
        if linear is None:
            raise ValueError(f"{name} is not a layer that {precision} quantizes")
        _set_module(model, name, method(linear.in_features, linear.out_features,  # type: ignore[call-arg]
                                        linear.bias is not None, linear.weight.dtype))
