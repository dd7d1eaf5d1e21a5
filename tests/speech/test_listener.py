"""Recording one question: it ends on silence, on a second press, at 30 seconds, or when
nothing is said; and what Whisper gets is the question."""

from __future__ import annotations

import threading

import numpy as np

from desktop_app.speech.listener import MAX_SECONDS, Listener, StopReason
from desktop_app.speech.microphone import SAMPLE_RATE, WavSource
from testkit.speech_audio import noise, shared_transcriber, speak, surround, words

QUESTION = "How many people are in the picture?"


def test_question_ends_on_silence_and_is_cut_out_of_the_stream() -> None:
    speech = speak(QUESTION)
    recording = Listener(WavSource(samples=surround(speech, before=2.0, after=4.0))).listen()
    assert recording.reason is StopReason.END_OF_SPEECH
    assert recording.heard_speech
    # The two seconds of noise before and the silence after are mostly gone.
    assert recording.seconds < len(speech) / SAMPLE_RATE + 1.0
    assert {"people", "picture"} <= set(words(shared_transcriber().transcribe(recording.audio).text))


def test_second_press_stops_and_keeps_what_was_said() -> None:
    # One long sentence, arriving in real time as from a microphone; the user presses again midway.
    speech = speak("How many people are in the picture, and what are they wearing, and where are they standing?")
    source = WavSource(samples=surround(speech, before=0.3, after=1.0), realtime=True)
    listener = Listener(source)
    timer = threading.Timer(2.0, listener.stop)
    recording = listener.listen(on_started=timer.start)
    assert recording.reason is StopReason.STOPPED
    assert recording.heard_speech
    assert recording.seconds < len(speech) / SAMPLE_RATE
    assert "people" in words(shared_transcriber().transcribe(recording.audio).text)


def test_recording_is_capped_at_30_seconds() -> None:
    assert MAX_SECONDS == 30.0
    # Talking on and on: the same question without pauses long enough to end it.
    talk = np.concatenate([speak(QUESTION), np.zeros(int(0.2 * SAMPLE_RATE), np.float32)] * 20)
    assert len(talk) > 35 * SAMPLE_RATE
    recording = Listener(WavSource(samples=surround(talk, before=0.5, after=1.0))).listen()
    assert recording.reason is StopReason.TIME_LIMIT
    assert recording.seconds <= MAX_SECONDS


def test_nothing_said_gives_up_without_speech() -> None:
    recording = Listener(WavSource(samples=noise(12.0, level=0.01)), no_speech_seconds=8.0).listen()
    assert recording.reason is StopReason.NO_SPEECH
    assert not recording.heard_speech
    assert recording.seconds <= 8.1


def test_cancel_discards_the_recording() -> None:
    source = WavSource(samples=surround(speak(QUESTION), before=0.3, after=1.0), realtime=True)
    listener = Listener(source)
    timer = threading.Timer(1.0, listener.cancel)
    recording = listener.listen(on_started=timer.start)
    assert recording.reason is StopReason.CANCELLED
    assert not recording.heard_speech


def test_file_that_ends_mid_question_still_gives_the_question() -> None:
    speech = speak(QUESTION)
    recording = Listener(WavSource(samples=surround(speech, before=0.5, after=0.1))).listen()
    assert recording.reason is StopReason.SOURCE_ENDED
    assert recording.heard_speech
    assert "people" in words(shared_transcriber().transcribe(recording.audio).text)
