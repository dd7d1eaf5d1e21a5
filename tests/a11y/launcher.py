"""Start the real Lookaloud (`python -m desktop_app`) in its own process on the test display,
with its own settings, and look at it the way a screen reader does.

- `start_accessibility_bus()` starts a private accessibility bus; it must run before the app
  starts, or Qt never sends announcements.
- `Agent` drives tests/a11y/atspi_agent.py under Debian's /usr/bin/python3 (pyatspi).
- `launch_app()` writes settings.json in a private XDG_CONFIG_HOME and starts the app; its
  single-instance lock and socket go to a private XDG_RUNTIME_DIR so parallel test runs never meet.
- `keys()` / `type_text()` press real keys with xdotool (XTEST), as a keyboard user would.

Run by hand to get a running app to poke at:  python -m tests.a11y.launcher MODEL_FOLDER
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from testkit.processes import stop_process

ATSPI_PYTHON = "/usr/bin/python3"
AGENT = Path(__file__).with_name("atspi_agent.py")
REPO = Path(__file__).resolve().parents[2]
APP_NAME = "Lookaloud"


def start_accessibility_bus(folder: Path) -> tuple[subprocess.Popen, str]:
    """A private accessibility bus (dbus-daemon with at-spi2-core's config) with its socket in
    `folder`; the process and its address. The app, the agent and the registry daemon the bus
    activates all find it through AT_SPI_BUS_ADDRESS: the session's own org.a11y.Bus keeps its
    socket at ~/.cache/at-spi/bus, which every test session of the same user shares."""
    address = f"unix:path={folder / 'a11y-bus'}"
    proc = subprocess.Popen(["dbus-daemon", "--config-file=/usr/share/defaults/at-spi2/accessibility.conf",
                             "--nofork", f"--address={address}", "--print-address=1"],
                            env={**os.environ, "AT_SPI_BUS_ADDRESS": address}, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    if not proc.stdout.readline().strip():
        proc.kill()
        proc.wait()
        raise AssertionError("dbus-daemon did not start an accessibility bus")
    return proc, address


def wait_until(condition: Callable[[], Any], timeout: float, message: str, every: float = 0.25,
               on_fail: Callable[[], str] | None = None) -> Any:
    """Poll until condition() is truthy; its value. Fails with `message` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message + (f" ({on_fail()})" if on_fail else ""))
        time.sleep(every)


class Agent:
    """The AT-SPI side: commands answered in order, announcements collected as they come."""

    def __init__(self, bus_address: str) -> None:
        env = {**os.environ, "AT_SPI_BUS_ADDRESS": bus_address}
        self.proc = subprocess.Popen([ATSPI_PYTHON, str(AGENT)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self.announcements: list[str] = []
        self.last_error = ""  # the agent's last failed command, for failure messages
        self._replies: queue.Queue[dict] = queue.Queue()
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(30):
            self.close()
            raise AssertionError("the AT-SPI agent did not start: " + (self.proc.stderr.read() or ""))

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            message = json.loads(line)
            if "announcement" in message:
                self.announcements.append(message["announcement"])
            elif "reply" in message:
                self._replies.put(message["reply"])
            elif message.get("ready"):
                self._ready.set()

    def ask(self, cmd: str, **args: Any) -> dict:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, "app": APP_NAME, **args}) + "\n")
        self.proc.stdin.flush()
        reply = self._replies.get(timeout=60)
        if "error" in reply:
            self.last_error = f"{cmd}: {reply['error']}"
        return reply

    def windows(self) -> list[str]:
        return self.ask("windows").get("windows", [])

    def tree(self, window: str | None = None) -> list[dict]:
        return self.ask("tree", window=window).get("nodes", [])

    def focused(self) -> dict | None:
        return self.ask("focused").get("focused")

    def has_window(self, title: str) -> bool:
        """A dialog's title carries " — Lookaloud" after it (the application's display name)."""
        return any(w == title or w.startswith(title + " — ") for w in self.windows())

    def window_title(self, title: str) -> str:
        return next((w for w in self.windows() if w == title or w.startswith(title + " — ")), title)

    def wait_for_window(self, title: str, timeout: float = 60) -> None:
        wait_until(lambda: self.has_window(title), timeout, f"no window called {title!r} appeared",
                   on_fail=lambda: f"windows: {self.windows()}, focus: {self.focused()}")

    def wait_for_focus(self, name: str, timeout: float = 30) -> dict:
        return wait_until(lambda: (f := self.focused()) and f["name"] == name and f, timeout,
                          f"focus never reached {name!r}; it is on {self.focused()!r}")

    def node(self, window: str, name: str, role: str | None = None) -> dict | None:
        return next((n for n in self.tree(window) if n["name"] == name and role in (None, n["role"])), None)

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def launch_app(home: Path, bus_address: str, settings: dict[str, Any], *args: str,
               env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start `python -m desktop_app` with these settings; its log is home/app.log. `env` adds to
    or replaces the environment below (a sound server, a speech-dispatcher, a session bus)."""
    config = home / "config"
    (config / "lookaloud").mkdir(parents=True, exist_ok=True)
    (config / "lookaloud" / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    log = open(home / "app.log", "w")  # noqa: SIM115 - the process owns it until it exits
    return subprocess.Popen([sys.executable, "-m", "desktop_app", *args], cwd=str(home),
                            env=app_env(home, bus_address, env), stdout=log, stderr=subprocess.STDOUT)


def app_env(home: Path, bus_address: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment launch_app gives Lookaloud (another `lookaloud` command with it reaches
    the running app, e.g. `lookaloud trigger`)."""
    (home / "tmp").mkdir(exist_ok=True)
    (home / "runtime").mkdir(mode=0o700, exist_ok=True)
    return {**os.environ, "XDG_CONFIG_HOME": str(home / "config"), "TMPDIR": str(home / "tmp"), "HOME": str(home),
            "XDG_RUNTIME_DIR": str(home / "runtime"),
            "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "AT_SPI_BUS_ADDRESS": bus_address,
            # No sound device: Lookaloud's own voice cannot play, so (as for a user whose sound is
            # broken) everything it says reaches the screen reader as AT-SPI announcements.
            "LOOKALOUD_AUDIO_PLAYER": "aplay -q -D no_such_device", **(env or {})}


def saved_settings(home: Path) -> dict[str, Any]:
    return json.loads((home / "config" / "lookaloud" / "settings.json").read_text(encoding="utf-8"))


def stop_app(proc: subprocess.Popen) -> None:
    stop_process(proc, timeout=15)


def keys(*combos: str) -> None:
    """Press keys with xdotool in the focused window, e.g. keys("ctrl+o"), keys("Tab")."""
    subprocess.run(["xdotool", "key", "--delay", "60", *combos], check=True, timeout=30)


def type_text(text: str) -> None:
    subprocess.run(["xdotool", "type", "--delay", "20", text], check=True, timeout=60)


def have_tools() -> bool:
    return all(shutil.which(t) for t in ("xdotool", "dbus-daemon")) and Path(ATSPI_PYTHON).exists()


if __name__ == "__main__":
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="lookaloud-a11y-"))
    bus, address = start_accessibility_bus(home)
    print(f"Accessibility bus: AT_SPI_BUS_ADDRESS={address}")
    proc = launch_app(home, address, {"model": sys.argv[1] if len(sys.argv) > 1 else "", "earcons": False})
    print(f"Lookaloud runs as process {proc.pid}; its log is {home / 'app.log'}. Ctrl+C stops it.")
    try:
        proc.wait()
    except KeyboardInterrupt:
        stop_app(proc)
    bus.terminate()
