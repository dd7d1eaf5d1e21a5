"""One Lookaloud per user and session, and nobody else can stand in for it: real `lookaloud`
processes started at the same moment, a real program of another user (`nobody`, through
setpriv) listening where Lookaloud used to listen or in folders others can reach, and a
stale socket after a crash. `lookaloud trigger` always reaches the right instance and never the
other user's program."""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app import instances
from tests.app.instances import NOBODY, Home, Squatter

pytestmark = pytest.mark.skipif(os.name != "posix", reason="Unix sockets and uids")
needs_other_user = pytest.mark.skipif(not (os.geteuid() == 0 and shutil.which("setpriv")),
                                      reason="starting a program as another user needs root and setpriv")


@pytest.fixture
def root() -> Iterator[Path]:
    """A folder another user can pass through: in the system's temporary folder, since tmp_path's
    parents, and the test session's private TMPDIR, are closed to other users."""
    path = Path(tempfile.mkdtemp(prefix="lookaloud-instance-", dir="/tmp"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def procs() -> Iterator[list]:
    started: list = []
    yield started
    for proc in started:
        if isinstance(proc, Squatter):
            proc.stop()
        else:
            instances.stop(proc)


def _quit(home: Home, proc: subprocess.Popen) -> None:
    """`lookaloud trigger quit` reaches this app, and it ends."""
    result = instances.trigger(home, "quit")
    assert result.returncode == 0, result.stderr
    proc.wait(timeout=60)


def test_instances_started_at_the_same_moment_leave_exactly_one_running(root, procs) -> None:
    home = Home(root / "home")
    started = [instances.start(home, f"app{i}") for i in range(3)]
    procs.extend(started)
    instances.wait_until(lambda: sum(p.poll() is not None for p in started) >= 2, 120,
                         "two of the three did not step aside")
    running = [p for p in started if p.poll() is None]
    assert len(running) == 1
    for i, proc in enumerate(started):
        if proc is not running[0]:
            assert proc.returncode == 0
            assert "Lookaloud is already running" in instances.log(home, f"app{i}")
    instances.wait_until_answering(home, running[0], f"app{started.index(running[0])}")
    _quit(home, running[0])
    assert instances.trigger(home, "show").returncode == 1  # nobody else took over


@needs_other_user
def test_another_users_program_at_the_old_temporary_name_gets_nothing(root, procs) -> None:
    home = Home(root / "home")
    home.tmp.chmod(0o1777)  # like /tmp: everyone may make files there
    squatter = Squatter(home.tmp / f"lookaloud-{getpass.getuser()}", root)
    procs.append(squatter)
    app = instances.start(home)
    procs.append(app)
    instances.wait_until_answering(home, app)
    _quit(home, app)
    assert squatter.heard == b""


def _runtime_others_can_write(root: Path) -> tuple[Path, Path]:
    runtime = root / "shared-runtime"
    runtime.mkdir()
    runtime.chmod(0o777)  # no sticky bit: anyone may replace what is in it
    folder = runtime / "lookaloud"
    folder.mkdir()
    os.chown(folder, NOBODY, NOBODY)
    folder.chmod(0o777)
    return runtime, folder


def _runtime_folder_of_another_user(root: Path) -> tuple[Path, Path]:
    runtime = root / "runtime"
    runtime.mkdir()
    runtime.chmod(0o711)  # for the squatter to bind inside; private again before the app starts
    folder = runtime / "lookaloud"
    folder.mkdir()
    os.chown(folder, NOBODY, NOBODY)
    folder.chmod(0o755)
    return runtime, folder


def _own_folder_with_another_users_socket(root: Path) -> tuple[Path, Path]:
    runtime = root / "runtime"
    runtime.mkdir()
    runtime.chmod(0o711)
    folder = runtime / "lookaloud"
    folder.mkdir()
    folder.chmod(0o777)  # private again (0700) before the app starts; the socket stays the other user's
    return runtime, folder


@needs_other_user
@pytest.mark.parametrize("prepare", [_runtime_others_can_write, _runtime_folder_of_another_user,
                                     _own_folder_with_another_users_socket])
def test_another_users_socket_in_the_runtime_folder_gets_nothing_and_stops_nothing(root, procs, prepare) -> None:
    runtime, folder = prepare(root)
    squatter = Squatter(folder / "instance.sock", root)
    procs.append(squatter)
    if prepare is not _runtime_others_can_write:
        runtime.chmod(0o700)
    if prepare is _own_folder_with_another_users_socket:
        folder.chmod(0o700)
    home = Home(root / "home", runtime=runtime)
    assert instances.trigger(home, "describe-screen").returncode == 1  # nothing of ours is running
    app = instances.start(home)
    procs.append(app)
    instances.wait_until_answering(home, app)
    _quit(home, app)
    assert squatter.heard == b""


@needs_other_user
def test_a_socket_file_of_ours_with_another_user_behind_it_gets_nothing(root, procs) -> None:
    """The socket file was made ours (root can chown), but the program listening on it is not:
    the peer's uid (SO_PEERCRED) gives it away."""
    runtime, folder = _own_folder_with_another_users_socket(root)
    squatter = Squatter(folder / "instance.sock", root)
    procs.append(squatter)
    os.chown(folder / "instance.sock", os.getuid(), os.getgid())
    runtime.chmod(0o700)
    folder.chmod(0o700)
    home = Home(root / "home", runtime=runtime)
    result = instances.trigger(home, "describe-screen")
    assert result.returncode == 1 and "not running" in result.stderr
    assert squatter.heard == b""


def test_each_runtime_folder_has_its_own_lookaloud(root, procs) -> None:
    """Two sessions (two test runs, two logins) with different runtime folders never meet, even
    with the same temporary folder."""
    home = Home(root / "home")
    other = Home(root / "other")
    app = instances.start(home)
    procs.append(app)
    instances.wait_until_answering(home, app)
    result = instances.trigger(other, "quit", TMPDIR=str(home.tmp))
    assert result.returncode == 1 and "not running" in result.stderr
    assert app.poll() is None
    _quit(home, app)


def test_a_socket_left_by_a_crash_does_not_stop_the_next_start(root, procs) -> None:
    home = Home(root / "home")
    crashed = instances.start(home, "crashed")
    procs.append(crashed)
    instances.wait_until_answering(home, crashed, "crashed")
    crashed.send_signal(signal.SIGKILL)
    crashed.wait(timeout=30)
    assert any(p.is_socket() for p in home.root.rglob("*")), "the crash left no socket behind"
    assert instances.trigger(home, "show").returncode == 1
    app = instances.start(home)
    procs.append(app)
    instances.wait_until_answering(home, app)
    _quit(home, app)


def test_the_runtime_folder_is_private_and_its_own_for_each_session(tmp_path, monkeypatch) -> None:
    from desktop_app import ipc

    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    for name in ("one", "two"):
        (tmp_path / name).mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "one"))
    first = ipc.runtime_folder()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "two"))
    second = ipc.runtime_folder()
    assert first == tmp_path / "one" / "lookaloud" and second == tmp_path / "two" / "lookaloud"
    for folder in (first, second):
        st = folder.lstat()
        assert st.st_uid == os.getuid() and st.st_mode & 0o777 == 0o700
    # A runtime folder that others can write to is not used; a private one takes its place.
    (tmp_path / "open").mkdir()
    (tmp_path / "open").chmod(0o777)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "open"))
    fallback = ipc.runtime_folder()
    assert fallback.parent == tmp_path / "tmp" and fallback.lstat().st_mode & 0o777 == 0o700
    assert not (tmp_path / "open" / "lookaloud").exists()
