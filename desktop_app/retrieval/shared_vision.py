"""One vision-transformer pass for describing a picture and indexing it, when that is exact.

BLIP-2's pretrained captioners (blip2-opt-*, blip2-flan-t5-*) and blip2-itm-vit-g were trained
on the same frozen ViT-g; the -coco captioners fine-tuned theirs. Whether two loaded models
really hold the same vision encoder is never assumed from their names: `vision_fingerprint`
hashes every tensor of each model's `vision_model` (names, dtypes, shapes and bytes) after
loading, and the image processors' settings must match too (the same pixels must go in).

When they match, `SharedVision` hooks the captioner's vision model: every pass the describer
makes (an ImageSession encoding a picture) leaves its last hidden state behind, and the index
turns it into query embeddings with the retrieval Q-Former alone, a small fraction of the cost.
When they do not, the retrieval model runs its own vision transformer. Runs on the thread that
owns both models.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from desktop_app.retrieval.engine import RetrievalModel

# Image processor settings that change the pixels a model sees.
_PIXEL_SETTINGS = ("size", "crop_size", "do_resize", "resample", "do_rescale", "rescale_factor", "do_normalize",
                   "image_mean", "image_std", "do_convert_rgb", "do_center_crop", "do_pad")


def vision_fingerprint(model: Any) -> str:
    """A SHA-256 over a model's vision encoder tensors (its `vision_model`), as loaded."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(model.vision_model.state_dict().items()):
        data = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{data.dtype}:{tuple(data.shape)}\n".encode())
        digest.update(data.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def pixel_settings(processor: Any) -> dict[str, Any]:
    image_processor = getattr(processor, "image_processor", processor)
    settings = image_processor.to_dict()
    return {key: settings.get(key) for key in _PIXEL_SETTINGS}


def same_vision(captioner: Any, captioner_processor: Any, retrieval: RetrievalModel) -> bool:
    """True when the captioner's vision pass is exactly what the retrieval model would compute."""
    if not hasattr(captioner, "vision_model"):
        return False
    if pixel_settings(captioner_processor) != pixel_settings(retrieval.processor):
        return False
    return vision_fingerprint(captioner) == vision_fingerprint(retrieval.model)


class SharedVision:
    """Keeps the captioner's latest vision output so the index can reuse it.

    `shared` says whether the hashes matched; when False, `embed` runs the retrieval model's own
    vision transformer and nothing is hooked."""

    def __init__(self, captioner: Any, captioner_processor: Any, retrieval: RetrievalModel) -> None:
        self.retrieval = retrieval
        self.shared = same_vision(captioner, captioner_processor, retrieval)
        self._last: Any = None
        self._handle = (captioner.vision_model.register_forward_hook(self._keep, with_kwargs=True)
                        if self.shared else None)

    def _keep(self, _module: Any, args: Any, kwargs: Any, output: Any) -> None:
        pixels = kwargs.get("pixel_values", args[0] if args else None)
        states = output.last_hidden_state if hasattr(output, "last_hidden_state") else output[0]
        self._last = (pixels.detach() if pixels is not None else None, states.detach())

    def take_vision_states(self, image: Any) -> Any:
        """The captioner's last vision output if it was computed from this picture's pixels
        (checked, never assumed), else None. Taken once."""
        import torch

        last, self._last = self._last, None
        if last is None or last[0] is None:
            return None
        pixels, states = last
        mine = self.retrieval.pixel_values([image])
        if pixels.shape != mine.shape or not torch.equal(pixels.to(mine.device, mine.dtype), mine):
            return None
        return states

    def embed(self, image: Any) -> tuple[np.ndarray, bool]:
        """The picture's query embeddings, and whether the describer's vision pass served.

        Call right after the describer encoded `image` (its ImageSession); otherwise (the kept
        pixels differ), or when the models differ, the retrieval model encodes it itself."""
        states = self.take_vision_states(image) if self.shared else None
        if states is not None and states.shape[0] == 1:
            return self.retrieval.image_embeddings_from_vision(states)[0], True
        return self.retrieval.image_embeddings([image])[0], False

    def close(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        self._last = None
