"""A damaged model folder in the app: the user hears one sentence and the app leaves "Loading".

The real app, its inference thread and the real loader, on copies of a tiny model spoiled the
ways a download or a hand-edited folder gets spoiled.
"""

from __future__ import annotations

import json
import shutil

import pytest
from PIL import Image

from desktop_app.controller import State


def _truncate_weights(folder) -> None:
    weights = next(folder.glob("*.safetensors"))
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 3])


DAMAGE = {
    "garbage lookaloud.json": (lambda f: (f / "lookaloud.json").write_text("{not json"), "lookaloud.json"),
    "list config.json": (lambda f: (f / "config.json").write_text("[]"), "config.json"),
    "truncated safetensors": (_truncate_weights, "safetensors"),
    "code in lookaloud.json": (
        lambda f: (f / "lookaloud.json").write_text(json.dumps(
            {"caption_generation": {"custom_generate": str(f), "trust_remote_code": True}})),
        "custom_generate"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_model_is_said_and_the_app_leaves_loading(qtbot, make_app, tiny_opt, tmp_path, damage):
    folder = tmp_path / "model"
    shutil.copytree(tiny_opt, folder)
    spoil, named = DAMAGE[damage]
    spoil(folder)
    app = make_app(model=str(folder))
    app.controller.describe_image(Image.new("RGB", (40, 30), (200, 0, 0)), "first")
    qtbot.waitUntil(lambda: app.controller.state == State.NO_MODEL, timeout=30000)
    failure = app.controller.last_spoken
    assert named in failure and failure.endswith(".") and "\n" not in failure and "Traceback" not in failure
    qtbot.waitUntil(lambda: app.window.status.text() == failure, timeout=5000)
    assert not app.controller._outstanding
    app.controller.describe_image(Image.new("RGB", (40, 30), (0, 200, 0)), "second")
    assert "No model is set up yet" in app.heard[-1]
    assert "Loading" not in app.window.status.text()
