"""The Settings dialog: owns showing and editing every user setting, one tab per subject.

Tabs: Model (model, device, precision), Hotkeys (one field per action, checked with
parse_combo, Restore defaults, and a message for a shortcut another program holds),
Speech (output, voice, rate, volume, earcons), Description (what a description includes),
Listening (speech recognition model, language, microphone) and General (start with the system,
history). OK, Cancel and Apply. The dialog never saves: it hands a new Settings to the app
through `applied` (Apply and OK) and `result_settings` (after OK); the app saves and applies.

Everything is reachable with the keyboard, every field has a buddy label and an accessible
name, and problems are shown in one status line that is also said (through `say`, the app's
own speech path, or else as an accessibility announcement).

What a screen reader user hears, checked with Debian's real Orca 43 (tests/a11y):
- The title. Qt reports the tab bar's first selection as the tabs are added; Orca handles that
  event late, after the dialog is shown, takes its tab for the focus, and then treats the
  dialog's activation as old news: "Model page tab" without "Lookaloud settings dialog". So the
  pages are added to the tab widget when the dialog is first activated (or shortly after it is
  shown, should no activation come), after the activation has reached the screen reader.
- No scroll buttons in the tab bar: the tabs fit (the dialog is as wide as they need), so
  "Scroll Left" / "Scroll Right" are never a Tab stop between the tabs and the first field.
- A closed combo box changed with the arrow keys: Qt's combo box has no AT-SPI Selection
  interface, and Orca says nothing about the new value; on Linux the dialog says it.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import QEvent, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.choices import Device, Precision, SpeechMode
from desktop_app.hotkeys.base import DEFAULT_HOTKEYS, Action, InvalidCombo, format_combo, parse_combo
from desktop_app.models.speech_catalog import STT_MODELS
from desktop_app.models.vision_catalog import CATALOG, DEMO_MODEL
from desktop_app.settings import Settings
from desktop_app.ui.announce import Announcer
from desktop_app.ui.setup_dialog import ask_model_folder, demo_available

DEVICE_LABELS = Device.labels()
PRECISION_LABELS = Precision.labels()
SPEECH_MODE_LABELS = SpeechMode.labels()
# Whisper's common languages; any other code already in the settings is kept as its own entry.
LANGUAGES = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
    "pt": "Portuguese", "nl": "Dutch", "pl": "Polish", "sv": "Swedish", "ru": "Russian",
    "uk": "Ukrainian", "tr": "Turkish", "ar": "Arabic", "hi": "Hindi", "ja": "Japanese",
    "ko": "Korean", "zh": "Chinese",
}
TAB_NAMES = ("Model", "Hotkeys", "Speech", "Description", "Listening", "General")
# When no window activation arrives after the dialog is shown (no window manager), the pages
# are added this long after showing anyway.
PAGES_FALLBACK_MS = 400
# Orca does not say the new value of a closed Qt combo box (see the module docstring); Windows
# and macOS screen readers read it from UIA / NSAccessibility themselves.
SAY_COMBO_CHANGES = sys.platform.startswith("linux")


def _plain(text: str) -> str:
    return text.replace("&", "").rstrip(":.").strip()


def _combo(items: Mapping[str, str], current: str) -> QComboBox:
    combo = QComboBox()
    # As wide as the form allows, not as the longest choice: with large text, long model
    # descriptions would push the dialog off the screen. The open list shows them in full.
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(20)
    for value, label in items.items():
        combo.addItem(label, value)
    if combo.findData(current) < 0:
        combo.addItem(current, current)
    combo.setCurrentIndex(combo.findData(current))
    return combo


def _check(text: str, checked: bool, description: str = "") -> QCheckBox:
    box = QCheckBox(text)
    box.setChecked(checked)
    box.setAccessibleName(_plain(text))
    if description:
        box.setAccessibleDescription(description)
    return box


def _spin(low: int, high: int, value: int, suffix: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setSuffix(suffix)
    return spin


def _row(form: QFormLayout, text: str, widget: QWidget, description: str = "") -> None:
    """A labelled row: QFormLayout makes the label the field's buddy; the name is also set on
    the field so every platform's screen reader reads it."""
    form.addRow(text, widget)
    widget.setAccessibleName(_plain(text))
    if description:
        widget.setAccessibleDescription(description)


class SettingsDialog(QDialog):
    """Edit a copy of the settings. `applied(Settings)` fires on Apply and OK."""

    applied = Signal(object)
    forget_pictures_requested = Signal()  # "Forget all pictures": the app forgets the history and the index

    def __init__(self, settings: Settings, parent: QWidget | None = None, *,
                 voices: Sequence[Any] = (), microphones: Sequence[str] = (),
                 hotkey_failures: Mapping[str, str] | None = None,
                 say: Callable[[str], None] | None = None) -> None:
        """`voices`: objects with `id` and `name` (SpeechOutput.voices()); `microphones`: input
        device names; `hotkey_failures`: action -> message for shortcuts that did not register;
        `say`: how a sentence reaches the user (the app's speech), else it is announced."""
        super().__init__(parent)
        self.setWindowTitle("Lookaloud settings")
        self.setAccessibleName("Lookaloud settings")
        self.original = settings
        self.result_settings: Settings | None = None
        self.announcer = Announcer(self)
        self._say_through = say

        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Settings sections")
        self.tabs.tabBar().setAccessibleName("Settings sections")
        # All tabs fit: no "Scroll Left" / "Scroll Right" buttons to Tab through (and should a
        # style bring them back, they take no focus).
        self.tabs.setUsesScrollButtons(False)
        self.tabs.tabBar().setElideMode(Qt.TextElideMode.ElideNone)
        self._pages: list[tuple[QWidget, str]] = []  # built, not yet added (see the docstring)
        self._focus_when_added: QWidget | None = None
        for name, build in zip(TAB_NAMES, (self._model_tab, self._hotkeys_tab, self._speech_tab,
                                           self._description_tab, self._listening_tab, self._general_tab)):
            page = QWidget()
            page.setAccessibleName(f"{name} settings")
            build(page, settings, voices=voices, microphones=microphones)
            # No mnemonics on the tabs: Ctrl+Tab moves between them, and the letters stay free
            # for the fields (each page's letters differ from each other and from OK, Cancel, Apply).
            self._pages.append((page, name))
        self._pages_fallback = QTimer(self)
        self._pages_fallback.setSingleShot(True)
        self._pages_fallback.setInterval(PAGES_FALLBACK_MS)
        self._pages_fallback.timeout.connect(self.add_pages)
        if SAY_COMBO_CHANGES:
            for page, _name in self._pages:
                for combo in page.findChildren(QComboBox):
                    combo.currentIndexChanged.connect(lambda _i, c=combo: self._on_combo_changed(c))

        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        # Its name is its message, which is also announced when it appears.
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
                                        | QDialogButtonBox.StandardButton.Apply)
        for button in self.buttons.buttons():
            button.setAccessibleName(_plain(button.text()))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(self.on_apply_clicked)

        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.status_label)
        layout.addWidget(self.buttons)
        self._focus_when_added = self.tabs.tabBar()
        if hotkey_failures:
            self.show_hotkey_failures(hotkey_failures)

    # -- opening -------------------------------------------------------------------------------

    def add_pages(self) -> None:
        """Add the pages to the tab widget (once), then put the focus where it belongs. Runs
        when the dialog is first activated; see the module docstring for why not before."""
        self._pages_fallback.stop()
        if not self._pages:
            return
        pages, self._pages = self._pages, []
        for page, name in pages:
            self.tabs.addTab(page, name)
        for button in self.tabs.tabBar().findChildren(QToolButton):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        # Added pages join the end of the focus chain: OK, Cancel and Apply go back after them.
        chain, widget = [], self.nextInFocusChain()
        while widget is not self and widget is not None:
            chain.append(widget)
            widget = widget.nextInFocusChain()
        fields = [w for w in chain if w.focusPolicy() & Qt.FocusPolicy.TabFocus and not self.buttons.isAncestorOf(w)]
        order = [fields[-1], *(b for b in chain if isinstance(b, QPushButton) and self.buttons.isAncestorOf(b))]
        for first, second in itertools.pairwise(order):
            QWidget.setTabOrder(first, second)
        layout = self.layout()
        if layout is not None:
            layout.activate()  # as wide as the tabs need
        self.adjustSize()
        target, self._focus_when_added = self._focus_when_added, None
        if target is not None:
            self._focus(target)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._pages:
            self._pages_fallback.start()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.WindowActivate and self._pages:
            self.add_pages()
        return super().event(event)

    def _on_combo_changed(self, combo: QComboBox) -> None:
        """A closed combo box the user changed (arrow keys, Home, End, a letter): say its value."""
        if combo.hasFocus() and not combo.view().isVisible() and combo.currentText():
            self._speak(combo.currentText())

    # -- tabs ----------------------------------------------------------------------------------

    def _model_tab(self, page: QWidget, s: Settings, **_: Any) -> None:
        form = QFormLayout(page)
        items = {name: f"{name}: {spec.label}" for name, spec in CATALOG.items()}
        if demo_available():
            items[DEMO_MODEL] = f"{DEMO_MODEL}: a tiny model that knows simple shapes, for trying Lookaloud."
        if s.model and s.model not in items:
            items[s.model] = f"The model in the folder {s.model}"
        if not s.model:
            items = {"": "No model chosen yet", **items}
        self.model_combo = _combo(items, s.model)
        _row(form, "&Model:", self.model_combo, "The picture description model Lookaloud runs.")
        self.folder_button = QPushButton("Choose &folder...")
        self.folder_button.setAccessibleName("Choose a model folder")
        self.folder_button.setAccessibleDescription("Use a model saved in a folder on this computer.")
        self.folder_button.clicked.connect(self.on_folder_clicked)
        form.addRow("", self.folder_button)
        self.device_combo = _combo(DEVICE_LABELS, s.device)
        _row(form, "&Device:", self.device_combo, "Where the model runs.")
        self.precision_combo = _combo(PRECISION_LABELS, s.precision)
        _row(form, "&Precision:", self.precision_combo, "Half precision needs half the memory.")

    def _hotkeys_tab(self, page: QWidget, s: Settings, **_: Any) -> None:
        layout = QVBoxLayout(page)
        self.hotkey_message = QLabel("")
        self.hotkey_message.setWordWrap(True)
        self.hotkey_message.setVisible(False)
        layout.addWidget(self.hotkey_message)
        form = QFormLayout()
        layout.addLayout(form)
        self.hotkey_fields: dict[str, QLineEdit] = {}
        for action in Action:
            edit = QLineEdit(s.hotkeys.get(action.value, DEFAULT_HOTKEYS[action]))
            edit.setPlaceholderText(DEFAULT_HOTKEYS[action])
            _row(form, f"{action.label}:", edit,
                 "Type a key combination with plus signs, such as Ctrl+Alt+Shift+D.")
            self.hotkey_fields[action.value] = edit
        self.restore_button = QPushButton("&Restore default shortcuts")
        self.restore_button.setAccessibleName("Restore default shortcuts")
        self.restore_button.clicked.connect(self.on_restore_clicked)
        layout.addWidget(self.restore_button)
        layout.addStretch(1)

    def _speech_tab(self, page: QWidget, s: Settings, *, voices: Sequence[Any], **_: Any) -> None:
        form = QFormLayout(page)
        self.mode_combo = _combo(SPEECH_MODE_LABELS, s.speech_mode)
        _row(form, "Speak &with:", self.mode_combo, "Who reads descriptions and answers aloud.")
        self.voice_combo = _combo({"": "Default voice", **{v.id: v.name for v in voices}}, s.voice)
        _row(form, "&Voice:", self.voice_combo, "The voice Lookaloud's own speech uses.")
        self.rate_spin = _spin(80, 450, s.rate, " words a minute")
        _row(form, "&Rate:", self.rate_spin)
        self.volume_spin = _spin(0, 100, round(s.volume * 100), " percent")
        _row(form, "Volu&me:", self.volume_spin)
        self.earcons_check = _check("Play &sounds for start, done and errors", s.earcons)
        form.addRow(self.earcons_check)
        self.earcons_volume_spin = _spin(0, 100, round(s.earcons_volume * 100), " percent")
        _row(form, "Sou&nd volume:", self.earcons_volume_spin)
        self.earcons_volume_spin.setEnabled(s.earcons)
        self.earcons_check.toggled.connect(self.earcons_volume_spin.setEnabled)

    def _description_tab(self, page: QWidget, s: Settings, **_: Any) -> None:
        form = QFormLayout(page)
        self.include_text_check = _check("Read &text found in the picture", s.include_text)
        self.include_kind_check = _check("Say the &kind of picture, such as a screenshot or a photo", s.include_kind)
        self.all_monitors_check = _check("Describe screen covers all &monitors", s.all_monitors,
                                         "When off, only the monitor with the focused window is described.")
        for box in (self.include_text_check, self.include_kind_check, self.all_monitors_check):
            form.addRow(box)

    def _listening_tab(self, page: QWidget, s: Settings, *, microphones: Sequence[str], **_: Any) -> None:
        form = QFormLayout(page)
        self.stt_combo = _combo({m.name: f"{m.name}: {m.label}" for m in STT_MODELS.values()}, s.stt_model)
        _row(form, "Speech &recognition model:", self.stt_combo)
        self.language_combo = _combo(LANGUAGES, s.language)
        _row(form, "&Language you speak:", self.language_combo,
             "English-only models ignore this and always listen for English.")
        self.microphone_combo = _combo({"": "System default microphone", **{m: m for m in microphones}},
                                       s.microphone)
        _row(form, "&Microphone:", self.microphone_combo)

    def _general_tab(self, page: QWidget, s: Settings, **_: Any) -> None:
        form = QFormLayout(page)
        self.autostart_check = _check("&Start Lookaloud when I log in", s.start_with_system)
        form.addRow(self.autostart_check)
        self.history_check = _check("&Keep a history of descriptions and answers", s.keep_history,
                                    "The history stays on this computer.")
        form.addRow(self.history_check)
        self.history_spin = _spin(1, 1000, s.history_size, " entries")
        _row(form, "&History size:", self.history_spin)
        self.history_spin.setEnabled(s.keep_history)
        self.history_check.toggled.connect(self.history_spin.setEnabled)
        # Forgetting is done by the app (the history and the picture index), at once, not on OK.
        self.forget_button = QPushButton("&Forget all pictures")
        self.forget_button.setAccessibleName("Forget all pictures")
        self.forget_button.setAccessibleDescription(
            "Forget the recent pictures and every indexed folder now. The picture files are not touched.")
        self.forget_button.setAutoDefault(False)
        self.forget_button.clicked.connect(self.forget_pictures_requested.emit)
        form.addRow(self.forget_button)

    # -- reading the controls ------------------------------------------------------------------

    def _say(self, text: str) -> None:
        self.status_label.setText(text)
        self._speak(text)

    def _speak(self, text: str) -> None:
        """Say text without showing it: through the app's speech, or else announced."""
        (self._say_through or self.announcer.announce)(text)

    def _focus(self, widget: QWidget) -> None:
        if self._pages:  # not added yet: focus it once they are
            self._focus_when_added = widget
            return
        page = widget.parentWidget()
        while page is not None and self.tabs.indexOf(page) < 0:
            page = page.parentWidget()
        if page is not None:
            self.tabs.setCurrentWidget(page)
        widget.setFocus()
        if isinstance(widget, QLineEdit):
            widget.selectAll()

    def _hotkeys(self) -> dict[str, str]:
        """The shortcuts typed, canonical; raises InvalidCombo naming the field at fault."""
        seen: dict[str, str] = {}
        result: dict[str, str] = {}
        for action in Action:
            edit = self.hotkey_fields[action.value]
            try:
                combo = format_combo(parse_combo(edit.text()))
            except InvalidCombo as error:
                raise _FieldError(edit, f"The shortcut for {action.label} is not valid: {error}") from error
            if combo in seen:
                raise _FieldError(edit, f"{combo} is used for both {seen[combo]} and {action.label}. "
                                        "Choose a different shortcut for one of them.")
            seen[combo] = action.label
            result[action.value] = combo
        return result

    def current_settings(self) -> Settings:
        """The settings the controls show. Raises _FieldError for a field that is not valid."""
        return self.original.update(
            model=self.model_combo.currentData(),
            device=self.device_combo.currentData(),
            precision=self.precision_combo.currentData(),
            hotkeys=self._hotkeys(),
            speech_mode=self.mode_combo.currentData(),
            voice=self.voice_combo.currentData(),
            rate=self.rate_spin.value(),
            volume=self.volume_spin.value() / 100,
            earcons=self.earcons_check.isChecked(),
            earcons_volume=self.earcons_volume_spin.value() / 100,
            include_text=self.include_text_check.isChecked(),
            include_kind=self.include_kind_check.isChecked(),
            all_monitors=self.all_monitors_check.isChecked(),
            stt_model=self.stt_combo.currentData(),
            language=self.language_combo.currentData(),
            microphone=self.microphone_combo.currentData(),
            start_with_system=self.autostart_check.isChecked(),
            keep_history=self.history_check.isChecked(),
            history_size=self.history_spin.value(),
        )

    def _checked_settings(self) -> Settings | None:
        try:
            settings = self.current_settings()
        except _FieldError as error:
            self._focus(error.field)
            self._say(str(error))
            return None
        self.hotkey_message.setVisible(False)
        return settings

    # -- actions -------------------------------------------------------------------------------

    def show_hotkey_failure(self, action: str, message: str) -> None:
        """Show why a shortcut could not be registered and put focus on its field, so the
        user can type another one."""
        self.show_hotkey_failures({action: message})

    def show_hotkey_failures(self, failures: Mapping[str, str]) -> None:
        """Show why each of these shortcuts (action -> message) could not be registered, each
        on its own field, and all of them above the fields; focus goes to the first field."""
        text = " ".join(failures.values())
        self.hotkey_message.setText(text)
        self.hotkey_message.setVisible(True)
        edits = [(self.hotkey_fields[a], m) for a in self.hotkey_fields if (m := failures.get(a))]
        for edit, message in edits:
            edit.setAccessibleDescription(message)
        if edits:
            self._focus(edits[0][0])
        self._say(text)

    @Slot()
    def on_restore_clicked(self) -> None:
        for action, combo in DEFAULT_HOTKEYS.items():
            self.hotkey_fields[action.value].setText(combo)
        self._say("The default shortcuts are back. Press OK or Apply to use them.")

    @Slot()
    def on_folder_clicked(self) -> None:
        folder = ask_model_folder(self, self._say)
        if folder is None:
            self.folder_button.setFocus()
            return
        if self.model_combo.findData(folder) < 0:
            self.model_combo.addItem(f"The model in the folder {folder}", folder)
        self.model_combo.setCurrentIndex(self.model_combo.findData(folder))
        self._say(f"Lookaloud will use the model in {folder}.")
        self.model_combo.setFocus()

    @Slot()
    def on_apply_clicked(self) -> None:
        settings = self._checked_settings()
        if settings is not None:
            self.original = settings
            self.applied.emit(settings)
            self._say("Settings applied.")

    def accept(self) -> None:
        settings = self._checked_settings()
        if settings is None:
            return
        self.result_settings = settings
        self.applied.emit(settings)
        super().accept()


class _FieldError(ValueError):
    def __init__(self, field: QWidget, message: str) -> None:
        super().__init__(message)
        self.field = field
