"""Wayland global shortcuts through the GlobalShortcuts portal: Lookaloud's real D-Bus
exchange with a stand-in portal on the test session bus."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from desktop_app.hotkeys.base import fallback_instructions
from desktop_app.hotkeys.manager import HotkeyManager
from desktop_app.hotkeys.wayland_portal import PortalHotkeyBackend
from tests.capture.fake_portal import FakePortal

pytestmark = pytest.mark.skipif(
    not os.environ.get("DBUS_SESSION_BUS_ADDRESS"), reason="needs a D-Bus session bus (run under dbus-run-session)"
)


@pytest.fixture
def portal_service() -> Iterator[Callable[..., FakePortal]]:
    made: list[FakePortal] = []

    def make(**kwargs) -> FakePortal:  # type: ignore[no-untyped-def]
        made.append(FakePortal(**kwargs))
        return made[-1]

    yield make
    for service in made:
        service.close()


def _portal_manager(make_manager) -> tuple[HotkeyManager, list[PortalHotkeyBackend]]:  # type: ignore[no-untyped-def]
    backends: list[PortalHotkeyBackend] = []

    def factory(on_a, on_f):  # type: ignore[no-untyped-def]
        backends.append(PortalHotkeyBackend(on_a, on_f))
        return backends[-1]

    return make_manager(factory), backends


def test_shortcuts_are_offered_to_the_desktop_and_presses_fire_actions(qtbot, make_manager, portal_service) -> None:  # type: ignore[no-untyped-def]
    service = portal_service()
    manager, backends = _portal_manager(make_manager)
    assert manager.start() and manager.backend_name == "Wayland portal"
    assert manager.register({"describe-screen": "Ctrl+Alt+Shift+D", "stop-speaking": "Ctrl+Alt+Shift+PageDown"}) == {}
    assert backends[0].bound.wait(5)
    offered = {sid: {k: v[1] for k, v in opts.items()} for sid, opts in service.bound}
    assert offered == {
        "describe-screen": {"description": "Describe screen", "preferred_trigger": "CTRL+ALT+SHIFT+d"},
        "stop-speaking": {"description": "Stop speaking", "preferred_trigger": "CTRL+ALT+SHIFT+Next"},
    }
    with qtbot.waitSignal(manager.activated, timeout=5000) as signal:
        service.activate("stop-speaking")
    assert signal.args == ["stop-speaking"]


def test_shortcuts_the_desktop_refuses_are_reported(qtbot, make_manager, portal_service) -> None:  # type: ignore[no-untyped-def]
    portal_service(refuse={"ask"})
    manager, _ = _portal_manager(make_manager)
    manager.start()
    with qtbot.waitSignal(manager.registration_failed, timeout=5000) as signal:
        manager.register({"ask": "Ctrl+Alt+Shift+A", "read-text": "Ctrl+Alt+Shift+T"})
    assert signal.args == [
        "ask",
        (
            "The desktop did not give Lookaloud the shortcut Ctrl+Alt+Shift+A for Ask a question. "
            "Choose a different one in the desktop's shortcut settings."
        ),
    ]


def test_closing_the_desktops_dialog_reports_every_shortcut(qtbot, make_manager, portal_service) -> None:  # type: ignore[no-untyped-def]
    portal_service(bind_code=1)
    manager, _ = _portal_manager(make_manager)
    manager.start()
    failed: list[str] = []
    manager.registration_failed.connect(lambda action, message: failed.append(message))
    manager.register({"ask": "Ctrl+Alt+Shift+A", "read-text": "Ctrl+Alt+Shift+T"})
    qtbot.waitUntil(lambda: len(failed) == 2)
    assert failed[0] == "The desktop's shortcut dialog was closed, so Ctrl+Alt+Shift+A for Ask a question is not set."


def test_without_the_portal_the_manager_offers_desktop_shortcut_instructions(make_manager, portal_service) -> None:  # type: ignore[no-untyped-def]
    manager, _ = _portal_manager(make_manager)
    assert manager.start() is False  # nothing owns the portal name
    portal_service(with_shortcuts=False)  # a portal without GlobalShortcuts (older desktops)
    manager, _ = _portal_manager(make_manager)
    assert manager.start() is False and not manager.available
    assert manager.fallback_instructions() == fallback_instructions()
