"""Combinations as users type them in settings and hear them in menus, the defaults, the
messages, and which backend each desktop gets."""

from __future__ import annotations

import pytest

from desktop_app.hotkeys.base import (
    DEFAULT_HOTKEYS,
    Action,
    Combo,
    InvalidCombo,
    busy_message,
    fallback_instructions,
    format_combo,
    parse_combo,
)
from desktop_app.hotkeys.manager import choose_backend


def test_defaults_are_the_documented_ctrl_alt_shift_letters_and_all_distinct() -> None:
    assert set(DEFAULT_HOTKEYS) == set(Action)
    letters = {action: parse_combo(text).key for action, text in DEFAULT_HOTKEYS.items()}
    assert letters[Action.DESCRIBE_SCREEN] == "D" and letters[Action.REPEAT_LAST] == "L"
    assert len(set(letters.values())) == len(letters)
    assert all(parse_combo(t).modifiers == {"ctrl", "alt", "shift"} for t in DEFAULT_HOTKEYS.values())


@pytest.mark.parametrize(
    "typed",
    ["Ctrl+Alt+Shift+D", "ctrl+alt+shift+d", "Shift+Control+Alt+D", "control + option + shift + d"],
)
def test_spellings_of_one_combination_read_the_same(typed: str) -> None:
    assert parse_combo(typed) == Combo(frozenset({"ctrl", "alt", "shift"}), "D")


def test_menus_show_the_platforms_names_in_a_fixed_order() -> None:
    combo = parse_combo("super+shift+ctrl+pgdn")
    assert format_combo(combo, "linux") == "Ctrl+Shift+Super+PageDown"
    assert format_combo(combo, "win32") == "Ctrl+Shift+Win+PageDown"
    assert format_combo(parse_combo("Cmd+Alt+F5"), "darwin") == "Option+Command+F5"


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("Shift+D", "A shortcut needs Ctrl, Alt or Meta, so that it does not take a key you type."),
        ("Ctrl+Hyper+D", "Hyper is not a modifier key. Use Ctrl, Alt, Shift or Meta."),
        ("Ctrl+Alt+", "'Ctrl+Alt+' is not a key combination."),
        ("Ctrl+Ü", "Ü is not a key Lookaloud can use in a shortcut."),
    ],
)
def test_bad_combinations_explain_themselves(typed: str, said: str) -> None:
    with pytest.raises(InvalidCombo) as caught:
        parse_combo(typed)
    assert str(caught.value) == said


def test_a_function_key_alone_is_allowed() -> None:
    assert parse_combo("F9") == Combo(frozenset(), "F9")


def test_messages_are_sentences_that_name_the_action_and_the_way_out() -> None:
    assert busy_message("describe-window", "Ctrl+Alt+Shift+W") == (
        "The shortcut Ctrl+Alt+Shift+W for Describe window is already used by another program. "
        "Choose a different shortcut for Describe window in Lookaloud's settings."
    )
    text = fallback_instructions()
    assert "lookaloud trigger describe-screen" in text
    assert all(action.value in text for action in Action)


def test_each_desktop_gets_its_backend() -> None:
    assert choose_backend("linux", {"DISPLAY": ":0"}).__name__ == "X11HotkeyBackend"  # type: ignore[union-attr]
    wayland = {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}
    assert choose_backend("linux", wayland).__name__ == "PortalHotkeyBackend"  # type: ignore[union-attr]
    assert choose_backend("win32", {}).__name__ == "WindowsHotkeyBackend"  # type: ignore[union-attr]
    assert choose_backend("darwin", {}).__name__ == "MacHotkeyBackend"  # type: ignore[union-attr]
    assert choose_backend("linux", {}) is None
