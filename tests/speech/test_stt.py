"""Whisper speech recognition: real tiny.en on questions spoken by espeak-ng, model lookup
without any download, and the `lookaloud transcribe` command."""

from __future__ import annotations

import argparse
import json
import os
import wave
from pathlib import Path

import numpy as np
import pytest

from desktop_app.cli import EXIT_BAD_INPUT, EXIT_NO_MODEL, EXIT_OK, main
from desktop_app.commands import transcribe as transcribe_command
from desktop_app.models.speech_catalog import STT_MODELS, SttModelError, SttModelNotInstalledError
from desktop_app.models.store import bundled_tiny_en, installed_stt_models, resolve_stt_model
from desktop_app.speech.microphone import SAMPLE_RATE
from desktop_app.speech.stt import SttLanguageError, Transcriber
from testkit.speech_audio import noise, shared_transcriber, speak, surround, words


@pytest.mark.parametrize(("voice", "question", "key_words"), [
    ("en-us", "How many people are in the picture?", {"people", "picture"}),
    ("en", "What time does the clock show?", {"time", "clock"}),
    ("en-gb-x-rp", "What color is the car?", {"color", "car"}),
    ("en-us+f3", "Is there any text on this page?", {"text", "page"}),
])
def test_spoken_questions_are_transcribed(voice: str, question: str, key_words: set[str]) -> None:
    audio = surround(speak(question, voice=voice), before=0.3, after=0.3)
    transcript = shared_transcriber().transcribe(audio)
    assert key_words <= set(words(transcript.text)), transcript.text
    assert transcript.language == "en"


def test_sound_file_with_long_silences_is_transcribed(tmp_path: Path) -> None:
    path = tmp_path / "question.wav"
    audio = surround(speak("How many people are in the picture?"), before=4.0, after=4.0)
    _write_wav(path, audio)
    transcript = shared_transcriber().transcribe(path, trim_silence=True)
    assert {"people", "picture"} <= set(words(transcript.text))
    assert transcript.audio_seconds > 8


def test_default_model_is_the_one_installed_from_the_package_index() -> None:
    folder = resolve_stt_model()
    assert folder == bundled_tiny_en()
    assert (folder / "model.bin").is_file()
    assert "tiny.en" in installed_stt_models()


def test_every_catalog_model_can_be_downloaded_reproducibly() -> None:
    for model in STT_MODELS.values():
        assert "/" in model.repo_id
        assert len(model.revision) == 40 and int(model.revision, 16) >= 0, model.name
        assert "model.bin" in model.allow_patterns
        assert model.download_mb > 0
        assert model.label.endswith(".")
    assert {"tiny.en", "base.en", "small.en", "distil-small.en", "small"} <= set(STT_MODELS)


def test_model_not_downloaded_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(SttModelNotInstalledError, match="Run lookaloud models download base.en"):
        resolve_stt_model("base.en", cache_dir=tmp_path)
    assert "base.en" not in installed_stt_models(cache_dir=tmp_path)


def test_downloaded_model_is_found_in_the_hub_cache(tmp_path: Path) -> None:
    # The layout the hub downloader leaves: snapshots/<pinned commit>/ with the model files.
    model = STT_MODELS["base.en"]
    snapshot = tmp_path / ("models--" + model.repo_id.replace("/", "--")) / "snapshots" / model.revision
    snapshot.mkdir(parents=True)
    tiny = bundled_tiny_en()
    assert tiny is not None
    for f in tiny.iterdir():
        os.symlink(f, snapshot / f.name)
    assert resolve_stt_model("base.en", cache_dir=tmp_path) == snapshot
    assert resolve_stt_model(model.repo_id, cache_dir=tmp_path) == snapshot


def test_model_folder_is_used_as_given(tmp_path: Path) -> None:
    tiny = bundled_tiny_en()
    assert tiny is not None
    assert resolve_stt_model(str(tiny)) == tiny
    with pytest.raises(SttModelError, match="no model.bin"):
        resolve_stt_model(tmp_path)
    with pytest.raises(SttModelError, match="Known speech models: tiny.en"):
        resolve_stt_model("whisper-gigantic")


def test_english_only_model_refuses_another_language_before_listening() -> None:
    with pytest.raises(SttLanguageError, match="understands only English"):
        Transcriber("tiny.en", language="fr")
    Transcriber("tiny.en", language="auto")  # detection is fine: it will say English


def test_silence_gives_an_empty_transcript() -> None:
    assert shared_transcriber().transcribe(noise(2.0), trim_silence=True).text == ""


def _write_wav(path: Path, audio: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())


def _run_command(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    transcribe_command.add_arguments(parser)
    return transcribe_command.run(parser.parse_args(list(argv)))


def test_transcribe_command_prints_what_was_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "question.wav"
    _write_wav(path, surround(speak("What is on the table?", voice="en"), before=1.0, after=1.0))
    assert main(["transcribe", str(path)]) == EXIT_OK  # as typed: lookaloud transcribe question.wav
    assert "table" in words(capsys.readouterr().out)
    assert _run_command(str(path), "--json") == EXIT_OK
    result = json.loads(capsys.readouterr().out)
    assert "table" in words(result["text"])
    assert result["language"] == "en" and result["model"] == "tiny.en"


def test_transcribe_command_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run_command(str(tmp_path / "missing.wav")) == EXIT_BAD_INPUT
    assert "There is no file" in capsys.readouterr().err
    path = tmp_path / "q.wav"
    _write_wav(path, noise(0.5))
    assert _run_command(str(path), "--model", "small.en") == EXIT_NO_MODEL
    assert "lookaloud models download small.en" in capsys.readouterr().err
    assert _run_command(str(path), "--language", "de") == EXIT_BAD_INPUT
    assert "only English" in capsys.readouterr().err
