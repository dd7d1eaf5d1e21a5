"""The Settings dialog and quitting, heard through Debian's real Orca 43 (what an Orca user hears):
Orca's own speech from its debug file, and Lookaloud's speech through Speech Dispatcher recorded
from the sound server and transcribed with Lookaloud's own Whisper.

- Opening Settings, Orca says the dialog's title ("Lookaloud settings dialog"), not only the tab.
- Tab from the tab bar goes to the first field, never to a "Scroll Right" button.
- Quitting says "Lookaloud closed." before the app is gone.

Skips, with the reason, only where Orca, speech-dispatcher or PulseAudio are not installed.
Marked `a11y`; about two minutes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.a11y import launcher, orca_session
from tests.a11y.conftest import status_text

pytestmark = [pytest.mark.a11y]

if (why := orca_session.missing()) is not None:  # pragma: no cover - the CI image has them
    pytest.skip(why, allow_module_level=True)

from tests.a11y.test_real_orca import Session  # after the skip: it needs Orca


@pytest.fixture(scope="module")
def orca_app(tmp_path_factory: pytest.TempPathFactory, a11y_bus: str, agent: launcher.Agent) -> Iterator[tuple]:
    """Orca running, then Lookaloud with the demo model speaking through it, ready."""
    root = tmp_path_factory.mktemp("orca-dialogs")
    session = Session(root, a11y_bus)
    home = root / "home"
    home.mkdir()
    settings = {"model": "shapes-demo", "speech_mode": "screen_reader", "earcons": False}
    proc = launcher.launch_app(home, a11y_bus, settings, env=session.env)
    try:
        launcher.wait_until(lambda: "is ready" in status_text(agent) or proc.poll() is not None, 120,
                            "the app never became ready", on_fail=lambda: (home / "app.log").read_text()[-2000:])
        assert proc.poll() is None, (home / "app.log").read_text()
        agent.wait_for_focus("Open picture")
        time.sleep(2)  # Orca has said what it had to say about the window
        yield session, proc, home
    finally:
        launcher.stop_app(proc)
        session.close()


def _orca_says(session: Session, since: int, words: str, timeout: float = 20) -> list[str]:
    return launcher.wait_until(lambda: (said := session.orca.spoken()[since:]) and any(words in s for s in said)
                               and said, timeout, f"Orca never said {words!r}",
                               on_fail=lambda: f"Orca said {session.orca.spoken()[since:]!r}")


def test_opening_settings_orca_says_its_title_and_tab_goes_to_the_first_field(orca_app, agent):
    session, _proc, _home = orca_app
    before = len(session.orca.spoken())
    launcher.keys("ctrl+comma")
    said = _orca_says(session, before, "Lookaloud settings dialog")
    assert any("Model page tab" in s for s in said), said
    agent.wait_for_focus("Settings sections")
    launcher.keys("Tab")
    focus = launcher.wait_until(lambda: (f := agent.focused()) and f["role"] != "page tab list" and f, 20,
                                "Tab did not move the focus")
    assert focus["role"] == "combo box" and focus["labelled_by"] == ["Model:"], focus
    time.sleep(1.5)
    assert not any("Scroll" in s for s in session.orca.spoken()[before:]), session.orca.spoken()[before:]
    launcher.keys("Escape")
    launcher.wait_until(lambda: not agent.has_window("Lookaloud settings"), 20, "Escape did not close Settings")
    agent.wait_for_focus("Open picture")


def test_quitting_says_lookaloud_closed(orca_app, tmp_path):
    """Quit from outside (as the tray menu or a desktop shortcut does): a key press would have
    Orca echo the key ("left control") into the recording."""
    session, proc, home = orca_app
    time.sleep(2)
    session.sound.start_recording(tmp_path / "quit.wav")
    env = {**os.environ, "XDG_RUNTIME_DIR": str(home / "runtime"), "XDG_CONFIG_HOME": str(home / "config"),
           "HOME": str(home), "TMPDIR": str(home / "tmp"), "PYTHONPATH": str(launcher.REPO)}
    subprocess.run([sys.executable, "-m", "desktop_app", "trigger", "quit"], env=env, check=True, timeout=60,
                   capture_output=True)
    launcher.wait_until(lambda: proc.poll() is not None, 30, "lookaloud trigger quit did not quit Lookaloud")
    time.sleep(2)
    heard = orca_session.heard(session.sound.stop_recording())
    assert proc.returncode == 0
    assert "close" in heard, heard  # Whisper tiny.en has heard "closed" as "close"
