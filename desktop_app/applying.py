"""How a change of settings reaches the running app: `SettingsPart`, the one `apply(old, new)`
that each part owning settings exposes, and the adapters that give it to the parts whose own
modules do not have it: speech output and starting with the system (the controller, which
owns the model, has its own `apply`).

The app's `apply_settings` saves the new settings, then hands (old, new) to every part in
turn; each part decides from its own fields whether anything needs doing. GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from desktop_app.settings import Settings


class SettingsPart(Protocol):
    def apply(self, old: Settings, new: Settings) -> object:
        """Use `new` from now on; `old` is what was in use. GUI thread."""


def speech_settings(s: Settings) -> Any:
    """The speech output's own record of its settings, from the app's."""
    from desktop_app.speech.output import SpeechSettings

    return SpeechSettings(mode=s.speech_mode, voice=s.voice or None, rate=s.rate, volume=s.volume,  # type: ignore[arg-type]
                          earcons=s.earcons, earcons_volume=s.earcons_volume)


class SpeechOutSettings:
    """Speech out (voice, rate, volume, output mode, earcons)."""

    def __init__(self, speech: Any) -> None:
        self._speech = speech

    def apply(self, old: Settings, new: Settings) -> None:
        # Every time, as before: applying the screen reader mode again says again when none runs.
        self._speech.apply(speech_settings(new))


class AutostartSettings:
    """Starting with the system; a change that cannot be made is said."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self._say = say

    def apply(self, old: Settings, new: Settings) -> None:
        if new.start_with_system == old.start_with_system:
            return
        from desktop_app.autostart import AutostartError, set_start_with_system

        try:
            set_start_with_system(new.start_with_system)
        except AutostartError as exc:
            self._say(str(exc))
