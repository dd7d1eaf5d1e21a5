"""What global hotkeys mean, independent of platform: the actions, their default key
combinations, parsing and display of combinations ("Ctrl+Alt+Shift+D"), the errors a
registration can end in, and the interface every platform backend implements.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class Action(str, Enum):
    """What a hotkey asks for. The values are the names `lookaloud trigger ACTION` takes."""

    DESCRIBE_SCREEN = "describe-screen"
    DESCRIBE_WINDOW = "describe-window"
    DESCRIBE_REGION = "describe-region"
    DESCRIBE_CLIPBOARD = "describe-clipboard"
    ASK = "ask"
    READ_TEXT = "read-text"
    STOP_SPEAKING = "stop-speaking"
    REPEAT_LAST = "repeat-last"

    @property
    def label(self) -> str:
        return ACTION_LABELS[self]


ACTION_LABELS: dict[Action, str] = {
    Action.DESCRIBE_SCREEN: "Describe screen",
    Action.DESCRIBE_WINDOW: "Describe window",
    Action.DESCRIBE_REGION: "Describe region",
    Action.DESCRIBE_CLIPBOARD: "Describe clipboard picture",
    Action.ASK: "Ask a question",
    Action.READ_TEXT: "Read text",
    Action.STOP_SPEAKING: "Stop speaking",
    Action.REPEAT_LAST: "Repeat last answer",
}

# Ctrl+Alt+Shift+letter: the screen readers' own commands live on their Insert/CapsLock
# modifier key, and desktops rarely bind three modifiers, so these seldom clash.
DEFAULT_HOTKEYS: dict[Action, str] = {
    Action.DESCRIBE_SCREEN: "Ctrl+Alt+Shift+D",
    Action.DESCRIBE_WINDOW: "Ctrl+Alt+Shift+W",
    Action.DESCRIBE_REGION: "Ctrl+Alt+Shift+R",
    Action.DESCRIBE_CLIPBOARD: "Ctrl+Alt+Shift+V",
    Action.ASK: "Ctrl+Alt+Shift+A",
    Action.READ_TEXT: "Ctrl+Alt+Shift+T",
    Action.STOP_SPEAKING: "Ctrl+Alt+Shift+S",
    Action.REPEAT_LAST: "Ctrl+Alt+Shift+L",
}

MODIFIERS = ("ctrl", "alt", "shift", "meta")  # display and canonical order
_MODIFIER_ALIASES = {
    "ctrl": "ctrl", "control": "ctrl", "ctl": "ctrl", "strg": "ctrl",
    "alt": "alt", "option": "alt", "opt": "alt",
    "shift": "shift",
    "meta": "meta", "super": "meta", "win": "meta", "windows": "meta", "cmd": "meta", "command": "meta",
    "logo": "meta",
}
# Named keys every backend knows; letters A-Z and digits 0-9 are handled directly.
NAMED_KEYS = (
    [f"F{n}" for n in range(1, 25)]
    + ["Space", "Enter", "Tab", "Backspace", "Insert", "Delete", "Home", "End", "PageUp", "PageDown",
       "Up", "Down", "Left", "Right", "Pause", "PrintScreen"]
)
_KEY_ALIASES = {name.lower(): name for name in NAMED_KEYS} | {
    "return": "Enter", "ins": "Insert", "del": "Delete", "pgup": "PageUp", "pgdown": "PageDown",
    "pgdn": "PageDown", "print": "PrintScreen", "prtsc": "PrintScreen", "spacebar": "Space",
}

# X keysym names (shared by X11 grabs and the XDG shortcut strings the portal takes).
_KEYSYM_NAMES = {
    "Space": "space", "Enter": "Return", "Tab": "Tab", "Backspace": "BackSpace", "Insert": "Insert",
    "Delete": "Delete", "Home": "Home", "End": "End", "PageUp": "Prior", "PageDown": "Next",
    "Up": "Up", "Down": "Down", "Left": "Left", "Right": "Right", "Pause": "Pause", "PrintScreen": "Print",
}


def keysym_name(key: str) -> str:
    """The X/xkb keysym name of a key: "d" for D, "Prior" for PageUp, "F5" for F5."""
    return _KEYSYM_NAMES.get(key, key.lower() if len(key) == 1 else key)


class HotkeyError(Exception):
    """A combination could not be registered. str(error) can be spoken."""


class HotkeyBusy(HotkeyError):
    """Another program already holds this combination."""


class HotkeyUnavailable(HotkeyError):
    """The backend cannot work here (no display, no portal, unsupported desktop)."""


class InvalidCombo(ValueError):
    """Text that is not a key combination Lookaloud can register. str(error) can be spoken."""


@dataclass(frozen=True)
class Combo:
    """A key combination: a set of modifiers from MODIFIERS and one key ("D", "F5", "Space")."""

    modifiers: frozenset[str]
    key: str

    def __str__(self) -> str:
        return format_combo(self)


def parse_combo(text: str) -> Combo:
    """Reads "Ctrl+Alt+Shift+D", "control + option + d", "Super+F5"... Raises InvalidCombo.

    A combination needs Ctrl, Alt or Meta, or a function key, so that it never steals a key
    the user types."""
    parts = text.replace(" ", "").split("+")
    if any(p == "" for p in parts):
        raise InvalidCombo(f"{text!r} is not a key combination.")
    *mods, key = parts
    modifiers: set[str] = set()
    for mod in mods:
        canonical = _MODIFIER_ALIASES.get(mod.lower())
        if canonical is None:
            raise InvalidCombo(f"{mod} is not a modifier key. Use Ctrl, Alt, Shift or Meta.")
        modifiers.add(canonical)
    if len(key) == 1 and key.isascii() and key.isalnum():
        key = key.upper()
    elif key.lower() in _KEY_ALIASES:
        key = _KEY_ALIASES[key.lower()]
    else:
        raise InvalidCombo(f"{key} is not a key Lookaloud can use in a shortcut.")
    if not modifiers & {"ctrl", "alt", "meta"} and not (key.startswith("F") and key[1:].isdigit()):
        raise InvalidCombo("A shortcut needs Ctrl, Alt or Meta, so that it does not take a key you type.")
    return Combo(frozenset(modifiers), key)


def format_combo(combo: Combo, platform: str | None = None) -> str:
    """The combination as menus show it and screen readers read it, in the platform's words."""
    platform = platform or sys.platform
    names = {"ctrl": "Ctrl", "alt": "Alt", "shift": "Shift", "meta": "Meta"}
    if platform == "win32":
        names["meta"] = "Win"
    elif platform == "darwin":
        names.update(ctrl="Control", alt="Option", meta="Command")
    elif platform.startswith("linux"):
        names["meta"] = "Super"
    return "+".join([names[m] for m in MODIFIERS if m in combo.modifiers] + [combo.key])


ActivatedCallback = Callable[[str], None]
FailedCallback = Callable[[str, str], None]


class HotkeyBackend(ABC):
    """One platform's global hotkeys.

    `on_activated(action)` may be called from any thread (the manager moves it to the GUI
    thread). Backends that can only answer later (the portal) report refusals through
    `on_failed(action, message)`; the others raise from register().
    """

    name = "none"

    def __init__(self, on_activated: ActivatedCallback, on_failed: FailedCallback) -> None:
        self.on_activated = on_activated
        self.on_failed = on_failed

    @abstractmethod
    def start(self) -> None:
        """Connects to the platform. Raises HotkeyUnavailable when it cannot work here."""

    @abstractmethod
    def register(self, action: str, combo: Combo) -> None:
        """Holds `combo` for `action`. Raises HotkeyBusy, or HotkeyError for a key this
        platform cannot grab."""

    def commit(self) -> None:
        """Called after a batch of register() calls; backends that bind all at once do it here."""

    @abstractmethod
    def unregister_all(self) -> None:
        """Releases every combination this backend holds."""

    @abstractmethod
    def stop(self) -> None:
        """Releases everything and disconnects; safe to call twice."""


def busy_message(action: str, combo_text: str) -> str:
    label = ACTION_LABELS[Action(action)] if action in Action._value2member_map_ else action
    return (
        f"The shortcut {combo_text} for {label} is already used by another program. "
        f"Choose a different shortcut for {label} in Lookaloud's settings."
    )


def fallback_instructions() -> str:
    """What the settings say where no backend can hold global shortcuts."""
    actions = ", ".join(a.value for a in Action)
    return (
        "Lookaloud cannot set up global shortcuts on this desktop. Open your desktop's keyboard "
        "shortcut settings and add a custom shortcut for each action you want, with the command "
        "lookaloud trigger followed by the action name, for example: lookaloud trigger describe-screen. "
        f"The action names are: {actions}."
    )
