"""The settings' choice lists are one list each: settings.json keeps the same strings, the
command line, the loader and the Settings dialog offer the same choices, and setup guesses
the precision the loader will choose."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from desktop_app import settings as settings_store
from desktop_app.choices import Device, Precision, SpeechMode
from desktop_app.vision import loader


def test_settings_file_keeps_its_plain_strings(tmp_path) -> None:
    path = tmp_path / "settings.json"
    settings_store.save(settings_store.Settings(device=Device.CPU, precision=Precision.BF16,
                                                speech_mode=SpeechMode.SCREEN_READER), path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert (data["device"], data["precision"], data["speech_mode"]) == ("cpu", "bf16", "screen_reader")
    loaded = settings_store.load(path)
    assert (loaded.device, loaded.precision, loaded.speech_mode) == ("cpu", "bf16", "screen_reader")


def test_a_value_outside_the_lists_falls_back_to_the_default(tmp_path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"device": "tpu", "precision": "int3", "speech_mode": "braille"}), encoding="utf-8")
    loaded = settings_store.load(path)
    assert (loaded.device, loaded.precision, loaded.speech_mode) == ("auto", "auto", "voice")


def test_the_loader_refuses_what_is_not_on_the_list() -> None:
    with pytest.raises(ValueError, match="int3") as refused:
        loader.choose_precision("cpu", "int3")
    assert all(p in str(refused.value) for p in ("auto", "fp32", "bf16", "fp16", "int8", "int4"))


def test_the_command_line_offers_the_same_devices() -> None:
    run = subprocess.run([sys.executable, "-m", "desktop_app", "describe", "x.png", "--device", "tpu"],
                         check=False, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert all(d.value in run.stderr for d in Device)


def test_every_choice_has_a_sentence_to_hear() -> None:
    for kind in (Device, Precision, SpeechMode):
        assert all(member.label and member.label[0].isupper() for member in kind)
    assert f"{Device.CUDA}" == "cuda" and str(Precision.FP16) == "fp16"


def test_setup_guesses_the_precision_the_loader_chooses() -> None:
    from desktop_app.models.vision_catalog import CATALOG, DEFAULT_MODEL
    from desktop_app.ui.setup_dialog import Machine, detect_machine

    machine = detect_machine()
    for spec in CATALOG.values():  # the loader decides "large" from the weights on disk; setup from the download
        large = spec.download_mb * 1_000_000 >= loader.LARGE_MODEL_BYTES
        assert machine.precision_for(spec) == loader.choose_precision(
            machine.device, large=large, need_int8_gb=spec.memory_gb("int8") if large else 0.0), spec.name
    default = CATALOG[DEFAULT_MODEL]
    assert Machine(ram_gb=32, gpu_gb=24, gpu_bf16=True).precision_for(default) == "bf16"
    assert Machine(ram_gb=32, gpu_gb=24).precision_for(default) == "fp16"
    assert Machine(ram_gb=16).precision_for(default) == "int8"  # a laptop: never bf16 or fp32 for 2.7B
    assert Machine(ram_gb=6).precision_for(default) == "int4"  # int8's 4.8 GB would not leave the system room
