"""Tiny models of each kind, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit import tiny_models

BUILDERS = {
    "blip2-opt": lambda d: tiny_models.build_blip2(d, "opt"),
    "blip2-t5": lambda d: tiny_models.build_blip2(d, "t5"),
    "instructblip-t5": lambda d: tiny_models.build_instructblip(d, "t5"),
    "instructblip-llm": lambda d: tiny_models.build_instructblip(d, "llama"),
    "blip-pair": tiny_models.build_blip_pair,
}


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """kind -> folder holding a saved tiny model of that kind."""
    import torch

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("tiny-models")
    return {kind: build(root / kind) for kind, build in BUILDERS.items()}
