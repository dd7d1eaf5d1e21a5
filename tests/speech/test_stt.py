"""Whisper speech recognition: the real default model on questions spoken by espeak-ng, no
words from noise or silence, model lookup without any download, and `lookaloud transcribe`."""

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
from desktop_app.models.speech_catalog import (
    DEFAULT_STT_MODEL,
    STT_MODELS,
    SttModelError,
    SttModelNotInstalledError,
)
from desktop_app.models.store import bundled_tiny_en, installed_stt_models, resolve_stt_model
from desktop_app.paths import resource
from desktop_app.speech.listener import Listener
from desktop_app.speech.microphone import SAMPLE_RATE, WavSource, read_audio_file
from desktop_app.speech.stt import QUESTION_PROMPT, SttLanguageError, Transcriber, heard_sentence
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
    # The default is now base (tests/speech/test_whisper_packages.py); tiny.en still installs.
    folder = resolve_stt_model("tiny.en")
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
    assert result["language"] == "en" and result["model"] == DEFAULT_STT_MODEL


def test_transcribe_command_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run_command(str(tmp_path / "missing.wav")) == EXIT_BAD_INPUT
    assert "There is no file" in capsys.readouterr().err
    path = tmp_path / "q.wav"
    _write_wav(path, noise(0.5))
    assert _run_command(str(path), "--model", "small.en") == EXIT_NO_MODEL
    assert "lookaloud models download small.en" in capsys.readouterr().err
    assert _run_command(str(path), "--model", "tiny.en", "--language", "de") == EXIT_BAD_INPUT
    assert "only English" in capsys.readouterr().err


def _noise_only_clips() -> dict[str, np.ndarray]:
    """Sounds a microphone picks up when nobody asks anything: none of them is a question."""
    rng = np.random.default_rng(7)
    t = np.arange(4 * SAMPLE_RATE) / SAMPLE_RATE
    white = rng.normal(0, 1, len(t)).astype(np.float32)
    brown = np.cumsum(white) / 300
    brown -= np.convolve(brown, np.ones(801) / 801, mode="same")  # no drift: a rumble, not a ramp
    fan = (0.03 * brown / np.abs(brown).max() + 0.004 * np.sin(2 * np.pi * 120 * t)).astype(np.float32)
    breath = (np.convolve(white, np.ones(12) / 12, mode="same") * 0.08
              * np.clip(np.sin(2 * np.pi * t / 1.6), 0, None) ** 2).astype(np.float32)
    clicks = np.zeros(len(t), np.float32)
    burst = np.sin(2 * np.pi * 2500 * t[:1600]) * np.exp(-t[:1600] / 0.003)
    for at in (0.4, 1.1, 1.3, 2.2, 3.0):
        clicks[int(at * SAMPLE_RATE):int(at * SAMPLE_RATE) + 1600] += 0.3 * burst.astype(np.float32)
    earcons = np.concatenate([np.zeros(SAMPLE_RATE // 4, np.float32)] + [
        np.concatenate([read_audio_file(resource("earcons", f"{n}.wav")), np.zeros(SAMPLE_RATE // 3, np.float32)])
        for n in ("accepted", "working", "done", "error")])
    return {"silence": np.zeros(2 * SAMPLE_RATE, np.float32), "hiss": noise(3.0, 0.02),
            "fan": fan, "breath": breath, "clicks": clicks, "earcons": earcons + noise(len(earcons) / SAMPLE_RATE)}


@pytest.mark.parametrize("kind", ["silence", "hiss", "fan", "breath", "clicks", "earcons"])
def test_noise_only_gives_no_words(kind: str) -> None:
    # Even with the question prompt Whisper is tempted to echo, and even as the listener's cut.
    audio = _noise_only_clips()[kind]
    transcriber = shared_transcriber()
    assert transcriber.prompt == QUESTION_PROMPT
    assert transcriber.transcribe(audio).text == "", kind
    recording = Listener(WavSource(samples=audio)).listen()
    if recording.heard_speech:  # the voice detector was fooled: recognition must still say nothing
        assert transcriber.transcribe(recording.audio).text == "", kind


def test_question_with_long_silence_around_it_is_heard(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Whisper alone, fed 10 s of near-silence and 8 s of room noise around a short question,
    # tends to drop or garble it; the default path cuts the speech out first.
    path = tmp_path / "question.wav"
    audio = surround(speak("How many windows are open on the screen?", voice="en-us"), before=10.0, after=8.0,
                     level=0.004)
    _write_wav(path, audio)
    transcript = shared_transcriber().transcribe(path)  # as the listener and `lookaloud transcribe` call it
    assert {"windows", "open", "screen"} <= set(words(transcript.text)), transcript.text
    assert main(["transcribe", str(path)]) == EXIT_OK
    assert {"windows", "open", "screen"} <= set(words(capsys.readouterr().out))


def test_the_same_audio_always_gives_the_same_words() -> None:
    audio = surround(speak("Which shape is next to the red button?", voice="en-gb-scotland", speed=200),
                     level=0.02, seed=3)
    first = shared_transcriber().transcribe(audio).text
    assert first and all(shared_transcriber().transcribe(audio).text == first for _ in range(2))


def test_no_english_prompt_for_another_language() -> None:
    assert Transcriber("base", language="fr").prompt is None
    assert Transcriber("base", language="en").prompt == QUESTION_PROMPT


def test_what_was_heard_is_said_before_the_answer() -> None:
    assert heard_sentence("what colour is the square") == "You asked: what colour is the square."
    assert heard_sentence(" Is the window open? ") == "You asked: Is the window open?"
    assert heard_sentence("Read me the first line of text.") == "You asked: Read me the first line of text."
