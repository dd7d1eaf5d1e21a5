"""The desktop Lookaloud runs on: whether it is a Wayland session (where applications can
neither read the screen nor grab keys, and must ask the desktop portal), and the
request/response exchange every xdg-desktop-portal call shares. Used by capture's Wayland
backend (Screenshot) and by the Wayland hotkeys (GlobalShortcuts).

A portal method returns at once with a Request object path; the answer arrives later as that
Request's `Response(u code, a{sv} results)` signal. We subscribe before calling, to the path
the portal will use (derived from our bus name and a handle_token), so no answer is missed.
Speaks D-Bus with jeepney (pure Python). Blocking: call off the GUI thread where a wait for
the user's permission dialog would freeze it.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Mapping
from typing import Any

PORTAL_NAME = "org.freedesktop.portal.Desktop"
PORTAL_PATH = "/org/freedesktop/portal/desktop"
REQUEST_INTERFACE = "org.freedesktop.portal.Request"

RESPONSE_SUCCESS, RESPONSE_CANCELLED, RESPONSE_OTHER = 0, 1, 2


def is_wayland_session(environ: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """True in a Wayland session, where only the portal can read the screen or hold shortcuts.

    X11 clients under XWayland would see only other X11 windows (and their key grabs fire only
    while an X11 window has focus), so WAYLAND_DISPLAY wins over DISPLAY."""
    env = os.environ if environ is None else environ
    if (platform or sys.platform) in ("win32", "darwin"):
        return False
    return env.get("XDG_SESSION_TYPE") == "wayland" or bool(env.get("WAYLAND_DISPLAY"))


class PortalError(Exception):
    """A portal call failed; `code` is the Response code when the portal answered."""

    def __init__(self, message: str, code: int | None = None, missing: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.missing = missing  # no portal, or one without this interface


def new_token() -> str:
    return "lookaloud_" + uuid.uuid4().hex


def request_path(unique_name: str, token: str) -> str:
    """The Request object path the portal will use for a call made with `token`."""
    sender = unique_name.lstrip(":").replace(".", "_")
    return f"{PORTAL_PATH}/request/{sender}/{token}"


def unwrap_variants(value: Any) -> Any:
    """jeepney gives variants as (signature, value) pairs; the callers want plain values."""
    if isinstance(value, dict):
        return {k: unwrap_variants(v[1] if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str) else v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_variants(v) for v in value]
    if isinstance(value, tuple):
        return tuple(unwrap_variants(v) for v in value)
    return value


class PortalConnection:
    """One session-bus connection to the desktop portal. Use it from one thread."""

    def __init__(self) -> None:
        from jeepney.io.blocking import open_dbus_connection

        try:
            self.connection = open_dbus_connection(bus="SESSION")
        except Exception as exc:
            raise PortalError("The desktop portal is not reachable.") from exc

    @property
    def unique_name(self) -> str:
        return str(self.connection.unique_name)

    def add_match(self, rule: Any) -> None:
        from jeepney.bus_messages import message_bus

        self.connection.send_and_get_reply(message_bus.AddMatch(rule), timeout=5)

    def request(
        self,
        interface: str,
        method: str,
        signature: str,
        make_body: Callable[[str], tuple[Any, ...]],
        timeout: float = 60.0,
    ) -> dict[str, Any]:
        """Calls `method` with the body `make_body(handle_token)` and waits for its Response.

        Returns the results on success; raises PortalError with the code otherwise."""
        from jeepney import DBusAddress, HeaderFields, MatchRule, MessageType, new_method_call

        token = new_token()
        path = request_path(self.unique_name, token)
        rule = MatchRule(type="signal", interface=REQUEST_INTERFACE, member="Response", path=path)
        with self.connection.filter(rule) as queue:
            self.add_match(rule)
            address = DBusAddress(PORTAL_PATH, bus_name=PORTAL_NAME, interface=interface)
            try:
                reply = self.connection.send_and_get_reply(
                    new_method_call(address, method, signature, make_body(token)), timeout=10
                )
            except TimeoutError as exc:
                raise PortalError("The desktop portal did not answer.") from exc
            if reply.header.message_type == MessageType.error:
                error_name = str(reply.header.fields.get(HeaderFields.error_name, ""))
                missing = error_name.rsplit(".", 1)[-1] in ("ServiceUnknown", "UnknownInterface", "UnknownMethod")
                raise PortalError(f"The desktop portal refused {method}: {error_name}", missing=missing)
            try:
                signal = self.connection.recv_until_filtered(queue, timeout=timeout)
            except TimeoutError as exc:
                raise PortalError("The desktop portal did not answer in time.") from exc
        code, results = signal.body
        if code != RESPONSE_SUCCESS:
            raise PortalError(f"{method} ended with code {code}", code=int(code))
        return unwrap_variants(results)

    def close(self) -> None:
        self.connection.close()
