"""Real `lookaloud` processes for the single-instance and start-up tests: each with its own
settings, runtime folder and temporary folder, started as a user would start it, and asked to
do things with `lookaloud trigger`.

The lightest start: a model folder that does not exist, so nothing is loaded (the app says so
and waits), no window (`--no-window`), and no sound device.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from testkit.processes import stop_process

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534


class Home:
    """One user's folders for a test: config, runtime (0700), temporary folder."""

    def __init__(self, root: Path, runtime: Path | None = None) -> None:
        self.root = root
        self.config = root / "config"
        self.runtime = runtime or root / "runtime"
        self.tmp = root / "tmp"
        for folder in (self.config / "lookaloud", self.tmp):
            folder.mkdir(parents=True, exist_ok=True)
        if runtime is None:
            self.runtime.mkdir(mode=0o700, exist_ok=True)
        self.write_settings({"model": str(root / "no-model-here"), "earcons": False})

    def write_settings(self, settings: dict[str, Any]) -> None:
        (self.config / "lookaloud" / "settings.json").write_text(json.dumps(settings), encoding="utf-8")

    def env(self, **changes: str) -> dict[str, str]:
        env = {**os.environ, "XDG_CONFIG_HOME": str(self.config), "XDG_RUNTIME_DIR": str(self.runtime),
               "XDG_CACHE_HOME": str(self.root / "cache"), "TMPDIR": str(self.tmp), "HOME": str(self.root),
               "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
               "LOOKALOUD_AUDIO_PLAYER": "aplay -q -D no_such_device"}
        env.update(changes)
        return env


def start(home: Home, name: str = "app", **env: str) -> subprocess.Popen:
    """`lookaloud --no-window`; its output goes to home/NAME.log."""
    log = open(home.root / f"{name}.log", "w")  # noqa: SIM115 - the process owns it until it exits
    return subprocess.Popen([sys.executable, "-m", "desktop_app", "--no-window"], cwd=str(home.root),
                            env=home.env(**env), stdout=log, stderr=subprocess.STDOUT)


def log(home: Home, name: str = "app") -> str:
    return (home.root / f"{name}.log").read_text(encoding="utf-8", errors="replace")


def trigger(home: Home, action: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "desktop_app", "trigger", action], env=home.env(**env),
                          capture_output=True, text=True, timeout=60, check=False)


def wait_until(condition: Callable[[], Any], timeout: float, message: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.3)
    return value


def wait_until_answering(home: Home, proc: subprocess.Popen, name: str = "app") -> None:
    """Until the app answers `lookaloud trigger show`; fails at once if the app exits."""
    def answering() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"Lookaloud exited ({proc.returncode}): {log(home, name)}")
        return trigger(home, "show").returncode == 0

    wait_until(answering, 90, "Lookaloud never answered lookaloud trigger show")


def stop(proc: subprocess.Popen) -> None:
    stop_process(proc, timeout=15)


SQUATTER = r"""
import os, socket, sys
path, heard = sys.argv[1], sys.argv[2]
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
os.chmod(path, 0o777)
server.listen(8)
print("listening", flush=True)
while True:
    conn, _ = server.accept()
    line = conn.makefile("rb").readline()
    with open(heard, "ab") as f:
        f.write(line)
    conn.sendall(b"ok\n")
    conn.close()
"""


class Squatter:
    """Another user's program listening on a local socket, answering "ok" to everything and
    writing down what it receives. Runs as `nobody` (setpriv), so it is really another uid."""

    def __init__(self, path: Path, folder: Path) -> None:
        self.path = path
        self.heard_file = folder / f"squatter-heard-{os.getpid()}-{time.monotonic_ns()}"
        self.heard_file.touch()
        os.chown(self.heard_file, NOBODY, NOBODY)
        self.proc = subprocess.Popen(
            ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
             sys.executable, "-I", "-c", SQUATTER, str(path), str(self.heard_file)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "listening":
            self.proc.kill()
            raise AssertionError(f"the squatter did not start: {self.proc.stderr.read() if self.proc.stderr else ''}")

    @property
    def heard(self) -> bytes:
        return self.heard_file.read_bytes()

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
