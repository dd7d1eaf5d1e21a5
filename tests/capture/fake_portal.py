"""A stand-in for xdg-desktop-portal on the test session bus: it owns the real portal's bus
name and answers Screenshot and GlobalShortcuts calls the way the portal does (method return
with a Request path, then a Response signal on that path; Activated signals for presses).

Only the desktop is faked; the D-Bus messages Lookaloud sends and reads are real. Given
`screen`, it takes a fresh screenshot for every call as the real portal does (a new file,
which the caller may delete), from whatever `screen()` returns: the contract tests hand it the
Xvfb desktop, so the Wayland backend is checked against the same pixels as the X11 one.
"""

from __future__ import annotations

import itertools
import queue
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jeepney import DBusAddress, HeaderFields, MessageType, new_error, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection
from PIL import Image

from desktop_app.platform import PORTAL_NAME, PORTAL_PATH, REQUEST_INTERFACE, request_path

GLOBAL_SHORTCUTS = "org.freedesktop.portal.GlobalShortcuts"


class FakePortal:
    def __init__(
        self,
        screenshot_file: Path | None = None,
        screenshot_code: int = 0,
        bind_code: int = 0,
        refuse: set[str] | None = None,
        with_shortcuts: bool = True,
        screen: Callable[[], Image.Image] | None = None,
    ) -> None:
        self.screenshot_file = screenshot_file
        self.screen = screen
        self._shots = tempfile.TemporaryDirectory(prefix="fake-portal-") if screen else None
        self._shot_numbers = itertools.count(1)
        self.screenshot_code = screenshot_code
        self.bind_code = bind_code
        self.refuse = refuse or set()
        self.with_shortcuts = with_shortcuts
        self.bound: list[tuple[str, dict[str, Any]]] = []
        self.screenshot_options: dict[str, Any] = {}
        self.session: str | None = None
        self._outbox: queue.Queue[Any] = queue.Queue()
        self._stop = threading.Event()
        self._conn = open_dbus_connection(bus="SESSION")
        reply = self._conn.send_and_get_reply(message_bus.RequestName(PORTAL_NAME, 4), timeout=5)  # DO_NOT_QUEUE
        if reply.body[0] != 1:
            raise RuntimeError("another portal owns the name")
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def activate(self, shortcut_id: str) -> None:
        """The user pressed a bound shortcut."""
        address = DBusAddress(PORTAL_PATH, interface=GLOBAL_SHORTCUTS)
        self._outbox.put(new_signal(address, "Activated", "osta{sv}", (self.session, shortcut_id, 1, {})))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3)
        self._conn.send_and_get_reply(message_bus.ReleaseName(PORTAL_NAME), timeout=5)
        self._conn.close()
        if self._shots is not None:
            self._shots.cleanup()

    def _serve(self) -> None:
        while not self._stop.is_set():
            while not self._outbox.empty():
                self._conn.send(self._outbox.get())
            try:
                msg = self._conn.receive(timeout=0.05)
            except TimeoutError:
                continue
            if msg.header.message_type == MessageType.method_call:
                self._answer(msg)

    def _respond(self, call: Any, token: str, code: int, results: dict[str, Any]) -> None:
        sender = call.header.fields[HeaderFields.sender]
        path = request_path(sender, token)
        self._conn.send(new_method_return(call, "o", (path,)))
        self._conn.send(new_signal(DBusAddress(path, interface=REQUEST_INTERFACE), "Response", "ua{sv}", (code, results)))

    def _answer(self, call: Any) -> None:
        fields = call.header.fields
        interface, member = fields.get(HeaderFields.interface), fields[HeaderFields.member]
        body = call.body
        if interface == "org.freedesktop.DBus.Properties" and member == "Get":
            if body[0] == GLOBAL_SHORTCUTS and self.with_shortcuts:
                self._conn.send(new_method_return(call, "v", (("u", 1),)))
            else:
                self._conn.send(new_error(call, "org.freedesktop.DBus.Error.UnknownInterface"))
        elif member == "Screenshot":
            self.screenshot_options = body[1]
            uri = self.screenshot_file.as_uri() if self.screenshot_file else ""
            if self.screen is not None and self._shots is not None:
                path = Path(self._shots.name) / f"Screenshot-{next(self._shot_numbers)}.png"
                self.screen().save(path)
                uri = path.as_uri()
            self._respond(call, body[1]["handle_token"][1], self.screenshot_code, {"uri": ("s", uri)})
        elif member == "CreateSession":
            sender = fields[HeaderFields.sender].lstrip(":").replace(".", "_")
            self.session = f"{PORTAL_PATH}/session/{sender}/{body[0]['session_handle_token'][1]}"
            self._respond(call, body[0]["handle_token"][1], 0, {"session_handle": ("s", self.session)})
        elif member == "BindShortcuts":
            self.bound = list(body[1])
            granted = [
                (sid, {"description": opts["description"], "trigger_description": opts["preferred_trigger"]})
                for sid, opts in body[1]
                if sid not in self.refuse
            ]
            self._respond(call, body[3]["handle_token"][1], self.bind_code, {"shortcuts": ("a(sa{sv})", granted)})
        elif member == "Close":
            self._conn.send(new_method_return(call))
        else:
            self._conn.send(new_error(call, "org.freedesktop.DBus.Error.UnknownMethod"))
