"""A screen reader's view of Lookaloud, from outside its process: run by Debian's /usr/bin/python3
(python3-pyatspi, gir1.2-atspi-2.0), never by the project's venv.

It registers for `object:announcement` before anything else (Qt only sends announcements to
listeners that exist, as Orca does when it runs before Lookaloud), prints `{"ready": true}`,
then answers one JSON command per stdin line with one JSON line on stdout, while announcement
events arrive as `{"announcement": text}` lines in between. Commands:

  {"cmd": "windows", "app": NAME}            names of the app's top-level windows
  {"cmd": "tree", "app": NAME, "window": W}   every object of window W (or all): role, name, ...
  {"cmd": "focused", "app": NAME}             the object that has keyboard focus, or null
  {"cmd": "report", "app": NAME, "path": P}   write an indented text report of the whole tree
"""

import json
import sys

import pyatspi
from gi.repository import Atspi, GLib

MAX_DEPTH = 40


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def children(node):
    """The node's children that still answer: a window or widget Qt is deleting while we walk
    (a dialog that just closed) raises over D-Bus; it is gone for the user too, so it is skipped."""
    found = []
    try:
        count = node.childCount
    except Exception:  # noqa: BLE001 - the node itself is gone
        return found
    for i in range(count):
        try:
            child = node.getChildAtIndex(i)
            if child is not None:
                child.name  # noqa: B018 - raises if the object is gone
                found.append(child)
        except Exception:  # noqa: BLE001, S112 - see above
            continue
    return found


def find_app(name):
    """The newest application of that name that still answers (one that just quit may linger
    in the registry's list for a moment)."""
    found = None
    for app in children(pyatspi.Registry.getDesktop(0)):
        if app.name == name:
            found = app
    return found


def windows(app):
    return children(app)


def labelled_by(node):
    for rel in node.getRelationSet():
        if rel.getRelationType() == pyatspi.RELATION_LABELLED_BY:
            return [rel.getTarget(i).name for i in range(rel.getNTargets())]
    return []


def text_of(node):
    try:
        text = node.queryText()
    except NotImplementedError:
        return None
    return text.getText(0, text.characterCount)


def describe(node, depth, window):
    state = node.getState()
    return {
        "depth": depth,
        "window": window,
        "role": node.getRoleName(),
        "name": node.name or "",
        "description": node.description or "",
        "labelled_by": labelled_by(node),
        "text": text_of(node),
        "focusable": state.contains(pyatspi.STATE_FOCUSABLE),
        "focused": state.contains(pyatspi.STATE_FOCUSED),
        "showing": state.contains(pyatspi.STATE_SHOWING),
        "enabled": state.contains(pyatspi.STATE_ENABLED),
    }


def walk(node, nodes, window, depth=0):
    if node is None or depth > MAX_DEPTH:
        return
    try:
        nodes.append(describe(node, depth, window))
    except Exception:  # noqa: BLE001 - deleted while we walked: not there for the user either
        return
    for child in children(node):
        walk(child, nodes, window, depth + 1)


def tree(app, window=None):
    nodes = []
    for win in windows(app):
        if window is None or win.name == window:
            walk(win, nodes, win.name)
    return nodes


def focused(app):
    def search(node, depth, window):
        if node is None or depth > MAX_DEPTH:
            return None
        try:
            state = node.getState()
        except Exception:  # noqa: BLE001 - deleted while we searched
            return None
        if state.contains(pyatspi.STATE_FOCUSED) and node.getRole() not in (pyatspi.ROLE_FRAME,
                                                                             pyatspi.ROLE_DIALOG):
            # Qt marks a list's current item focused even while the list itself is not.
            parent = node.parent
            if node.getRole() != pyatspi.ROLE_LIST_ITEM or (
                    parent is not None and parent.getState().contains(pyatspi.STATE_FOCUSED)):
                return describe(node, depth, window)
        if not state.contains(pyatspi.STATE_SHOWING) and depth > 0:
            return None
        for child in children(node):
            found = search(child, depth + 1, window)
            if found:
                return found
        return None

    for win in windows(app):
        try:
            active = win.getState().contains(pyatspi.STATE_ACTIVE)
        except Exception:  # noqa: BLE001, S112 - deleted while we searched
            continue
        if active:
            return search(win, 0, win.name)
    return None


def report_lines(nodes):
    lines = []
    for n in nodes:
        flags = [f for f in ("focusable", "focused", "showing") if n[f]] + ([] if n["enabled"] else ["disabled"])
        line = f"{'  ' * n['depth']}[{n['role']}] {n['name']!r}"
        if n["description"]:
            line += f" description={n['description']!r}"
        if n["labelled_by"]:
            line += f" labelled-by={n['labelled_by']!r}"
        if n["text"] and n["text"] != n["name"]:
            line += f" text={n['text'][:120]!r}"
        lines.append(line + (f" ({', '.join(flags)})" if flags else ""))
    return lines


def handle(request):
    app = find_app(request["app"])
    if app is None:
        return {"error": f"no application called {request['app']} on the accessibility bus"}
    # libatspi caches names and states and only refreshes them from change events this agent
    # does not subscribe to (a screen reader does); ask the app afresh every time instead.
    app.set_cache_mask(Atspi.Cache.NONE)
    app.clear_cache()
    cmd = request["cmd"]
    if cmd == "windows":
        return {"windows": [w.name for w in windows(app)]}
    if cmd == "tree":
        return {"nodes": tree(app, request.get("window"))}
    if cmd == "focused":
        return {"focused": focused(app)}
    if cmd == "report":
        lines = [f"Application {app.name!r}: {app.childCount} top-level window(s)"]
        lines += report_lines(tree(app))
        with open(request["path"], "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        return {"lines": len(lines)}
    return {"error": f"unknown command {cmd}"}


def on_stdin(channel, condition):
    line = sys.stdin.readline()
    if not line:
        pyatspi.Registry.stop()
        return False
    try:
        out({"reply": handle(json.loads(line))})
    except Exception as exc:  # noqa: BLE001 - a window closing mid-walk must not end the agent
        out({"reply": {"error": f"{type(exc).__name__}: {exc}"}})
    return True


def on_announcement(event):
    out({"announcement": str(event.any_data)})


pyatspi.Registry.registerEventListener(on_announcement, "object:announcement")
GLib.io_add_watch(GLib.IOChannel.unix_new(sys.stdin.fileno()), GLib.IO_IN | GLib.IO_HUP, on_stdin)
GLib.timeout_add(200, lambda: out({"ready": True}) and False)
pyatspi.Registry.start()
