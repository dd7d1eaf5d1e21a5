"""Start Lookaloud with the system: owns the per-platform login item and nothing else.

- Linux and other XDG desktops: `$XDG_CONFIG_HOME/autostart/lookaloud.desktop`.
- Windows: the value "Lookaloud" under HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run.
- macOS: `~/Library/LaunchAgents/app.lookaloud.plist` with RunAtLoad.

Qt-free. `set_start_with_system(enabled)` and `starts_with_system()` pick the platform; the
per-platform functions take their OS side as arguments (a folder, a registry object) so they
can be tested anywhere. Failures raise AutostartError, whose text is one sentence to speak.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import sys
from pathlib import Path
from typing import Protocol

APP_NAME = "Lookaloud"
DESKTOP_FILE = "lookaloud.desktop"
LAUNCH_AGENT_LABEL = "app.lookaloud"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"


class AutostartError(OSError):
    """Starting with the system could not be turned on or off. str(error) can be spoken."""


def launch_command() -> list[str]:
    """The command that starts the app: the frozen executable, the installed `lookaloud`
    script, or this Python running the package."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    script = shutil.which("lookaloud")
    if script:
        return [script]
    return [sys.executable, "-m", "desktop_app"]


# -- Linux / XDG ----------------------------------------------------------------------------


def xdg_autostart_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "autostart"


def _desktop_exec(command: list[str]) -> str:
    # The Desktop Entry spec quotes arguments with double quotes and escapes \ " ` $ inside.
    def quote(arg: str) -> str:
        if arg and not any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`'):
            return arg
        return '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'

    return " ".join(quote(a).replace("%", "%%") for a in command)


def set_xdg_autostart(enabled: bool, command: list[str], folder: Path | None = None) -> Path:
    """Write or remove the autostart .desktop file; return its path."""
    path = (folder or xdg_autostart_dir()) / DESKTOP_FILE
    try:
        if not enabled:
            path.unlink(missing_ok=True)
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "[Desktop Entry]\n"
            "Type=Application\n"
            f"Name={APP_NAME}\n"
            "Comment=Describes what is on the screen and answers questions about it, offline.\n"
            f"Exec={_desktop_exec(command)}\n"
            "Terminal=false\n"
            "X-GNOME-Autostart-enabled=true\n",
            encoding="utf-8",
        )
    except OSError as error:
        raise AutostartError(f"Lookaloud could not change the autostart file {path}: {error.strerror}.") from error
    return path


def xdg_autostart_enabled(folder: Path | None = None) -> bool:
    path = (folder or xdg_autostart_dir()) / DESKTOP_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return False
    return "Hidden=true" not in text and "X-GNOME-Autostart-enabled=false" not in text


# -- Windows --------------------------------------------------------------------------------


class RunKey(Protocol):
    """The few registry operations on HKCU\\...\\Run that autostart needs."""

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> None: ...


class WinRegRunKey:
    """The real Run key through winreg (Windows only)."""

    def get(self, name: str) -> str | None:
        import winreg  # type: ignore[import-not-found]

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                return str(winreg.QueryValueEx(key, name)[0])
        except FileNotFoundError:
            return None

    def set(self, name: str, value: str) -> None:
        import winreg  # type: ignore[import-not-found]

        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            winreg.SetValueEx(key, name, 0, winreg.REG_SZ, value)

    def delete(self, name: str) -> None:
        import winreg  # type: ignore[import-not-found]

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
                winreg.DeleteValue(key, name)
        except FileNotFoundError:
            pass


def windows_command_line(command: list[str]) -> str:
    import subprocess

    return subprocess.list2cmdline(command)


def set_windows_run_key(enabled: bool, command: list[str], key: RunKey) -> None:
    try:
        if enabled:
            key.set(APP_NAME, windows_command_line(command))
        else:
            key.delete(APP_NAME)
    except OSError as error:
        raise AutostartError("Lookaloud could not change the Windows startup setting: "
                             f"{error.strerror or error}.") from error


def windows_run_key_enabled(key: RunKey) -> bool:
    return bool(key.get(APP_NAME))


# -- macOS ----------------------------------------------------------------------------------


def launch_agents_dir(home: Path | None = None) -> Path:
    return (home or Path.home()) / "Library" / "LaunchAgents"


def set_launch_agent(enabled: bool, command: list[str], folder: Path | None = None) -> Path:
    """Write or remove the LaunchAgent plist (launchd reads it at the next login)."""
    path = (folder or launch_agents_dir()) / f"{LAUNCH_AGENT_LABEL}.plist"
    try:
        if not enabled:
            path.unlink(missing_ok=True)
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            plistlib.dump({"Label": LAUNCH_AGENT_LABEL, "ProgramArguments": list(command),
                           "RunAtLoad": True, "ProcessType": "Interactive"}, f)
    except OSError as error:
        raise AutostartError(f"Lookaloud could not change the login item {path}: {error.strerror}.") from error
    return path


def launch_agent_enabled(folder: Path | None = None) -> bool:
    path = (folder or launch_agents_dir()) / f"{LAUNCH_AGENT_LABEL}.plist"
    try:
        with path.open("rb") as f:
            return bool(plistlib.load(f).get("RunAtLoad"))
    except (OSError, ValueError, plistlib.InvalidFileException):
        return False


# -- This platform --------------------------------------------------------------------------


def set_start_with_system(enabled: bool, command: list[str] | None = None) -> None:
    """Turn starting with the system on or off for this user on this platform."""
    command = command or launch_command()
    if sys.platform == "win32":
        set_windows_run_key(enabled, command, WinRegRunKey())
    elif sys.platform == "darwin":
        set_launch_agent(enabled, command)
    else:
        set_xdg_autostart(enabled, command)


def starts_with_system() -> bool:
    if sys.platform == "win32":
        return windows_run_key_enabled(WinRegRunKey())
    if sys.platform == "darwin":
        return launch_agent_enabled()
    return xdg_autostart_enabled()
