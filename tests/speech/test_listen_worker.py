"""The listen worker in its own QThread, as the app runs it: signals in the order the user
hears them (microphone open, end sound, then the question; or one spoken error sentence alone)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
import sounddevice
from PySide6.QtCore import QMetaObject, Qt, QThread

from desktop_app.speech.microphone import (
    NO_MICROPHONE,
    NO_PERMISSION,
    AudioSource,
    MicrophoneSource,
    WavSource,
    list_microphones,
)
from desktop_app.speech.stt import Transcriber
from desktop_app.workers.listen_worker import NOTHING_HEARD, ListenWorker
from testkit.speech_audio import noise, shared_transcriber, speak, surround, words

QUESTION = "How many people are in the picture?"


@pytest.fixture
def run_worker(qtbot) -> Iterator[Callable[..., tuple[ListenWorker, list[tuple[str, object]]]]]:
    """Start a ListenWorker in a QThread; returns it and the list of signals it emitted."""
    threads: list[QThread] = []

    def start(source_factory: Callable[[], AudioSource], transcriber: Transcriber | None = None):
        thread = QThread()
        worker = ListenWorker(transcriber or shared_transcriber(), source_factory)
        worker.moveToThread(thread)
        events: list[tuple[str, object]] = []
        worker.listening_started.connect(lambda: events.append(("started", None)))
        worker.listening_finished.connect(lambda: events.append(("finished", None)))
        worker.transcribed.connect(lambda text: events.append(("transcribed", text)))
        worker.failed.connect(lambda message: events.append(("failed", message)))
        thread.start()
        threads.append(thread)
        return worker, events

    yield start
    for thread in threads:
        thread.quit()
        thread.wait()


def _ask(worker: ListenWorker) -> None:
    """Ask the worker to listen by queued call, as the hotkey handler does."""
    QMetaObject.invokeMethod(worker, "listen", Qt.ConnectionType.QueuedConnection)


def _listen(qtbot, worker: ListenWorker, events: list[tuple[str, object]]) -> None:
    """Ask, and wait for the outcome: a transcript or a failure."""
    _ask(worker)
    qtbot.waitUntil(lambda: bool(events) and events[-1][0] in ("transcribed", "failed"), timeout=30_000)


def test_spoken_question_is_heard_and_transcribed(qtbot, run_worker) -> None:
    worker, events = run_worker(lambda: WavSource(samples=surround(speak(QUESTION), 0.3, 1.2), realtime=True))
    _listen(qtbot, worker, events)
    assert [name for name, _ in events] == ["started", "finished", "transcribed"]
    assert {"people", "picture"} <= set(words(str(events[-1][1])))
    assert not worker.is_listening


def test_second_press_stops_listening_early(qtbot, run_worker) -> None:
    long_question = speak("How many people are in the picture, and what are they wearing, and where are they going?")
    worker, events = run_worker(lambda: WavSource(samples=surround(long_question, 0.3, 1.0), realtime=True))
    with qtbot.waitSignal(worker.listening_started, timeout=10_000):
        _ask(worker)
    qtbot.waitUntil(lambda: worker.is_listening, timeout=5_000)
    qtbot.wait(1500)
    with qtbot.waitSignal(worker.transcribed, timeout=30_000) as blocker:
        worker.stop()  # called directly from the GUI thread, as the hotkey handler does
    assert "people" in words(blocker.args[0])
    assert [name for name, _ in events] == ["started", "finished", "transcribed"]


def test_no_microphone_is_one_spoken_sentence(qtbot, run_worker) -> None:
    if list_microphones():
        pytest.skip("This machine has a microphone, so the real no-microphone error cannot happen here.")
    worker, events = run_worker(MicrophoneSource)  # the real device layer: build machines have none
    _listen(qtbot, worker, events)
    assert events == [("failed", NO_MICROPHONE)]


def test_permission_refused_is_one_spoken_sentence(qtbot, run_worker, monkeypatch) -> None:
    device = {"name": "Built-in Microphone", "max_input_channels": 1, "default_samplerate": 48_000.0}
    monkeypatch.setattr(sounddevice, "query_devices", lambda *a, **k: device)

    def refuse(**_: object) -> None:
        raise sounddevice.PortAudioError("Error opening InputStream: Unanticipated host error [PaErrorCode -9999]")

    monkeypatch.setattr(sounddevice, "InputStream", refuse)
    worker, events = run_worker(MicrophoneSource)
    _listen(qtbot, worker, events)
    assert events == [("failed", NO_PERMISSION)]


def test_silence_is_reported_not_transcribed(qtbot, run_worker) -> None:
    worker, events = run_worker(lambda: WavSource(samples=noise(9.0, level=0.01)))
    _listen(qtbot, worker, events)
    # One error sound and one sentence: no end sound before them.
    assert events == [("started", None), ("failed", NOTHING_HEARD)]
    assert NOTHING_HEARD == "I did not hear a question."


def test_missing_speech_model_is_reported_before_the_microphone_opens(qtbot, run_worker) -> None:
    opened: list[bool] = []

    def source() -> AudioSource:
        opened.append(True)
        return WavSource(samples=speak(QUESTION))

    worker, events = run_worker(source, Transcriber("small.en"))  # catalog model, never downloaded here
    _listen(qtbot, worker, events)
    assert events == [("failed", ("The speech model small.en is not installed. "
                                  "Run lookaloud models download small.en to install it."))]
    assert opened == []


def test_second_press_while_the_model_loads_calls_the_question_off(qtbot, run_worker) -> None:
    # The first question after start-up waits for Whisper to load (the microphone is already
    # open, keeping what is said); a user who presses the ask key again then has changed their
    # mind. Loading is held until the second press.
    gate = threading.Event()

    class SlowLoadingTranscriber(Transcriber):
        def load(self) -> None:
            gate.wait(10)
            super().load()

    opened: list[bool] = []

    def source() -> AudioSource:
        opened.append(True)
        return WavSource(samples=speak(QUESTION))

    worker, events = run_worker(source, SlowLoadingTranscriber())
    _ask(worker)
    qtbot.waitUntil(lambda: worker.is_listening, timeout=5_000)
    worker.stop()
    gate.set()
    qtbot.waitUntil(lambda: not worker.is_listening, timeout=30_000)
    qtbot.wait(200)
    assert events == [("started", None)]  # no transcript, no error sentence: the question is off
    assert opened == [True]
