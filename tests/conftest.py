"""Session-wide test environment: one real Xvfb display with a window manager, isolated
config/cache folders, and no network for the model hub.

Everything a test user would touch (settings, history, model cache) goes to a temporary
folder so that tests never read or write the developer's own files.
"""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

_procs: list[subprocess.Popen] = []
_tmp_root = Path(tempfile.mkdtemp(prefix="lookaloud-tests-"))
_private_tmp = Path(tempfile.mkdtemp(prefix="ll-"))  # the session's TMPDIR (0700, short: see below)


def _start_xvfb() -> str:
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp", "+extension", "RANDR"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        number = f.readline().strip()
    _procs.append(proc)
    return f":{number}"


def _start_accessibility_bus() -> None:
    """A private AT-SPI bus for this test session, found by Qt and by pyatspi through
    AT_SPI_BUS_ADDRESS. The desktop session's own accessibility bus keeps its socket in
    ~/.cache/at-spi/bus, shared by every test run of the same user on the machine."""
    config = Path("/usr/share/defaults/at-spi2/accessibility.conf")
    if not (shutil.which("dbus-daemon") and config.is_file()):
        return
    address = f"unix:path={_tmp_root / 'a11y-bus'}"
    proc = subprocess.Popen(
        ["dbus-daemon", f"--config-file={config}", "--nofork", f"--address={address}", "--print-address=1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "AT_SPI_BUS_ADDRESS": address},
    )
    if proc.stdout is not None and proc.stdout.readline().strip():
        _procs.append(proc)
        os.environ["AT_SPI_BUS_ADDRESS"] = address
    else:
        proc.kill()


def pytest_configure(config: pytest.Config) -> None:
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "HF_HOME"):
        path = _tmp_root / name.lower()
        path.mkdir(parents=True, exist_ok=True)
        os.environ[name] = str(path)
    os.environ["XDG_RUNTIME_DIR"] = str(_tmp_root / "runtime")
    (_tmp_root / "runtime").mkdir(mode=0o700, exist_ok=True)
    # Lookaloud removes its own leftover sound folders from $TMPDIR at start: a private one
    # keeps a test run from touching another run's (or the user's) folders.
    # Short, so that sockets under tmp_path stay within the 107 bytes a Unix socket path may have.
    os.environ["TMPDIR"] = str(_private_tmp)
    if not config.option.basetemp:
        # tmp_path folders right under it: under pytest-of-USER/pytest-N they made the sockets
        # of the single-instance tests longer than a Unix socket path may be.
        config.option.basetemp = str(_private_tmp / "p")
    # No test reaches the machine's own speech-dispatcher (libspeechd would start one that
    # outlives the run); the real-Orca tests start their own and point at it.
    os.environ["SPEECHD_ADDRESS"] = f"unix_socket:{_tmp_root / 'no-speechd.sock'}"
    tempfile.tempdir = None  # recomputed from TMPDIR on next use
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _start_accessibility_bus()
    if shutil.which("Xvfb") and not os.environ.get("LOOKALOUD_TEST_KEEP_DISPLAY"):
        display = _start_xvfb()
        os.environ["DISPLAY"] = display
        os.environ.pop("WAYLAND_DISPLAY", None)
        os.environ["QT_QPA_PLATFORM"] = "xcb"
        os.environ["QT_LINUX_ACCESSIBILITY_ALWAYS_ON"] = "1"
        if shutil.which("openbox"):
            wm = subprocess.Popen(
                ["openbox", "--sm-disable"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            _procs.append(wm)
            time.sleep(0.5)
    else:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pytest_unconfigure(config: pytest.Config) -> None:
    for proc in reversed(_procs):
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
    shutil.rmtree(_tmp_root, ignore_errors=True)
    shutil.rmtree(_private_tmp, ignore_errors=True)


@pytest.fixture(autouse=True)
def _collect_garbage_on_the_main_thread() -> Iterator[None]:
    """As the app does (desktop_app/gc_guard.py): no automatic collection, which could delete a
    test's Qt objects on a speech or inference thread and leave their timers to crash a later
    processEvents; instead the young generations after every test, here on the main thread,
    and a full collection every 20 tests."""
    gc.disable()
    yield
    global _tests_since_full_collection
    _tests_since_full_collection += 1
    if _tests_since_full_collection >= 20:
        _tests_since_full_collection = 0
        gc.collect()
    else:
        gc.collect(1)


_tests_since_full_collection = 0


@pytest.fixture(scope="session")
def test_root() -> Path:
    """The temporary folder that stands for the user's home during the test session."""
    return _tmp_root


# The slow tier: modules whose tests start Lookaloud or another program, load a model (tiny
# BLIP-2s, the demo model, Whisper), speak and transcribe, or build an installer. Everything
# else is the fast tier (`bash packaging/test.sh -m "not slow"`, under a minute), which checks
# the logic those tests build on. A module is listed here, in one place, rather than marked in
# each file, so that the tiers can be read at a glance.
SLOW_MODULES = {
    # the running app, its windows and dialogs
    "tests/a11y/test_keyboard_scenarios.py", "tests/a11y/test_main_window.py", "tests/a11y/test_real_orca.py",
    "tests/app/test_app.py", "tests/app/test_setup_dialog.py", "tests/app/test_settings_dialog.py",
    "tests/app/test_apply_settings.py", "tests/app/test_hotkey_failures.py", "tests/app/test_ask_aloud.py",
    "tests/app/test_describe_options.py", "tests/app/test_bad_drops.py", "tests/app/test_large_text.py",
    "tests/app/test_settings_errors.py", "tests/app/test_model_load_failure.py", "tests/app/test_single_instance.py",
    "tests/app/test_window_defects.py", "tests/app/test_app_speech.py", "tests/a11y/test_orca_dialogs.py",
    "tests/capture/test_region_overlay.py", "tests/hotkeys/test_hotkeys_x11.py",
    # speech: voices, Whisper, real players, the real Orca
    "tests/speech/test_listen_worker.py", "tests/speech/test_stt.py", "tests/speech/test_no_leftovers.py",
    "tests/speech/test_screenreader.py", "tests/speech/test_output.py", "tests/speech/test_own_voice.py",
    "tests/speech/test_listener.py", "tests/speech/test_microphone.py", "tests/speech/test_vad.py",
    "tests/speech/test_whisper_packages.py", "tests/speech/test_voice_commands.py", "tests/speech/test_bad_audio.py",
    # models and the commands that load them
    "tests/vision/test_download.py", "tests/vision/test_describe_cli.py", "tests/vision/test_hostile_models.py",
    "tests/vision/test_describe_cli_description.py", "tests/vision/test_shapes_demo.py",
    "tests/vision/test_models_cli.py", "tests/vision/test_offline.py", "tests/vision/test_describer.py",
    "tests/vision/test_bad_pictures.py", "tests/vision/test_session.py", "tests/vision/test_hostile_hub.py",
    "tests/ocr/test_window_text.py", "tests/ocr/test_read_text_command.py", "tests/ocr/test_engines.py",
    # alt text: the real exiftool many times, and the demo model
    "tests/alttext/test_writing.py", "tests/alttext/test_alt_text_cli.py",
    # picture search: tiny retrieval models, the index commands, the Find picture dialog
    "tests/retrieval/test_engine.py", "tests/retrieval/test_shared_vision.py",
    "tests/retrieval/test_index_search_cli.py", "tests/retrieval/test_find_dialog.py",
    "tests/retrieval/test_default_model.py", "tests/retrieval/test_app_find.py", "tests/retrieval/test_forget_setting.py",
    # streamed captions and quantized models: tiny models and the demo model run; the app starts
    "tests/vision/test_quantize.py", "tests/vision/test_session_stream.py", "tests/vision/test_describer_stream.py",
    "tests/app/test_first_words.py", "tests/speech/test_listening.py",
    # building things
    "tests/test_packaging.py", "tests/test_installers.py",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(str(config.rootpath))
    for item in items:
        try:
            module = Path(str(item.path)).relative_to(root).as_posix()
        except ValueError:
            continue
        if module in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
