"""Wayland: the xdg-desktop-portal Screenshot call, and the request/response exchange that
every portal call shares (hotkeys.wayland_portal uses PortalConnection too).

A portal method returns at once with a Request object path; the answer arrives later as that
Request's `Response(u code, a{sv} results)` signal. We subscribe before calling, to the path
the portal will use (derived from our bus name and a handle_token), so no answer is missed.
Speaks D-Bus with jeepney (pure Python). Blocking: call off the GUI thread where a wait for
the user's permission dialog would freeze it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlparse

from PIL import Image

from desktop_app.capture.screen import CaptureError

PORTAL_NAME = "org.freedesktop.portal.Desktop"
PORTAL_PATH = "/org/freedesktop/portal/desktop"
REQUEST_INTERFACE = "org.freedesktop.portal.Request"
SCREENSHOT_INTERFACE = "org.freedesktop.portal.Screenshot"

RESPONSE_SUCCESS, RESPONSE_CANCELLED, RESPONSE_OTHER = 0, 1, 2
NO_PORTAL = "Lookaloud cannot take screenshots on this desktop, because the desktop portal is missing."


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


def screenshot(timeout: float = 60.0) -> Image.Image:
    """The whole desktop through the portal, in RGB real pixels. Blocks until the portal
    answers (the first time, the desktop may ask the user for permission)."""
    try:
        portal = PortalConnection()
    except PortalError as exc:
        raise CaptureError(NO_PORTAL) from exc
    try:
        results = portal.request(
            SCREENSHOT_INTERFACE,
            "Screenshot",
            "sa{sv}",
            lambda token: ("", {"handle_token": ("s", token), "interactive": ("b", False)}),
            timeout=timeout,
        )
    except PortalError as exc:
        if exc.missing:
            raise CaptureError(NO_PORTAL) from exc
        if exc.code == RESPONSE_CANCELLED:
            raise CaptureError("The screenshot was cancelled or not allowed.") from exc
        raise CaptureError("The desktop did not let Lookaloud take a screenshot.") from exc
    finally:
        portal.close()
    uri = str(results.get("uri", ""))
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        raise CaptureError("The desktop returned a screenshot Lookaloud cannot open.")
    path = unquote(parsed.path)
    try:
        with Image.open(path) as picture:
            image = picture.convert("RGB")
    except OSError as exc:
        raise CaptureError("The desktop returned a screenshot Lookaloud cannot open.") from exc
    # The portal saved the file only because we asked; do not leave it in the user's pictures.
    try:
        os.remove(path)
    except OSError:
        pass
    return image
