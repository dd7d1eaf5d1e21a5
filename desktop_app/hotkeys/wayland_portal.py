"""Wayland global hotkeys through xdg-desktop-portal GlobalShortcuts.

On Wayland no application can grab keys; it asks the portal, which lets the user confirm or
change each shortcut (our combinations go as `preferred_trigger` hints). The exchange:
CreateSession -> Response(session_handle); BindShortcuts(session, shortcuts) ->
Response(shortcuts actually bound); then `Activated(session, shortcut_id, ...)` per press.
A daemon thread owns the D-Bus connection, does the exchange and listens; on_activated and
on_failed are called from that thread. The portal's request/response exchange itself is
desktop_app.platform's, shared with capture's Wayland backend.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from desktop_app.hotkeys.base import (
    ACTION_LABELS,
    Action,
    Combo,
    HotkeyBackend,
    HotkeyUnavailable,
    format_combo,
    keysym_name,
)
from desktop_app.platform import (
    PORTAL_NAME,
    PORTAL_PATH,
    RESPONSE_CANCELLED,
    PortalConnection,
    PortalError,
    new_token,
    unwrap_variants,
)

GLOBAL_SHORTCUTS_INTERFACE = "org.freedesktop.portal.GlobalShortcuts"
SESSION_INTERFACE = "org.freedesktop.portal.Session"
_XDG_MODIFIERS = {"ctrl": "CTRL", "alt": "ALT", "shift": "SHIFT", "meta": "LOGO"}


def xdg_trigger(combo: Combo) -> str:
    """A combination in the XDG shortcuts notation the portal takes: "CTRL+ALT+SHIFT+d"."""
    mods = [_XDG_MODIFIERS[m] for m in ("ctrl", "alt", "shift", "meta") if m in combo.modifiers]
    return "+".join([*mods, keysym_name(combo.key)])


def _label(action: str) -> str:
    return ACTION_LABELS[Action(action)] if action in Action._value2member_map_ else action


class PortalHotkeyBackend(HotkeyBackend):
    name = "Wayland portal"

    def __init__(
        self,
        on_activated,  # type: ignore[no-untyped-def]
        on_failed,  # type: ignore[no-untyped-def]
        connect: Callable[[], PortalConnection] = PortalConnection,
    ) -> None:
        super().__init__(on_activated, on_failed)
        self._connect = connect
        self._portal: PortalConnection | None = None
        self._pending: dict[str, Combo] = {}
        self._commands: queue.Queue[dict[str, Combo] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._session: str | None = None
        self.bound = threading.Event()  # set after each BindShortcuts answer (tests wait on it)

    def start(self) -> None:
        try:
            self._portal = self._connect()
            self._check_interface()
        except PortalError as exc:
            if self._portal is not None:
                self._portal.close()
                self._portal = None
            raise HotkeyUnavailable("This desktop does not offer global shortcuts to applications.") from exc
        self._thread = threading.Thread(target=self._run, name="lookaloud-portal-hotkeys", daemon=True)
        self._thread.start()

    def _check_interface(self) -> None:
        from jeepney import DBusAddress, MessageType, Properties

        assert self._portal is not None
        address = DBusAddress(PORTAL_PATH, bus_name=PORTAL_NAME, interface=GLOBAL_SHORTCUTS_INTERFACE)
        reply = self._portal.connection.send_and_get_reply(Properties(address).get("version"), timeout=5)
        if reply.header.message_type == MessageType.error:
            raise PortalError("no GlobalShortcuts portal")

    def register(self, action: str, combo: Combo) -> None:
        self._pending[action] = combo

    def commit(self) -> None:
        self.bound.clear()
        self._commands.put(dict(self._pending))

    def unregister_all(self) -> None:
        self._pending.clear()

    def stop(self) -> None:
        if self._thread is not None:
            self._commands.put(None)
            self._thread.join(timeout=3)
            self._thread = None
        if self._portal is not None:
            self._portal.close()
            self._portal = None

    # Everything below runs on the backend's thread.

    def _run(self) -> None:
        from jeepney import MatchRule

        assert self._portal is not None
        rule = MatchRule(type="signal", interface=GLOBAL_SHORTCUTS_INTERFACE, member="Activated", path=PORTAL_PATH)
        try:
            with self._portal.connection.filter(rule, bufsize=64) as activations:
                self._portal.add_match(rule)
                while True:
                    try:
                        command = self._commands.get_nowait()
                    except queue.Empty:
                        pass
                    else:
                        if command is None:
                            return
                        self._bind(command)
                    try:
                        signal = self._portal.connection.recv_until_filtered(activations, timeout=0.2)
                    except TimeoutError:
                        continue
                    self.handle_activated(*signal.body[:2])
        except (OSError, ValueError):  # the connection was closed under us at shutdown
            return

    def handle_activated(self, session_handle: str, shortcut_id: str) -> None:
        if session_handle == self._session:
            self.on_activated(shortcut_id)

    def _bind(self, bindings: dict[str, Combo]) -> None:
        assert self._portal is not None
        try:
            if self._session is not None:
                self._close_session()
            results = self._portal.request(
                GLOBAL_SHORTCUTS_INTERFACE,
                "CreateSession",
                "a{sv}",
                lambda token: ({"handle_token": ("s", token), "session_handle_token": ("s", new_token())},),
            )
            self._session = str(results["session_handle"])
            if not bindings:
                return
            shortcuts = [
                (action, {"description": ("s", _label(action)), "preferred_trigger": ("s", xdg_trigger(combo))})
                for action, combo in bindings.items()
            ]
            results = self._portal.request(
                GLOBAL_SHORTCUTS_INTERFACE,
                "BindShortcuts",
                "oa(sa{sv})sa{sv}",
                lambda token: (self._session, shortcuts, "", {"handle_token": ("s", token)}),
                timeout=300,  # the desktop shows the user a dialog to confirm
            )
        except PortalError as exc:
            for action, combo in bindings.items():
                self.on_failed(action, self._refusal(action, combo, exc.code == RESPONSE_CANCELLED))
            return
        finally:
            self.bound.set()
        bound = {str(item[0]) for item in unwrap_variants(results.get("shortcuts", []))}
        for action, combo in bindings.items():
            if action not in bound:
                self.on_failed(action, self._refusal(action, combo, cancelled=False))

    def _refusal(self, action: str, combo: Combo, cancelled: bool) -> str:
        shortcut = format_combo(combo, "linux")
        if cancelled:
            return f"The desktop's shortcut dialog was closed, so {shortcut} for {_label(action)} is not set."
        return (
            f"The desktop did not give Lookaloud the shortcut {shortcut} for {_label(action)}. "
            "Choose a different one in the desktop's shortcut settings."
        )

    def _close_session(self) -> None:
        from jeepney import DBusAddress, new_method_call

        assert self._portal is not None and self._session is not None
        address = DBusAddress(self._session, bus_name=PORTAL_NAME, interface=SESSION_INTERFACE)
        self._portal.connection.send_and_get_reply(new_method_call(address, "Close"), timeout=5)
        self._session = None
