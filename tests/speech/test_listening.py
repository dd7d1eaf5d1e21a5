"""Asking aloud as the app wires it (workers/listening.Listening): what the user hears after the
ask key. The listening sound is asked for before Whisper loads and before the microphone opens
(the first question used to wait seconds in silence for the model); silence gives one error
sound and one sentence, without the end sound before them.

Real Whisper (tiny.en, bundled) and real espeak-ng speech fed through the microphone's
interface; only the microphone itself is replaced.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from desktop_app.settings import Settings
from desktop_app.speech.microphone import WavSource
from desktop_app.speech.stt import Transcriber
from desktop_app.workers.listen_worker import NOTHING_HEARD
from desktop_app.workers.listening import Listening
from testkit.speech_audio import noise, speak, surround, words

QUESTION = "How many people are in the picture?"


class NotedSource(WavSource):
    """Recorded speech behind the microphone's interface, noting when it is opened."""

    def __init__(self, heard: list, samples: np.ndarray) -> None:
        super().__init__(samples=samples, realtime=True)
        self.heard = heard

    def open(self) -> None:
        self.heard.append("microphone opens")
        super().open()


class NotedTranscriber(Transcriber):
    def __init__(self, heard: list) -> None:
        super().__init__("tiny.en")
        self.heard = heard

    def load(self) -> None:
        if not self.loaded:
            self.heard.append("Whisper loads")
        super().load()


@pytest.fixture
def listening(qtbot) -> Iterator[tuple[Listening, list]]:
    """The app's Listening, with each thing the user hears (or that happens) in `heard`."""
    heard: list = []
    part = Listening(Settings(stt_model="tiny.en"))
    part.listening_started.connect(lambda: heard.append("listening sound"))
    part.listening_finished.connect(lambda: heard.append("end sound"))
    part.transcribed.connect(lambda text: heard.append(("question", text)))
    part.failed.connect(lambda message: heard.append(("error sound and", message)))
    yield part, heard
    part.close()


def test_the_listening_sound_comes_before_whisper_loads_and_the_microphone_opens(qtbot, listening) -> None:
    part, heard = listening
    part.transcriber = NotedTranscriber(heard)  # not loaded yet: the first question after start-up
    part.audio_source_factory = lambda: NotedSource(heard, surround(speak(QUESTION), 0.3, 1.2))
    assert part.listen() is None
    assert heard == ["listening sound"]  # at once, on the key's own thread: nothing waited for
    qtbot.waitUntil(lambda: any(isinstance(h, tuple) for h in heard), timeout=60_000)
    assert heard[:4] == ["listening sound", "microphone opens", "Whisper loads", "end sound"], heard
    assert heard[4][0] == "question" and {"people", "picture"} <= set(words(heard[4][1])), heard


def test_silence_is_one_error_sound_and_one_sentence(qtbot, listening) -> None:
    part, heard = listening
    part.audio_source_factory = lambda: WavSource(samples=noise(9.0, level=0.01))
    assert part.listen() is None
    qtbot.waitUntil(lambda: any(isinstance(h, tuple) for h in heard), timeout=60_000)
    qtbot.wait(200)  # nothing else follows
    assert heard == ["listening sound", ("error sound and", "I did not hear a question.")], heard
    assert NOTHING_HEARD == "I did not hear a question."
