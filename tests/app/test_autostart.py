"""Start with the system: the XDG autostart file is real here; the Windows Run key and the
macOS LaunchAgent are written by the same functions with their OS side replaced by a
dictionary and a temporary folder."""

from __future__ import annotations

import configparser
import plistlib
import shlex
import sys
from pathlib import Path

import pytest

from desktop_app import autostart

COMMAND = ["/opt/Look Aloud/bin/python", "-m", "desktop_app"]


def test_xdg_autostart_file_starts_the_app_and_can_be_removed(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert not autostart.xdg_autostart_enabled()
    path = autostart.set_xdg_autostart(True, COMMAND)
    assert path == tmp_path / "autostart" / "lookaloud.desktop"
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(path)
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application" and desktop["Name"] == "Lookaloud"
    assert shlex.split(desktop["Exec"]) == COMMAND  # quoted, so the space survives
    assert autostart.xdg_autostart_enabled()
    autostart.set_xdg_autostart(False, COMMAND)
    assert not path.exists() and not autostart.xdg_autostart_enabled()
    autostart.set_xdg_autostart(False, COMMAND)  # turning off twice is fine


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="checks the XDG path this platform uses")
def test_this_platform_uses_the_xdg_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    autostart.set_start_with_system(True)
    assert autostart.starts_with_system()
    text = (tmp_path / "autostart" / "lookaloud.desktop").read_text()
    assert "desktop_app" in text or "lookaloud" in text
    autostart.set_start_with_system(False)
    assert not autostart.starts_with_system()


def test_a_folder_that_cannot_be_written_is_one_sentence(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(autostart.AutostartError) as caught:
        autostart.set_xdg_autostart(True, COMMAND, folder=blocker / "autostart")
    assert str(caught.value).startswith("Lookaloud could not change the autostart file")


class DictRunKey:
    """The Run key as a dictionary (the real one needs Windows)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        self.values[name] = value

    def delete(self, name: str) -> None:
        self.values.pop(name, None)


def test_windows_run_key_holds_a_quoted_command_line() -> None:
    key = DictRunKey()
    command = [r"C:\Program Files\Lookaloud\lookaloud.exe"]
    autostart.set_windows_run_key(True, command, key)
    assert key.values == {"Lookaloud": r'"C:\Program Files\Lookaloud\lookaloud.exe"'}
    assert autostart.windows_run_key_enabled(key)
    autostart.set_windows_run_key(False, command, key)
    assert key.values == {} and not autostart.windows_run_key_enabled(key)


def test_windows_registry_errors_become_a_sentence() -> None:
    class Denied(DictRunKey):
        def set(self, name: str, value: str) -> None:
            raise PermissionError(13, "Access is denied")

    with pytest.raises(autostart.AutostartError, match="could not change the Windows startup setting"):
        autostart.set_windows_run_key(True, COMMAND, Denied())


def test_macos_launch_agent_runs_at_load(tmp_path: Path) -> None:
    folder = autostart.launch_agents_dir(tmp_path)
    path = autostart.set_launch_agent(True, COMMAND, folder)
    assert path == tmp_path / "Library" / "LaunchAgents" / "app.lookaloud.plist"
    with path.open("rb") as f:
        agent = plistlib.load(f)
    assert agent["Label"] == "app.lookaloud" and agent["ProgramArguments"] == COMMAND and agent["RunAtLoad"]
    assert autostart.launch_agent_enabled(folder)
    autostart.set_launch_agent(False, COMMAND, folder)
    assert not path.exists() and not autostart.launch_agent_enabled(folder)
