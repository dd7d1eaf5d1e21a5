"""SpeechOutput, the facade the app uses: which output speaks in each mode, the one-time
notices, no speech engine installed, earcons through the same audio output, and the CLI's
speak_and_wait.

The own voice is the real espeak-ng speaker playing into the paced null output; the screen
reader is the real announcement speaker with the Qt call replaced by a list.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest

from desktop_app.speech.audio_out import CommandAudioOut, NullAudioOut
from desktop_app.speech.earcons import Earcon
from desktop_app.speech.output import (
    NO_SCREEN_READER_MESSAGE,
    NO_SOUND_MESSAGE,
    SpeechOutput,
    SpeechSettings,
    no_engine_message,
    speak_and_wait,
)
from desktop_app.speech.own_voice import OwnVoiceSpeaker
from desktop_app.speech.screenreader import AnnouncementSpeaker, OrcaSpeaker, PrismSpeaker, ScreenReaderKind
from desktop_app.speech.speaker import Priority, SilentSpeaker, Speaker, SpeechEvent

needs_voice = pytest.mark.skipif(
    not OwnVoiceSpeaker.check(), reason="no speech engine (espeak-ng) is installed"
)


class Recorder:
    """Collects own-voice events, notices and screen reader announcements."""

    def __init__(self) -> None:
        self.events: list[tuple[SpeechEvent, str]] = []
        self.notices: list[str] = []
        self.announced: list[str] = []
        self.lock = threading.Lock()

    def on_event(self, event: SpeechEvent, text: str) -> None:
        with self.lock:
            self.events.append((event, text))

    def said(self) -> list[str]:
        return [t for e, t in self.events if e is SpeechEvent.FINISHED]


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def make_output(rec: Recorder) -> Iterator:
    made: list[SpeechOutput] = []

    def make(settings: SpeechSettings, *, reader: bool, **kwargs) -> SpeechOutput:
        kwargs.setdefault("audio_out", NullAudioOut())
        out = SpeechOutput(
            settings,
            notify=rec.notices.append,
            listener=rec.on_event,
            screen_reader=ScreenReaderKind.ORCA if reader else None,
            **{"reader_speaker": lambda kind: AnnouncementSpeaker(rec.announced.append), **kwargs},
        )
        made.append(out)
        return out

    yield make
    for out in made:
        out.close()


@needs_voice
def test_voice_mode_speaks_with_the_own_voice_only(make_output, rec: Recorder) -> None:
    out = make_output(SpeechSettings(mode="voice"), reader=True)
    out.speak("A cat on a sofa.")
    assert out.wait_until_done(20)
    assert rec.said() == ["A cat on a sofa."]
    assert rec.announced == [] and rec.notices == []
    assert out.is_heard()  # so the app adds no announcement for the screen reader to say over it


@needs_voice
def test_screen_reader_mode_uses_the_screen_reader_and_no_own_voice(make_output, rec: Recorder) -> None:
    out = make_output(SpeechSettings(mode="screen_reader"), reader=True)
    out.speak("A cat on a sofa.")
    assert out.wait_until_done(20)
    assert rec.announced == ["A cat on a sofa."]
    assert rec.events == []
    assert out.is_heard()  # already through the screen reader: not announced a second time


class TimedBackend:
    """prism's backend for a screen reader, with braille or without (Speech Dispatcher), noting
    when each call came, to compare with when the own voice spoke."""

    def __init__(self, braille: bool, clock: list[tuple[str, str]], lock: threading.Lock) -> None:
        self.features = type("Features", (), {"supports_output": braille, "supports_braille": braille})()
        self.clock, self.lock = clock, lock

    def _note(self, call: str, text: str) -> None:
        with self.lock:
            self.clock.append((call, text))

    def output(self, text: str, interrupt: bool = False) -> None:
        self._note("reader speaks", text)  # output() is speech and braille

    def speak(self, text: str, interrupt: bool = False) -> None:
        self._note("reader speaks", text)

    def braille(self, text: str) -> None:
        self._note("braille", text)

    def stop(self) -> None:
        pass


def _prism_reader(backend: TimedBackend) -> PrismSpeaker:
    context = type("Context", (), {"create": lambda self, backend_id: backend})()
    return PrismSpeaker("NVDA", context_factory=lambda: context)


@needs_voice
@pytest.mark.parametrize("braille", [True, False], ids=["screen reader with braille", "Speech Dispatcher"])
def test_both_mode_never_lets_the_screen_reader_talk_over_the_own_voice(make_output, rec: Recorder, braille) -> None:
    clock: list[tuple[str, str]] = []
    lock = threading.Lock()
    reader = _prism_reader(TimedBackend(braille, clock, lock))

    def on_event(event: SpeechEvent, text: str) -> None:
        rec.on_event(event, text)
        with lock:
            clock.append((f"own voice {event.value}", text))

    out = make_output(SpeechSettings(mode="both"), reader=True, reader_speaker=lambda kind: reader)
    out.listener = on_event
    assert reader.wait_until_ready(10)
    out.speak("A cat on a sofa.")
    assert out.wait_until_done(20) and reader.wait_until_done(10)
    assert rec.said() == ["A cat on a sofa."]  # the own voice said it, once
    # The screen reader never speaks it (no second voice at the same time or after): it shows
    # it on the braille display where it has one, and gets nothing where it has none.
    assert [call for call, _ in clock if call.startswith("reader")] == [], clock
    assert [c for c in clock if c[0] == "braille"] == ([("braille", "A cat on a sofa.")] if braille else [])
    assert out.is_heard()  # the own voice is heard: the app adds no announcement either


@needs_voice
def test_both_mode_without_prism_makes_no_announcement_over_the_own_voice(make_output, rec: Recorder) -> None:
    out = make_output(SpeechSettings(mode="both"), reader=True)  # the Qt announcement is the way to the reader
    out.speak("A cat on a sofa.")
    assert out.wait_until_done(20)
    assert rec.said() == ["A cat on a sofa."]
    assert rec.announced == []  # the screen reader would have read it at the same time


@needs_voice
@pytest.mark.parametrize("mode", ["screen_reader", "both"])
def test_without_a_screen_reader_the_own_voice_speaks_and_says_so_once(
    make_output, rec: Recorder, mode
) -> None:
    out = make_output(SpeechSettings(mode=mode), reader=False)
    out.apply(SpeechSettings(mode=mode, rate=200))  # the settings dialog saved again
    out.speak("A cat on a sofa.", Priority.NORMAL)
    assert out.wait_until_done(20)
    assert rec.notices == [NO_SCREEN_READER_MESSAGE]
    assert rec.said() == [NO_SCREEN_READER_MESSAGE, "A cat on a sofa."]


def test_no_speech_engine_is_told_through_the_screen_reader_with_how_to_install(
    make_output, rec: Recorder
) -> None:
    out = make_output(SpeechSettings(mode="voice"), reader=True, own_voice=lambda: None)
    assert out.status_message == no_engine_message()
    if sys.platform.startswith("linux"):
        assert "sudo apt install espeak-ng" in out.status_message
    assert rec.notices == [out.status_message]
    assert rec.announced == [out.status_message]
    out.speak("The answer still arrives.")  # the app keeps working through the screen reader
    assert rec.announced[-1] == "The answer still arrives."


def test_no_engine_and_no_screen_reader_is_silent_but_never_fails(make_output, rec: Recorder) -> None:
    out = make_output(SpeechSettings(mode="both"), reader=False, own_voice=lambda: None)
    assert [type(s) for s in out.speakers] == [SilentSpeaker]
    out.speak("Nobody hears this.")
    out.stop()
    assert out.wait_until_done(1)
    assert rec.notices == [no_engine_message()]  # the window shows it
    assert not out.is_heard()  # the app's accessibility announcement is the only way left
    assert speak_and_wait("Hello.", output=out) == no_engine_message()


@needs_voice
def test_stop_silences_every_output(make_output, rec: Recorder) -> None:
    out = make_output(SpeechSettings(mode="voice"), reader=False)
    out.speak("A long answer that is still being read when the user says stop speaking now.")
    out.stop()
    assert out.wait_until_done(5)
    assert not out.is_speaking
    assert rec.said() == []


def test_earcons_go_through_the_same_audio_output_and_obey_the_settings(make_output) -> None:
    audio = NullAudioOut(paced=False)
    out = make_output(SpeechSettings(earcons=True, earcons_volume=1.0), reader=True, audio_out=audio,
                      own_voice=lambda: None)  # fmt: skip
    out.play(Earcon.ACCEPTED)
    assert len(audio.played) == 1
    out.apply(SpeechSettings(earcons=False))
    out.play(Earcon.DONE)
    out.start_working()
    out.stop_working()
    assert len(audio.played) == 1


@needs_voice
def test_speak_and_wait_returns_once_it_has_been_said(make_output, rec: Recorder) -> None:
    out = make_output(SpeechSettings(), reader=False)
    assert speak_and_wait("Described on the command line.", output=out) is None
    assert rec.said() == ["Described on the command line."]
    assert not out.is_speaking


@needs_voice
def test_a_missing_sound_device_is_reported_once(make_output, rec: Recorder) -> None:
    broken = CommandAudioOut(["aplay", "-q", "-D", "no_such_device"])
    out = make_output(SpeechSettings(), reader=False, audio_out=broken)
    assert speak_and_wait("First. Second.", output=out) == NO_SOUND_MESSAGE
    out.speak("Third.")
    assert out.wait_until_done(10)
    assert rec.notices == [NO_SOUND_MESSAGE]
    assert not out.is_heard()  # from now on the app announces what the voice cannot play


# -- every speaker the facade may pick keeps the same contract --------------------------------


def _speakers(private_bus: str, announced: list[str]) -> dict[str, Speaker]:
    speakers: dict[str, Speaker] = {
        "announcement": AnnouncementSpeaker(announced.append),
        "orca-fallback": OrcaSpeaker(bus_address=private_bus, fallback=announced.append),
        "silent": SilentSpeaker(),
    }
    if OwnVoiceSpeaker.check():
        speakers["own-voice"] = OwnVoiceSpeaker(NullAudioOut())
    return speakers


def test_every_speaker_returns_at_once_stops_and_finishes(private_bus: str) -> None:
    announced: list[str] = []
    for name, speaker in _speakers(private_bus, announced).items():
        try:
            speaker.speak("One. Two.", Priority.NORMAL)
            speaker.speak("Three.", Priority.NOW)
            assert speaker.wait_until_done(20), name
            assert not speaker.is_speaking, name
            speaker.stop()
            speaker.speak("   ")  # blank text is ignored, never an error
            assert speaker.wait_until_done(5), name
        finally:
            speaker.close()
    assert announced[-1] == "Three."


# -- a screen reader that starts or stops while Lookaloud runs -------------------------------


def _watched_output(rec: Recorder, monkeypatch: pytest.MonkeyPatch, running: list, **kwargs) -> SpeechOutput:
    """An output that detects the screen reader itself, where detection reads `running`."""
    import desktop_app.speech.output as output_module
    from desktop_app.speech.screenreader import ScreenReaderWatch

    detect = lambda: running[0]
    monkeypatch.setattr(output_module, "detect_screen_reader", detect)
    monkeypatch.setattr(output_module, "ScreenReaderWatch",
                        lambda on_change, current: ScreenReaderWatch(on_change, current=current, detect=detect,
                                                                     interval=0.1))
    kwargs.setdefault("audio_out", NullAudioOut())
    return SpeechOutput(notify=rec.notices.append, listener=rec.on_event,
                        reader_speaker=lambda kind: AnnouncementSpeaker(rec.announced.append), **kwargs)


def _wait_for(condition, seconds: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_screen_reader_started_after_lookaloud_is_used(rec: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    running: list = [None]
    out = _watched_output(rec, monkeypatch, running, settings=SpeechSettings(mode="screen_reader"))
    try:
        assert out.screen_reader is None
        running[0] = ScreenReaderKind.ORCA  # the user starts Orca
        assert _wait_for(lambda: out.screen_reader is ScreenReaderKind.ORCA)
        out.speak("A red circle.")
        assert out.wait_until_done(10)
        assert rec.announced == ["A red circle."]
        running[0] = None  # and stops it again: the own voice takes over
        assert _wait_for(lambda: out.screen_reader is None)
        assert out._reader is None
    finally:
        out.close()


@needs_voice
def test_without_a_sound_device_the_screen_reader_still_says_it(rec: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = CommandAudioOut(["aplay", "-q", "-D", "no_such_device"])
    out = _watched_output(rec, monkeypatch, [ScreenReaderKind.ORCA], settings=SpeechSettings(mode="voice"),
                          audio_out=broken)
    try:
        out.speak("A blue square.")
        assert _wait_for(lambda: "A blue square." in rec.announced)
    finally:
        out.close()
