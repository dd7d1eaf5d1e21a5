"""Settings that cannot be saved: a config folder nobody may write to (not even root: the
folder is made immutable, or its parent is a plain file) gives one spoken sentence, and the
rest of Apply still happens. Temporary files a crash left mid-save are gone after the next
start."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app import settings as settings_store
from desktop_app.settings import Settings, SettingsError
from tests.app import instances


def _immutable(folder: Path) -> bool:
    """Make `folder` unwritable even for root (chattr +i); False where the file system or our
    privileges do not allow it."""
    if os.geteuid() != 0:
        folder.chmod(0o500)
        return True
    if not shutil.which("chattr"):
        return False
    return subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False).returncode == 0


@pytest.fixture(params=["read-only folder", "a file in the way"])
def unwritable_config(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """XDG_CONFIG_HOME whose lookaloud folder cannot be written; yields the settings file's path."""
    config = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    folder = config / "lookaloud"
    if request.param == "read-only folder":
        folder.mkdir(parents=True)
        settings_store.save(Settings(rate=150))
        if not _immutable(folder):
            pytest.skip("cannot make a folder read-only for root here")
        try:
            yield folder / "settings.json"
        finally:
            if os.geteuid() == 0:
                subprocess.run(["chattr", "-i", str(folder)], check=False)
            else:
                folder.chmod(0o700)
    else:
        config.write_text("not a folder")  # the config folder's parent is a regular file
        yield folder / "settings.json"


def test_save_says_one_sentence_and_leaves_the_old_file(unwritable_config: Path) -> None:
    before = unwritable_config.read_bytes() if unwritable_config.exists() else None
    with pytest.raises(SettingsError) as error:
        settings_store.save(Settings(rate=220))
    sentence = str(error.value)
    assert sentence.startswith("Lookaloud could not save your settings") and sentence.count(". ") == 0
    assert sentence.endswith(".") and str(unwritable_config.parent) in sentence
    if before is not None:
        assert unwritable_config.read_bytes() == before
        assert sorted(p.name for p in unwritable_config.parent.iterdir()) == ["settings.json"]


def test_a_failed_save_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writing works, replacing the file does not (the one case the file system here cannot
    make happen on its own: the file is written and the rename fails)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))

    def refuse(*_args):  # type: ignore[no-untyped-def]
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(SettingsError):
        settings_store.save(Settings(rate=220))
    assert list((tmp_path / "lookaloud").iterdir()) == []


def test_apply_with_an_unwritable_config_folder_says_so_once_and_applies_the_rest(make_app, unwritable_config) -> None:
    app = make_app()
    new = app.settings.update(rate=230, earcons_volume=0.3, all_monitors=True)
    app.apply_settings(new)
    said = [m for m in app.heard if "could not save your settings" in m]
    assert len(said) == 1 and said[0].count(". ") == 0
    assert app.settings == new and app.controller.settings == new
    assert app.speech.settings.rate == 230 and app.speech.settings.earcons_volume == 0.3


def test_temporary_files_left_by_a_crash_are_removed_at_the_next_start(tmp_path: Path) -> None:
    home = instances.Home(tmp_path / "home")
    folder = home.config / "lookaloud"
    left = [folder / ".settings-k2j4h1.json", folder / ".settings-zz9.json"]
    for path in left:
        path.write_text('{"rate": 1')
    other = folder / "notes.json"
    other.write_text("{}")
    app = instances.start(home)
    try:
        instances.wait_until_answering(home, app)
        assert not any(p.exists() for p in left)
        assert other.exists() and (folder / "settings.json").exists()
        assert instances.trigger(home, "quit").returncode == 0
        app.wait(timeout=60)
    finally:
        instances.stop(app)


def test_the_apply_button_with_an_unwritable_folder_applies_and_says_it_once(qtbot, make_app, unwritable_config) -> None:
    """Apply in the real Settings dialog, which stays open: the new rate is used at once, the
    save that failed is said once, and Cancel afterwards keeps what was applied."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QDialogButtonBox

    app = make_app()
    seen: dict[str, object] = {}

    def press_apply() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None or not hasattr(dialog, "rate_spin"):
            QTimer.singleShot(50, press_apply)
            return
        dialog.rate_spin.setValue(260)
        dialog.buttons.button(QDialogButtonBox.StandardButton.Apply).click()
        seen["rate while open"] = app.settings.rate
        seen["still open"] = dialog.isVisible()
        dialog.reject()

    QTimer.singleShot(0, press_apply)
    app.open_settings()
    assert seen == {"rate while open": 260, "still open": True}
    assert app.settings.rate == 260 and app.speech.settings.rate == 260
    assert len([m for m in app.heard if "could not save your settings" in m]) == 1
