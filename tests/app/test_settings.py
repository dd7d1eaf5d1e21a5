"""Settings survive a restart through the real file in the platform's config folder, and a
broken or hand-edited file never stops Lookaloud: bad values fall back to the defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop_app import paths, settings
from desktop_app.hotkeys.base import DEFAULT_HOTKEYS, Action
from desktop_app.settings import Settings


@pytest.fixture
def settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return settings.settings_path()


def test_saved_settings_come_back_after_a_restart(settings_file: Path, tmp_path: Path) -> None:
    assert settings_file == tmp_path / "config" / paths.APP_NAME / "settings.json"
    changed = Settings().update(
        model=str(tmp_path / "my model"), device="cpu", precision="bf16", speech_mode="both", voice="de",
        rate=230, volume=0.5, earcons=False, include_kind=False, all_monitors=True, stt_model="base.en",
        language="de", microphone="USB headset", start_with_system=True, keep_history=False, history_size=5,
        hotkeys={**Settings().hotkeys, Action.ASK.value: "Ctrl+Alt+Q"},
    )
    settings.save(changed)
    assert settings.load() == changed
    assert list(settings_file.parent.iterdir()) == [settings_file]  # no temporary file left behind


def test_no_file_gives_the_defaults(settings_file: Path) -> None:
    assert not settings_file.exists()
    loaded = settings.load()
    assert loaded == Settings() and loaded.model == ""  # "" sends the app to first-run setup
    assert loaded.hotkeys == {a.value: c for a, c in DEFAULT_HOTKEYS.items()}


@pytest.mark.parametrize("text", ["", "{not json", "[1, 2]", "\x00\xff"])
def test_a_broken_file_falls_back_to_the_defaults(settings_file: Path, text: str) -> None:
    settings_file.parent.mkdir(parents=True)
    settings_file.write_text(text, encoding="utf-8", errors="surrogateescape")
    assert settings.load() == Settings()


def test_bad_values_fall_back_one_by_one(settings_file: Path) -> None:
    settings_file.parent.mkdir(parents=True)
    settings_file.write_text(json.dumps({
        "model": "blip2-opt-2.7b", "device": "quantum", "rate": -5, "volume": "loud", "earcons": "yes",
        "keep_history": False, "hotkeys": {"ask": "Ctrl+Alt+Q"}, "unknown": 1,
    }), encoding="utf-8")
    loaded = settings.load()
    assert loaded.model == "blip2-opt-2.7b" and loaded.keep_history is False  # good values kept
    assert (loaded.device, loaded.rate, loaded.volume, loaded.earcons) == ("auto", 175, 1.0, True)
    assert loaded.hotkeys["ask"] == "Ctrl+Alt+Q"
    assert loaded.hotkeys["describe-screen"] == DEFAULT_HOTKEYS[Action.DESCRIBE_SCREEN]  # missing ones filled
