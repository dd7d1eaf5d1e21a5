"""Voice activity detection on spoken questions: where speech starts, where it ends, and that
a pause between words does not cut a question short."""

from __future__ import annotations

import numpy as np

from desktop_app.speech.microphone import SAMPLE_RATE
from desktop_app.speech.vad import VadEvent, VadSettings, VoiceActivityDetector, speech_bounds
from testkit.speech_audio import noise, speak, surround

TOLERANCE = int(0.3 * SAMPLE_RATE)


def voiced(speech: np.ndarray) -> tuple[int, int]:
    """First and last audible sample of a clip (espeak-ng adds its own silence around speech)."""
    loud = np.flatnonzero(np.abs(speech) > 0.02)
    return int(loud[0]), int(loud[-1])


def test_room_noise_alone_is_not_speech() -> None:
    vad = VoiceActivityDetector()
    assert vad.accept(noise(4.0, level=0.01)) == []
    assert vad.speech_start_sample is None


def test_question_is_found_between_silences() -> None:
    speech = speak("What color is the car in the picture?")
    audio = surround(speech, before=1.0, after=2.0)
    bounds = speech_bounds(audio)
    assert bounds is not None
    first, last = voiced(speech)
    start, end = bounds
    assert abs(start - (SAMPLE_RATE + first)) < TOLERANCE
    assert abs(end - (SAMPLE_RATE + last)) < TOLERANCE


def test_end_of_speech_is_reported_once_after_the_silence() -> None:
    speech = speak("Is there a dog in this photo?")
    audio = surround(speech, before=0.5, after=3.0)
    vad = VoiceActivityDetector(VadSettings(end_silence_ms=900))
    seen: list[tuple[VadEvent, int]] = []
    for i in range(0, len(audio), 512):
        seen += [(event, i) for event in vad.accept(audio[i:i + 512])]
    assert [event for event, _ in seen] == [VadEvent.SPEECH_STARTED, VadEvent.SPEECH_ENDED]
    ended_at = seen[1][1]
    speech_end = int(0.5 * SAMPLE_RATE) + voiced(speech)[1]
    # Ended after the configured silence, not before the speech was over nor long after.
    assert speech_end + 0.6 * SAMPLE_RATE < ended_at < speech_end + 1.5 * SAMPLE_RATE


def test_short_pause_between_words_does_not_end_the_question() -> None:
    first, second = speak("What is written"), speak("on the sign?")
    gap = np.zeros(int(0.4 * SAMPLE_RATE), np.float32)
    audio = surround(np.concatenate([first, gap, second]), before=0.5, after=2.0)
    start, end = speech_bounds(audio, VadSettings(end_silence_ms=900)) or (0, 0)
    assert end - start > len(first) + len(second)  # both halves are inside


def test_long_pause_ends_the_question_after_the_first_part() -> None:
    first, second = speak("What is written"), speak("on the sign?")
    gap = np.zeros(int(2.0 * SAMPLE_RATE), np.float32)
    audio = surround(np.concatenate([first, gap, second]), before=0.5, after=2.0)
    _, end = speech_bounds(audio, VadSettings(end_silence_ms=900)) or (0, 0)
    assert end < int(0.5 * SAMPLE_RATE) + len(first) + TOLERANCE


def test_typing_on_the_keyboard_is_not_a_question() -> None:
    audio = noise(3.0)
    rng = np.random.default_rng(3)
    click = (rng.normal(0, 0.4, 320) * np.exp(-np.arange(320) / 60)).astype(np.float32)  # 20 ms key click
    for at in rng.integers(0, len(audio) - 320, size=12):
        audio[at:at + 320] += click
    assert speech_bounds(audio) is None


def test_blocks_of_any_size_give_the_same_answer_as_one_block() -> None:
    audio = surround(speak("Read the text, please."), before=0.7, after=1.5)
    whole = VoiceActivityDetector()
    whole.accept(audio)
    pieces = VoiceActivityDetector()
    rng = np.random.default_rng(1)
    i = 0
    while i < len(audio):
        n = int(rng.integers(1, 3000))
        pieces.accept(audio[i:i + n])
        i += n
    assert (pieces.speech_start_sample, pieces.speech_end_sample) == (whole.speech_start_sample, whole.speech_end_sample)
    assert whole.speech_end_sample is not None
