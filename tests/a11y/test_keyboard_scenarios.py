"""Keyboard-only scenarios on the real app in its own process: keys pressed with xdotool (XTEST,
as a keyboard does), results heard the way a screen reader user hears them: announcement events
and the focused objects on the AT-SPI bus. The tests in this module run in order on one app;
the last one quits it. Marked `a11y`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.a11y import launcher
from tests.a11y.conftest import app_settings, status_text

pytestmark = pytest.mark.a11y

REPO = Path(__file__).resolve().parents[2]


def test_open_a_picture_with_ctrl_o_and_hear_its_description(running_app, tmp_path):
    picture = tmp_path / "red-square.png"
    Image.new("RGB", (64, 48), (220, 30, 30)).save(picture)
    running_app.wait_for_focus("Open picture")
    heard_before = len(running_app.announcements)
    launcher.keys("ctrl+o")
    running_app.wait_for_window("Open a picture")
    launcher.keys("alt+n")  # Qt's file dialog: "File name:"
    launcher.type_text(str(picture))
    launcher.keys("Return")
    # The description arrives as an announcement, then focus waits in the question box.
    launcher.wait_until(lambda: not running_app.has_window("Open a picture"), 20, "the file dialog stayed open")
    focus = running_app.wait_for_focus("Question", timeout=60)
    described = launcher.wait_until(
        lambda: next((d for n in running_app.tree("Lookaloud") if n["name"] == "Description"
                      and (d := n["text"]) and "Looking" not in d), None), 60, "no description appeared")
    # The announcement can reach the agent a moment after the text (another event may go first).
    launcher.wait_until(lambda: described in running_app.announcements[heard_before:], 10,
                        "the description was not announced", on_fail=lambda: str(running_app.announcements))
    assert status_text(running_app) == described
    assert focus["role"] == "text"
    history = [n["name"] for n in running_app.tree("Lookaloud") if n["role"] == "list item"]
    assert any(name.startswith("red-square.png: ") for name in history)
    # docs/window.png: the window with a described picture, as it looks on screen (refreshed only
    # when asked, so a test run leaves the checkout as it found it).
    if os.environ.get("LOOKALOUD_UPDATE_DOCS"):
        subprocess.run(["import", "-window", "root", str(REPO / "docs" / "window.png")], check=True, timeout=60)


def test_ask_a_typed_question_and_hear_the_answer(running_app):
    running_app.wait_for_focus("Question")
    heard_before = len(running_app.announcements)
    launcher.type_text("what colour ?")
    launcher.keys("Return")
    item = launcher.wait_until(
        lambda: next((n["name"] for n in running_app.tree("Lookaloud") if n["role"] == "list item"
                      and n["name"].startswith("Q: what colour ?")), None), 60, "no answer appeared")
    answer = item.split("A: ", 1)[1]
    launcher.wait_until(lambda: answer in running_app.announcements[heard_before:], 10, "the answer was not announced")
    assert running_app.node("Lookaloud", "Question")["text"] == ""


def test_change_the_voice_in_settings_from_the_keyboard(running_app, app_home):
    launcher.keys("ctrl+comma")
    running_app.wait_for_window("Lookaloud settings")
    dialog = running_app.tree(running_app.window_title("Lookaloud settings"))
    unnamed = [n for n in dialog if n["focusable"] and n["showing"] and not (n["name"] or n["labelled_by"])]
    assert unnamed == []
    launcher.wait_until(lambda: (running_app.focused() or {}).get("window", "").startswith("Lookaloud settings"),
                        20, "the settings dialog did not take the focus")
    launcher.keys("ctrl+Tab", "ctrl+Tab")  # Model, Hotkeys, then Speech

    def voice_combo() -> dict | None:  # a combo box is named by its value, labelled by "Voice:"
        return next((n for n in running_app.tree("Lookaloud settings") if n["role"] == "combo box"
                     and n["labelled_by"] == ["Voice:"] and n["showing"]), None)

    launcher.wait_until(voice_combo, 10, "the Speech tab did not open")
    launcher.keys("alt+v")
    assert running_app.wait_for_focus("Default voice")["labelled_by"] == ["Voice:"]
    launcher.keys("Down")
    chosen = launcher.wait_until(lambda: (f := running_app.focused()) and f["name"] != "Default voice" and f["name"],
                                 10, "the voice did not change")
    launcher.keys("Return")  # OK is the default button
    launcher.wait_until(lambda: not running_app.has_window("Lookaloud settings"), 20, "settings stayed open")
    launcher.wait_until(lambda: launcher.saved_settings(app_home)["voice"] != "", 10, "the voice was not saved")
    assert chosen
    # Focus comes back to the main window where it was.
    assert running_app.wait_for_focus("Question")["window"] == "Lookaloud"


def test_escape_closes_the_settings_dialog_and_returns_focus(running_app):
    launcher.keys("ctrl+comma")
    running_app.wait_for_window("Lookaloud settings")
    launcher.keys("Escape")
    launcher.wait_until(lambda: not running_app.has_window("Lookaloud settings"), 20, "Escape did not close it")
    running_app.wait_for_focus("Question")


def test_quit_with_ctrl_q(running_app):
    proc = running_app.proc_app
    launcher.keys("ctrl+q")
    launcher.wait_until(lambda: proc.poll() is not None, 30, "Ctrl+Q did not quit Lookaloud")
    assert proc.returncode == 0


def test_set_up_a_model_from_a_folder(a11y_bus, agent, tmp_path, tiny_model):
    """First run without a model: the setup dialog opens; Use a folder, type it, Enter."""
    proc = launcher.launch_app(tmp_path, a11y_bus, app_settings(""))
    try:
        launcher.wait_until(lambda: agent.has_window("Set up Lookaloud") or proc.poll() is not None, 60,
                            "the setup dialog did not open")
        dialog = agent.tree(agent.window_title("Set up Lookaloud"))
        assert [n for n in dialog if n["focusable"] and n["showing"] and not (n["name"] or n["labelled_by"])] == []
        launcher.keys("alt+u")
        launcher.wait_until(lambda: len(agent.windows()) > 2, 20, "no folder chooser opened")
        launcher.wait_until(lambda: (agent.focused() or {}).get("role") == "text", 10,
                            "the folder chooser's name field has no focus", on_fail=lambda: str(agent.focused()))
        launcher.type_text(str(tiny_model))
        launcher.keys("Return")
        launcher.wait_until(lambda: not agent.has_window("Set up Lookaloud"), 30, "setup stayed open",
                            on_fail=lambda: f"windows: {agent.windows()}")
        assert proc.poll() is None, "Lookaloud ended when setup closed: " + (tmp_path / "app.log").read_text()[-3000:]
        launcher.wait_until(lambda: json.loads((tmp_path / "config/lookaloud/settings.json").read_text())["model"]
                            == str(Path(tiny_model)), 10, "the folder was not saved as the model")
        launcher.wait_until(lambda: "is ready" in status_text(agent), 120, "the model from the folder did not load",
                            on_fail=lambda: f"exit code: {proc.poll()}, status: {status_text(agent)!r}, "
                            f"windows: {agent.windows()}, "
                            f"agent error: {agent.last_error!r}, log: {(tmp_path / 'app.log').read_text()[-2000:]}")
    finally:
        launcher.stop_app(proc)
