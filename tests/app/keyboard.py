"""Keyboard-only checks shared by the dialog tests: showing a dialog active, which widgets take
focus, and the order Tab visits them in."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget


def show_active(qtbot, window: QWidget) -> None:
    """Show a window and wait until it is the active one, as a user who just opened it finds it."""
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)


def focusable_widgets(root: QWidget) -> list[QWidget]:
    """Visible, enabled widgets that Tab can reach."""
    return [w for w in root.findChildren(QWidget)
            if w.isVisibleTo(root) and w.isEnabled() and w.focusPolicy() & Qt.FocusPolicy.TabFocus
            and w.focusProxy() is None]


def focus_chain(qtbot, root: QWidget, limit: int = 200) -> list[QWidget]:
    """Press Tab from the focused widget until focus comes back; the widgets in order."""
    first = QApplication.focusWidget()
    assert first is not None, "nothing has keyboard focus"
    visited = [first]
    for _ in range(limit):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        current = QApplication.focusWidget()
        if current is first:
            return visited
        assert current is not None and current not in visited, "Tab went somewhere unexpected"
        visited.append(current)
    raise AssertionError("Tab never came back to where it started")


# A screen reader's view: run by Debian's python3 (pyatspi), which reads the window named in
# argv[1] from the accessibility bus while the test's event loop answers.
_ATSPI_DUMP = r'''
import json, sys
import pyatspi

def labels(node):
    for rel in node.getRelationSet():
        if rel.getRelationType() == pyatspi.RELATION_LABELLED_BY:
            return [rel.getTarget(i).name for i in range(rel.getNTargets())]
    return []

def walk(node, out, depth=0):
    if node is None or depth > 40:
        return
    state = node.getState()
    out.append({"role": node.getRoleName(), "name": node.name, "labelled_by": labels(node),
                "focusable": state.contains(pyatspi.STATE_FOCUSABLE),
                "showing": state.contains(pyatspi.STATE_SHOWING)})
    for i in range(node.childCount):
        walk(node.getChildAtIndex(i), out, depth + 1)

out = []
for app in pyatspi.Registry.getDesktop(0):
    try:
        windows = [app.getChildAtIndex(i) for i in range(app.childCount)] if app is not None else []
        windows = [w for w in windows if w is not None and w.name == sys.argv[1]]
    except Exception:  # an application or window that went away while we asked (another test's)
        continue
    for window in windows:
        walk(window, out)
print(json.dumps(out))
'''

ATSPI_PYTHON = "/usr/bin/python3"


def atspi_nodes(qtbot, window_title: str, tries: int = 10) -> list[dict]:
    """The accessible objects of a shown window as AT-SPI reports them (role, name,
    labelled_by, focusable, showing). The Qt event loop keeps running meanwhile, because the
    bus asks this process for every answer. The first query may start the accessibility bus,
    which Qt joins a moment later: hence the tries."""
    error = ""
    for _ in range(tries):
        nodes, error = _atspi_dump(qtbot, window_title)
        if nodes:
            return nodes
        qtbot.wait(500)
    raise AssertionError(f"The window {window_title!r} was not found on the accessibility bus. {error}")


def _atspi_dump(qtbot, window_title: str) -> tuple[list[dict], str]:
    import json
    import subprocess

    proc = subprocess.Popen([ATSPI_PYTHON, "-c", _ATSPI_DUMP, window_title], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=60_000)
        out, err = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return (json.loads(out), "") if proc.returncode == 0 else ([], err[-2000:])


CONTROL_ROLES = {"push button", "check box", "combo box", "spin button", "text", "list", "page tab",
                 "radio button", "slider", "toggle button"}


def unnamed_controls(nodes: list[dict]) -> list[dict]:
    """Showing, focusable controls a screen reader would announce without a name."""
    return [n for n in nodes if n["showing"] and n["focusable"] and n["role"] in CONTROL_ROLES
            and not n["name"].strip() and not any(label.strip() for label in n["labelled_by"])]
