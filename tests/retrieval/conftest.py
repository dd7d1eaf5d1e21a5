"""Tiny retrieval checkpoints (and a captioner sharing their vision encoder), built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from testkit import tiny_models


@pytest.fixture(scope="session")
def tiny_retrieval(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """captioner: a tiny BLIP-2 OPT; shared: a retrieval model holding the captioner's vision
    encoder; other: a retrieval model with a vision encoder of its own."""
    import torch

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("tiny-retrieval")
    captioner = tiny_models.build_blip2(root / "captioner", "opt", seed=3)
    return {
        "captioner": captioner,
        "shared": tiny_models.build_blip2_retrieval(root / "shared", seed=1, vision_from=captioner),
        "other": tiny_models.build_blip2_retrieval(root / "other", seed=2),
    }


def drawn(colour: str, shape: str = "circle", size: tuple[int, int] = (64, 48)) -> Image.Image:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    box = (8, 8, size[0] - 8, size[1] - 8)
    (draw.ellipse if shape == "circle" else draw.rectangle)(box, fill=colour)
    return image
