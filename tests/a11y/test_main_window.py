"""The main window as a screen reader meets it, read from outside the app's process over AT-SPI
and driven by real key presses (xdotool): names and roles, tab order, the tree report, and the
status line. Marked `a11y`; about a minute with the app start."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.a11y import launcher
from tests.a11y.conftest import status_text

pytestmark = pytest.mark.a11y

REPO = Path(__file__).resolve().parents[2]

# Roles a control that takes keyboard focus may have; anything else focusable is suspicious.
CONTROL_ROLES = {"push button", "check box", "combo box", "spin button", "text", "list", "list item",
                 "page tab", "page tab list", "radio button", "slider", "toggle button", "label", "table",
                 "tree", "tree table", "menu item", "password text", "entry", "scroll bar"}


def focusable_controls(nodes: list[dict]) -> list[dict]:
    return [n for n in nodes if n["focusable"] and n["showing"] and n["enabled"] and n["depth"] > 0]


def spoken_name(node: dict) -> str:
    return node["name"].strip() or " ".join(node["labelled_by"]).strip()


def test_every_focusable_object_has_a_name_and_a_fitting_role(running_app, tmp_path):
    nodes = running_app.tree("Lookaloud")
    controls = focusable_controls(nodes)
    assert {"Open picture", "Paste picture", "Description", "Question", "Ask", "Recent pictures"} <= \
        {n["name"] for n in controls}
    assert [n for n in controls if not spoken_name(n)] == []
    assert [(n["name"], n["role"]) for n in controls if n["role"] not in CONTROL_ROLES] == []
    # Each field is tied to its visible label, so the label is read with it.
    fields = {n["name"]: n for n in controls if n["role"] in ("text", "list")}
    assert fields["Question"]["labelled_by"] == ["Question:"]
    assert fields["Description"]["labelled_by"] == ["Description:"]

    report = tmp_path / "accessibility-tree.txt"
    assert running_app.ask("report", path=str(report)).get("lines", 0) > 10
    text = report.read_text()
    assert "[push button] 'Open picture'" in text and "[text] 'Question'" in text
    if os.environ.get("LOOKALOUD_UPDATE_DOCS"):  # refresh the committed copy only when asked
        shutil.copyfile(report, REPO / "docs" / "accessibility-tree.txt")


def test_tab_visits_every_control_in_reading_order_and_comes_back(running_app):
    start = running_app.wait_for_focus("Open picture")
    expected = [spoken_name(n) for n in focusable_controls(running_app.tree("Lookaloud"))]
    visited = [start["name"]]
    for _ in range(len(expected) + 3):
        launcher.keys("Tab")
        now = launcher.wait_until(running_app.focused, 10, "Tab left the window")
        if now["name"] == visited[0]:
            break
        assert now["name"] not in visited, f"Tab went back to {now['name']!r} after {visited}"
        visited.append(now["name"])
    else:
        raise AssertionError(f"Tab never came back to the first control: {visited}")
    assert visited[:7] == ["Open picture", "Paste picture", "Description", "Conversation", "Question", "Ask",
                           "Recent pictures"]
    assert sorted(visited) == sorted(expected)


def test_the_status_line_reads_as_its_message(running_app):
    assert "is ready" in status_text(running_app)
