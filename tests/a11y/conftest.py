"""Fixtures for the accessibility tests: the accessibility bus, an AT-SPI agent started before
the app (so Qt sends it announcements), a tiny model, and the real app in its own process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit import tiny_models
from tests.a11y import launcher

if not launcher.have_tools():  # pragma: no cover - the CI image has all three
    pytest.skip("needs xdotool, dbus-daemon and Debian's python3-pyatspi", allow_module_level=True)


@pytest.fixture(scope="package")
def a11y_bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, address = launcher.start_accessibility_bus(tmp_path_factory.mktemp("a11y-bus"))
    yield address
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="package")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_models.build_blip2(tmp_path_factory.mktemp("a11y-model") / "opt", "opt")


def app_settings(model: str) -> dict:
    # Lookaloud's own voice stays on (the default); the launcher gives it no sound device, so
    # what the user hears is what reaches AT-SPI.
    return {"model": model, "precision": "fp32", "include_text": False, "earcons": False}


@pytest.fixture(scope="module")
def agent(a11y_bus: str) -> Iterator[launcher.Agent]:
    agent = launcher.Agent(a11y_bus)
    yield agent
    agent.close()


@pytest.fixture(scope="module")
def app_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("a11y-app")


@pytest.fixture(scope="module")
def running_app(a11y_bus: str, agent: launcher.Agent, app_home: Path,
                tiny_model: Path) -> Iterator[launcher.Agent]:
    """The app with a tiny model, its window shown and the model loaded."""
    proc = launcher.launch_app(app_home, a11y_bus, app_settings(str(tiny_model)))
    try:
        launcher.wait_until(lambda: "Lookaloud" in agent.windows() or proc.poll() is not None, 60,
                            "the Lookaloud window never appeared on the accessibility bus")
        launcher.wait_until(lambda: "is ready" in status_text(agent) or proc.poll() is not None, 120,
                            "the model never finished loading", on_fail=lambda: f"status: {status_text(agent)!r}; "
                            f"log: {(app_home / 'app.log').read_text()[-2000:]}")
        assert proc.poll() is None, (app_home / "app.log").read_text()
        agent.proc_app = proc  # type: ignore[attr-defined]
        yield agent
    finally:
        launcher.stop_app(proc)


STATUS_DESCRIPTION = "What Lookaloud is doing now."


def status_text(agent: launcher.Agent) -> str:
    """What a screen reader reads on the main window's status line."""
    return next((n["name"] for n in agent.tree("Lookaloud") if n["description"] == STATUS_DESCRIPTION), "")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "a11y: drives the real app over AT-SPI and xdotool (tests/a11y)")
