"""The one object the app talks to for everything it says or sounds: `SpeechOutput`.

Owns the choice of outputs from plain settings values (mode "voice" | "screen_reader" |
"both", voice, rate, volume, earcons on/off and volume), the fallback chain (own voice ->
screen reader -> silence, or the other way round), the one-time "no screen reader" notice, the
"no speech engine installed" status, earcons and the working ticker; and `speak_and_wait()`
for `lookaloud describe --speak`. Its start removes the sound folders crashed runs left and its
close() the process's own (desktop_app.speech.audio_out: no sound file outlives the app).

"Both" never lets two voices talk at once: Lookaloud's own voice speaks, and the screen reader
gets the same text for its braille display only, never for its speech (NVDA's brailleMessage,
JAWS, Orca 49's remote controller, through prism). Where the screen reader offers no braille
this way (Orca before 49, reached through Speech Dispatcher; the Qt announcement), "Both"
speaks with the own voice alone. Chosen over "the screen reader speaks after the own voice":
that says every result twice, doubling the time to hear it, and the second reading starts
when the user has moved on, so Orca or NVDA would read it over their next key press; braille is
what the own voice cannot give. The screen reader still speaks when the own voice cannot (no
speech engine, no sound device): then it is the only voice.

Every method returns at once and may be called from any thread (speech runs on the speakers'
own threads), except close() and speak_and_wait(), which wait. Qt-free: the Qt announcement
comes in as a plain callable (desktop_app.ui.announce.Announcer).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from desktop_app.choices import SpeechMode
from desktop_app.private_files import release_private_folder, remove_leftovers
from desktop_app.speech.audio_out import AudioOut, default_audio_out
from desktop_app.speech.earcons import Earcon, EarconPlayer, WorkingTicker
from desktop_app.speech.own_voice import OwnVoiceSpeaker
from desktop_app.speech.screenreader import (
    Announce,
    ScreenReaderKind,
    ScreenReaderWatch,
    detect_screen_reader,
    screen_reader_speaker,
)
from desktop_app.speech.speaker import (
    Priority,
    SilentSpeaker,
    Speaker,
    SpeechEvent,
    SpeechListener,
    VoiceInfo,
)

NO_SCREEN_READER_MESSAGE = "No screen reader is running, so Lookaloud will use its own voice."
NO_SOUND_MESSAGE = "Lookaloud could not play its voice because no sound device answered."


def no_engine_message() -> str:
    """Says that the own voice cannot work here and how to install it, for this platform."""
    if sys.platform == "win32":
        how = "Windows speech (SAPI 5) and the pywin32 package are needed; reinstall Lookaloud to add them."
    elif sys.platform == "darwin":
        how = "Reinstall Lookaloud to add the pyobjc package it needs for macOS speech."
    else:
        how = "To install one, run: sudo apt install espeak-ng"
    return f"Lookaloud cannot speak with its own voice because no speech engine is installed. {how}"


@dataclass
class SpeechSettings:
    mode: str = SpeechMode.VOICE.value  # a choices.SpeechMode value
    voice: str | None = None  # an id from SpeechOutput.voices(); None = the engine's default
    rate: int = 175  # words per minute
    volume: float = 1.0  # 0..1
    earcons: bool = True
    earcons_volume: float = 0.6  # 0..1


_DETECT = object()


class SpeechOutput:
    """Speech, screen reader output and earcons behind one small API.

    `announce` is the Qt accessibility announcement (used when a screen reader cannot be
    reached directly); `notify` receives each notice for the window (status line), on the
    caller's thread or, for a sound failure, on the speech thread: hop to the GUI thread.
    `screen_reader` overrides detection (None = none running); `own_voice` and
    `reader_speaker` override how speakers are made.
    """

    def __init__(
        self,
        settings: SpeechSettings | None = None,
        *,
        audio_out: AudioOut | None = None,
        announce: Announce | None = None,
        notify: Callable[[str], None] | None = None,
        listener: SpeechListener | None = None,
        screen_reader: ScreenReaderKind | None | object = _DETECT,
        own_voice: Callable[[], Speaker | None] | None = None,
        reader_speaker: Callable[[ScreenReaderKind], Speaker | None] | None = None,
    ) -> None:
        remove_leftovers()  # sound files of a crashed earlier run go at the next start
        self.settings = settings or SpeechSettings()
        self.audio_out = audio_out or default_audio_out()
        self.announce = announce
        self.notify = notify
        self.listener = listener
        self.notices: list[str] = []
        self.failures = 0  # utterances the own voice could not play
        self._own_voice_factory = own_voice or self._make_own_voice
        self._reader_factory = reader_speaker or (lambda kind: screen_reader_speaker(kind, announce=announce))
        self._own: Speaker | None = None
        self._own_tried = False
        self.screen_reader: ScreenReaderKind | None = (
            detect_screen_reader() if screen_reader is _DETECT else screen_reader  # type: ignore[assignment]
        )
        self._reader: Speaker | None = (
            self._reader_factory(self.screen_reader) if self.screen_reader else None
        )
        self._told_no_reader = False
        # A screen reader started or stopped after Lookaloud did is found again within seconds.
        self._watch = (
            ScreenReaderWatch(self._on_screen_reader_changed, current=self.screen_reader)
            if screen_reader is _DETECT else None
        )
        self.status_message: str | None = None
        self.earcons = EarconPlayer(self.audio_out)
        self.ticker = WorkingTicker(self.earcons)
        self.speakers: list[Speaker] = []
        self._braille_to: Speaker | None = None  # "Both": the screen reader that shows it in braille
        self.apply(self.settings)

    # -- configuration -----------------------------------------------------------------------

    def _make_own_voice(self) -> Speaker | None:
        if not OwnVoiceSpeaker.check():
            return None
        return OwnVoiceSpeaker(self.audio_out, listener=self._on_speech_event)

    def _on_screen_reader_changed(self, kind: ScreenReaderKind | None) -> None:
        """Runs on the watch's thread: a screen reader started, stopped or changed."""
        old = self._reader
        self.screen_reader = kind
        self._reader = self._reader_factory(kind) if kind else None
        self._told_no_reader = False
        self.apply(self.settings)
        if old is not None:
            old.close()

    def _on_speech_event(self, event: SpeechEvent, text: str) -> None:
        """Runs on the own voice's thread."""
        if event is SpeechEvent.FAILED:
            reader = self._reader
            if reader is not None and reader not in self.speakers:
                self.speakers = [reader]  # no sound device: the screen reader says it (and brailles it)
                self._braille_to = None
                reader.speak(text, Priority.NEXT)
            self.failures += 1
            if self.failures == 1:  # say it once, not after every sentence
                self.status_message = NO_SOUND_MESSAGE
                self._tell(NO_SOUND_MESSAGE)
        if self.listener is not None:
            self.listener(event, text)

    def _own_voice(self) -> Speaker | None:
        if not self._own_tried:
            self._own_tried = True
            self._own = self._own_voice_factory()
            if self._own is None:
                self.status_message = no_engine_message()
                self._tell(self.status_message)
        return self._own

    def apply(self, settings: SpeechSettings) -> None:
        """Take new settings (from the settings dialog); speech already queued carries on."""
        self.settings = settings
        if getattr(self, "_watch", None) is not None:
            self._watch.check_now()  # OK in Settings also looks for a screen reader at once
        self.earcons.enabled = settings.earcons
        self.earcons.volume = settings.earcons_volume
        reader = self._reader
        own = self._own_voice() if settings.mode != SpeechMode.SCREEN_READER or reader is None else None
        if settings.mode == SpeechMode.VOICE:
            chosen = [own or reader]
        elif settings.mode == SpeechMode.SCREEN_READER:
            chosen = [reader or own]
        else:
            chosen = [own or reader]  # one voice; the screen reader's braille follows in speak()
        if settings.mode != SpeechMode.VOICE and reader is None and own is not None and not self._told_no_reader:
            self._told_no_reader = True
            self._tell(NO_SCREEN_READER_MESSAGE, via=[own])
        self.speakers = [s for s in chosen if s is not None] or [SilentSpeaker()]
        self._braille_to = reader if settings.mode == SpeechMode.BOTH and reader not in self.speakers else None
        if own is not None:
            own.set_voice(settings.voice)
            own.set_rate(settings.rate)
            own.set_volume(settings.volume)

    def _tell(self, message: str, via: list[Speaker] | None = None) -> None:
        """A notice: shown in the window and spoken once, by the screen reader if there is one."""
        self.notices.append(message)
        if self.notify is not None:
            self.notify(message)
        targets = via if via is not None else [s for s in (self._reader,) if s is not None]
        if not targets and self.announce is not None:
            self.announce(message)
        for speaker in targets:
            speaker.speak(message, Priority.NORMAL)

    # -- speaking ----------------------------------------------------------------------------

    def speak(self, text: str, priority: Priority = Priority.NOW) -> None:
        """Say text through the chosen voice, and in "Both" show it on the screen reader's
        braille display. NOW (the default) cuts off what is being said."""
        for speaker in self.speakers:
            speaker.speak(text, priority)
        braille = getattr(self._braille_to, "braille", None)
        if braille is not None:
            braille(text)  # False where there is no display: the own voice alone is right then

    def is_heard(self) -> bool:
        """Whether what speak() says reaches the user by itself: through the screen reader, or
        in the own voice while it plays. When not, the window's accessibility announcement is
        the way to the user; when it is, that announcement would say everything twice."""
        if self._reader is not None and self._reader in self.speakers:
            return True
        return self._own is not None and self._own in self.speakers and self.failures == 0

    def stop(self) -> None:
        """Stop speaking now (the "Stop speaking" command)."""
        for speaker in self.speakers:
            speaker.stop()

    @property
    def is_speaking(self) -> bool:
        return any(s.is_speaking for s in self.speakers)

    def wait_until_done(self, timeout: float | None = None) -> bool:
        return all(s.wait_until_done(timeout) for s in self.speakers)

    def voices(self) -> list[VoiceInfo]:
        """The own voice's voices, for the settings dialog (waits for the engine to start)."""
        own = self._own_voice()
        return own.voices() if own is not None else []

    # -- earcons -----------------------------------------------------------------------------

    def play(self, earcon: Earcon) -> None:
        self.earcons.play(earcon)

    def start_working(self) -> None:
        """Tick every 2 seconds until stop_working() (call when the model starts on a request)."""
        self.ticker.start()

    def stop_working(self) -> None:
        self.ticker.stop()

    def close(self) -> None:
        """Stop everything and end the speech threads (at app shutdown)."""
        if self._watch is not None:
            self._watch.close()
        self.ticker.stop()
        self.earcons.stop_all()
        for speaker in {
            id(s): s for s in (self._own, self._reader, *self.speakers) if s is not None
        }.values():
            speaker.stop()
            speaker.close()
        release_private_folder()  # also at exit (atexit), for a shutdown that never gets here


def speak_and_wait(
    text: str,
    settings: SpeechSettings | None = None,
    *,
    timeout: float | None = None,
    output: SpeechOutput | None = None,
) -> str | None:
    """Say text and return once it has been said (for `lookaloud describe --speak`).

    Returns None when it was said, else one sentence for the user saying why not (no speech
    engine and how to install one, or no sound device). Ctrl+C stops the voice at once
    before the KeyboardInterrupt goes on.
    """
    out = output or SpeechOutput(settings or SpeechSettings(), announce=None)
    try:
        if all(isinstance(s, SilentSpeaker) for s in out.speakers):
            return out.status_message or no_engine_message()
        failures = out.failures
        out.speak(text, Priority.NORMAL)
        if not out.wait_until_done(timeout):
            return "Lookaloud stopped speaking because it took too long."
        return out.status_message if out.failures != failures else None
    finally:
        if output is None:
            out.close()
