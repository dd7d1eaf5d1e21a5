"""The Settings dialog as a keyboard and screen reader user meets it: named controls with buddy
labels on every tab, Tab reaches them all, Escape closes without changing anything, OK returns
the edited settings (never saving them itself), shortcuts are checked, a shortcut another
program holds is shown with focus on its field, and a model folder is chosen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QToolButton,
)

from desktop_app import settings as settings_module
from desktop_app.hotkeys.base import DEFAULT_HOTKEYS, Action, busy_message
from desktop_app.settings import Settings
from desktop_app.speech.speaker import VoiceInfo
from desktop_app.ui.settings_dialog import TAB_NAMES, SettingsDialog
from tests.app.keyboard import (
    ATSPI_PYTHON,
    atspi_nodes,
    focus_chain,
    focusable_widgets,
    show_active,
    unnamed_controls,
)

VOICES = [VoiceInfo("en-gb", "English (Great Britain)"), VoiceInfo("de", "German")]


@pytest.fixture
def dialog_settings(qtbot):
    def make(settings: Settings | None = None, **kwargs) -> SettingsDialog:
        dialog = SettingsDialog(settings or Settings(model="blip2-opt-2.7b"), voices=VOICES,
                                microphones=["USB headset"], **kwargs)
        show_active(qtbot, dialog)
        return dialog

    return make


def type_into(qtbot, widget, text: str) -> None:
    widget.setFocus()
    widget.selectAll()
    qtbot.keyClicks(widget, text)


def test_every_tab_is_reachable_named_and_labelled(qtbot, dialog_settings) -> None:
    dialog = dialog_settings()
    bar = dialog.tabs.tabBar()
    assert QApplication.focusWidget() is bar  # focus placed on open
    assert [dialog.tabs.tabText(i).replace("&", "") for i in range(dialog.tabs.count())] == list(TAB_NAMES)
    for index in range(dialog.tabs.count()):
        qtbot.keyClick(bar, Qt.Key.Key_Right if index else Qt.Key.Key_Home)
        assert dialog.tabs.currentIndex() == index
        controls = focusable_widgets(dialog)
        for widget in controls:
            assert widget.accessibleName().strip(), f"{widget!r} on {TAB_NAMES[index]} has no accessible name"
        assert set(focus_chain(qtbot, dialog)) == set(controls), TAB_NAMES[index]
        page = dialog.tabs.widget(index)
        for form in page.findChildren(QFormLayout):
            for row in range(form.rowCount()):
                label = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
                field = form.itemAt(row, QFormLayout.ItemRole.FieldRole)
                if label and isinstance(label.widget(), QLabel) and label.widget().text():
                    assert label.widget().buddy() is field.widget()
                    assert field.widget().accessibleName() == label.widget().text().replace("&", "").rstrip(":")


def test_escape_closes_and_changes_nothing(qtbot, dialog_settings) -> None:
    changed: list[Settings] = []
    dialog = dialog_settings()
    dialog.applied.connect(changed.append)
    type_into(qtbot, dialog.hotkey_fields[Action.ASK.value], "Ctrl+Alt+Q")
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
    assert dialog.result() == QDialog.DialogCode.Rejected and not dialog.isVisible()
    assert dialog.result_settings is None and changed == []


def test_ok_returns_the_edited_settings_without_saving(qtbot, dialog_settings) -> None:
    before = Settings(model="blip2-opt-2.7b", voice="de", microphone="USB headset", keep_history=False)
    dialog = dialog_settings(before)
    assert dialog.voice_combo.currentText() == "German"
    assert dialog.microphone_combo.currentText() == "USB headset"
    assert not dialog.history_spin.isEnabled()  # no history size without a history
    dialog.tabs.setCurrentIndex(TAB_NAMES.index("General"))
    dialog.history_check.setFocus()
    qtbot.keyClick(dialog.history_check, Qt.Key.Key_Space)
    assert dialog.history_spin.isEnabled()
    dialog.tabs.setCurrentIndex(TAB_NAMES.index("Speech"))
    type_into(qtbot, dialog.rate_spin.lineEdit(), "220")
    dialog.mode_combo.setFocus()
    qtbot.keyClick(dialog.mode_combo, Qt.Key.Key_End)  # "Both"
    dialog.tabs.setCurrentIndex(TAB_NAMES.index("Hotkeys"))
    type_into(qtbot, dialog.hotkey_fields[Action.ASK.value], "control + alt + q")
    qtbot.keyClick(dialog.hotkey_fields[Action.ASK.value], Qt.Key.Key_Return)  # Enter presses OK

    assert dialog.result() == QDialog.DialogCode.Accepted
    after = dialog.result_settings
    assert after.keep_history and after.rate == 220 and after.speech_mode == "both"
    assert after.hotkeys[Action.ASK.value] == "Ctrl+Alt+Q"
    assert after.voice == "de" and after.model == "blip2-opt-2.7b"
    assert not settings_module.settings_path().exists()  # the app saves, not the dialog


def test_a_bad_or_repeated_shortcut_is_explained_and_focused(qtbot, dialog_settings) -> None:
    dialog = dialog_settings()
    field = dialog.hotkey_fields[Action.READ_TEXT.value]
    type_into(qtbot, field, "Shift+Q")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert dialog.isVisible() and dialog.result_settings is None
    assert dialog.status_label.text().startswith("The shortcut for Read text is not valid: A shortcut needs Ctrl")
    assert QApplication.focusWidget() is field and dialog.tabs.currentIndex() == TAB_NAMES.index("Hotkeys")

    type_into(qtbot, field, DEFAULT_HOTKEYS[Action.DESCRIBE_SCREEN])
    dialog.buttons.button(QDialogButtonBox.StandardButton.Apply).click()
    assert "is used for both Describe screen and Read text" in dialog.status_label.text()

    dialog.restore_button.setFocus()
    qtbot.keyClick(dialog.restore_button, Qt.Key.Key_Space)
    applied: list[Settings] = []
    dialog.applied.connect(applied.append)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Apply).click()
    assert dialog.status_label.text() == "Settings applied." and dialog.isVisible()
    assert applied[-1].hotkeys == {a.value: c for a, c in DEFAULT_HOTKEYS.items()}


def test_a_shortcut_another_program_holds_is_shown_on_its_field(qtbot, dialog_settings) -> None:
    message = busy_message(Action.DESCRIBE_WINDOW.value, "Ctrl+Alt+Shift+W")
    dialog = dialog_settings(hotkey_failures={Action.DESCRIBE_WINDOW.value: message})
    field = dialog.hotkey_fields[Action.DESCRIBE_WINDOW.value]
    assert dialog.tabs.currentIndex() == TAB_NAMES.index("Hotkeys")
    assert QApplication.focusWidget() is field and field.selectedText() == "Ctrl+Alt+Shift+W"
    assert dialog.hotkey_message.isVisible() and dialog.hotkey_message.text() == message
    assert dialog.status_label.text() == message and field.accessibleDescription() == message
    type_into(qtbot, field, "Ctrl+Alt+Shift+G")
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert dialog.result_settings.hotkeys[Action.DESCRIBE_WINDOW.value] == "Ctrl+Alt+Shift+G"


def test_choosing_a_model_folder(qtbot, dialog_settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "config.json").write_text(json.dumps({"model_type": "instructblip",
                                                               "text_config": {"model_type": "t5"}}))
    answers = [str(tmp_path / "empty"), str(tmp_path / "mine")]
    # The platform's folder picker cannot be driven here; it answers with these folders.
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: answers.pop(0))
    dialog = dialog_settings()
    dialog.tabs.setCurrentIndex(0)
    dialog.folder_button.setFocus()
    qtbot.keyClick(dialog.folder_button, Qt.Key.Key_Space)
    assert "does not hold a saved model" in dialog.status_label.text()
    assert QApplication.focusWidget() is dialog.folder_button
    qtbot.keyClick(dialog.folder_button, Qt.Key.Key_Space)
    assert QApplication.focusWidget() is dialog.model_combo
    dialog.accept()
    assert dialog.result_settings.model == str(tmp_path / "mine")


@pytest.mark.skipif(not Path(ATSPI_PYTHON).exists(), reason="needs Debian's python3 with pyatspi")
def test_a_screen_reader_finds_every_control_named_on_the_accessibility_bus(qtbot, dialog_settings) -> None:
    dialog = dialog_settings()
    for index, tab in enumerate(TAB_NAMES):
        dialog.tabs.setCurrentIndex(index)
        # Only what is showing: a closed dialog of an earlier test can linger on the bus.
        nodes = [n for n in atspi_nodes(qtbot, "Lookaloud settings") if n["showing"]]
        assert unnamed_controls(nodes) == [], tab
        assert [n["name"] for n in nodes if n["role"] == "page tab"] == list(TAB_NAMES)
        labelled = {label for n in nodes for label in n["labelled_by"]}
        if tab == "Model":
            assert {"Model:", "Device:", "Precision:"} <= labelled
        if tab == "Hotkeys":
            assert {"Describe screen:", "Stop speaking:"} <= labelled
            assert ("push button", "Restore default shortcuts") in {(n["role"], n["name"]) for n in nodes}


def test_tab_from_the_tab_bar_goes_to_the_page_not_to_scroll_buttons(qtbot, dialog_settings) -> None:
    """Orca read "Scroll Right push button" between the tabs and the first field."""
    dialog = dialog_settings()
    bar = dialog.tabs.tabBar()
    assert QApplication.focusWidget() is bar
    qtbot.keyClick(bar, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is dialog.model_combo
    scroll_buttons = [b for b in bar.findChildren(QToolButton) if b.isVisible() or b.focusPolicy() & Qt.FocusPolicy.TabFocus]
    assert scroll_buttons == []
    # The tabs fit, so nothing needed scrolling.
    assert all(bar.tabRect(i).right() <= bar.width() for i in range(bar.count()))


def test_the_dialog_opens_named_with_focus_inside_it(qtbot) -> None:
    """What a screen reader reads on opening: the window's name, then the focused tab. (That Orca
    says the title is checked with the real Orca in tests/a11y/test_orca_dialogs.py.)"""
    dialog = SettingsDialog(Settings(model="blip2-opt-2.7b"), voices=VOICES)
    assert dialog.tabs.count() == 0  # pages wait for the activation (settings_dialog.py says why)
    show_active(qtbot, dialog)
    assert dialog.tabs.count() == len(TAB_NAMES)
    assert dialog.windowTitle() == dialog.accessibleName() == "Lookaloud settings"
    assert QApplication.focusWidget() is dialog.tabs.tabBar() and dialog.isAncestorOf(QApplication.focusWidget())


@pytest.mark.parametrize("key", [Qt.Key.Key_Down, Qt.Key.Key_End])
def test_changing_a_closed_combo_box_with_the_keys_is_said(qtbot, dialog_settings, key) -> None:
    """Orca says nothing when a closed Qt combo box changes (no AT-SPI Selection interface)."""
    dialog = dialog_settings()
    announced: list[str] = []
    dialog.announcer.announce = announced.append  # type: ignore[method-assign]
    dialog.tabs.setCurrentIndex(TAB_NAMES.index("Speech"))
    dialog.mode_combo.setFocus()
    qtbot.keyClick(dialog.mode_combo, key)
    assert dialog.mode_combo.currentText() in ("My screen reader", "Both")
    assert announced == [dialog.mode_combo.currentText()]
    # Changed by the dialog itself (not by the user's keys on it): nothing is said.
    dialog.language_combo.setCurrentIndex(2)
    assert announced == [dialog.mode_combo.currentText()]


def test_the_dialog_says_its_sentences_through_the_apps_speech(qtbot) -> None:
    said: list[str] = []
    dialog = SettingsDialog(Settings(model="blip2-opt-2.7b"), voices=VOICES, say=said.append)
    show_active(qtbot, dialog)
    dialog.tabs.setCurrentIndex(TAB_NAMES.index("Speech"))
    dialog.voice_combo.setFocus()
    qtbot.keyClick(dialog.voice_combo, Qt.Key.Key_Down)
    dialog.on_restore_clicked()
    assert said == ["English (Great Britain)", "The default shortcuts are back. Press OK or Apply to use them."]
