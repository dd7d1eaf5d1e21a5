"""Fixtures for the speech tests: a real-time sound server with no speakers, a private D-Bus,
and a private $TMPDIR for the whole session.

The machine has no sound card; PulseAudio with a null sink plays in real time, so a player
can be interrupted while audio really plays.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_tmpdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Speech output removes the sound folders that crashed Lookaloud runs left in $TMPDIR at
    its start: in tests, that must never be the machine's shared /tmp, where other test runs
    (of older versions) are speaking at the same time."""
    folder = tmp_path_factory.mktemp("tmpdir")
    before = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(folder)
    tempfile.tempdir = None  # tempfile caches the folder it found first
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = before
        tempfile.tempdir = None


@pytest.fixture(scope="session")
def pulse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address of a private PulseAudio server whose only sink is a null sink."""
    if not shutil.which("pulseaudio") or not shutil.which("paplay"):
        pytest.skip(
            "PulseAudio (Debian pulseaudio, pulseaudio-utils) is not installed, so no real-time sound server."
        )
    runtime = tmp_path_factory.mktemp("pulse")
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(runtime)}
    proc = subprocess.Popen(
        ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
         "--load=module-null-sink sink_name=null", "--load=module-native-protocol-unix", "--log-target=stderr"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    socket = Path(runtime, "pulse", "native")
    deadline = time.monotonic() + 10
    while not socket.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not socket.exists():
        proc.kill()
        pytest.fail("PulseAudio did not start.")
    try:
        yield f"unix:{socket}"
    finally:
        proc.terminate()
        proc.wait(timeout=5)


@pytest.fixture
def private_bus() -> Iterator[str]:
    """The address of a fresh private D-Bus session bus, gone after the test."""
    proc = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    address = proc.stdout.readline().strip()
    try:
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=5)
