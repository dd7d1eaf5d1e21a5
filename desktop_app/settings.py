"""The user's settings: one typed record, read from and written to the platform's config folder.

Qt-free. The app holds one Settings object, changes it only through `update()` on the GUI
thread, and tells the rest of the app by its own signal. Unknown or broken values in the file
fall back to the defaults, so a hand-edited file can never stop Lookaloud from starting.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from desktop_app import paths
from desktop_app.choices import Device, Precision, SpeechMode
from desktop_app.models.speech_catalog import DEFAULT_STT_MODEL


def _default_hotkeys() -> dict[str, str]:
    from desktop_app.hotkeys.base import DEFAULT_HOTKEYS

    return {action.value: combo for action, combo in DEFAULT_HOTKEYS.items()}


@dataclass(frozen=True)
class Settings:
    # The model: a catalog name, "shapes-demo", or a folder; "" until first-run setup chose one.
    model: str = ""
    device: str = Device.AUTO.value  # a Device value
    precision: str = Precision.AUTO.value  # a Precision value
    hotkeys: dict[str, str] = field(default_factory=_default_hotkeys)
    # Speech out.
    speech_mode: str = SpeechMode.VOICE.value  # a SpeechMode value
    voice: str = ""  # "" = the engine's default voice
    rate: int = 175  # words per minute
    volume: float = 1.0
    earcons: bool = True
    earcons_volume: float = 0.6
    # What a description includes.
    include_text: bool = True  # text found in the picture, after the caption
    include_kind: bool = True  # "a screenshot", "a photo"
    all_monitors: bool = False  # Describe screen: all monitors rather than the focused one
    # Speech in.
    stt_model: str = DEFAULT_STT_MODEL
    language: str = "en"
    microphone: str = ""  # "" = the system's default input
    # App.
    start_with_system: bool = False
    keep_history: bool = True
    history_size: int = 20

    def update(self, **changes: Any) -> Settings:
        return replace(self, **changes)


# The settings whose value must be one of a fixed list (desktop_app/choices.py).
CHOICES: dict[str, tuple[str, ...]] = {
    "device": Device.values(),
    "precision": Precision.values(),
    "speech_mode": SpeechMode.values(),
}


def settings_path() -> Path:
    return paths.config_dir() / "settings.json"


def _valid(name: str, value: Any, default: Any) -> bool:
    if name in CHOICES:
        return value in CHOICES[name]
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
    if isinstance(default, dict):
        return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    return isinstance(value, type(default))


def load(path: Path | None = None) -> Settings:
    """The saved settings, or the defaults where there are none or they are broken."""
    path = path or settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Settings()
    if not isinstance(data, dict):
        return Settings()
    defaults = Settings()
    values: dict[str, Any] = {}
    for f in fields(Settings):
        if f.name in data and _valid(f.name, data[f.name], getattr(defaults, f.name)):
            value = data[f.name]
            if f.name == "hotkeys":
                value = {**defaults.hotkeys, **value}
            elif isinstance(getattr(defaults, f.name), float):
                value = float(value)
            values[f.name] = value
    return replace(defaults, **values)


class SettingsError(OSError):
    """The settings could not be saved. str(error) is one sentence to say."""


TEMPORARY_PREFIX = ".settings-"


def save(settings: Settings, path: Path | None = None) -> None:
    """Write atomically: a crash mid-write leaves the old file, never half a file. Raises
    SettingsError where the folder cannot be written; the old file and nothing else stays."""
    path = path or settings_path()
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMPORARY_PREFIX, suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(asdict(settings), f, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        reason = exc.strerror.lower() if exc.strerror else "it cannot be written"
        raise SettingsError(
            f"Lookaloud could not save your settings in {path.parent} ({reason}), "
            "so your changes last only until Lookaloud closes."
        ) from exc


def remove_leftovers(folder: Path | None = None) -> None:
    """Remove temporary files a crash left in the middle of save(). Only the running
    instance saves, so call it once that instance holds its lock."""
    folder = folder or settings_path().parent
    with contextlib.suppress(OSError):
        for leftover in folder.glob(TEMPORARY_PREFIX + "*.json"):
            with contextlib.suppress(OSError):
                leftover.unlink()
