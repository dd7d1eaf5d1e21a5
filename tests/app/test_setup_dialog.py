"""First-run model setup, as a keyboard and screen reader user meets it: every control named and
reachable with Tab, Escape closes, nothing downloaded until Download is pressed, a download from
a local fake hub with progress shown and announced, cancel and resume, a damaged file reported
as a sentence, a folder the user already has, and the demo model."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QLabel, QWidget

from desktop_app.models import vision_catalog as catalog
from desktop_app.models.store import installed_path
from desktop_app.models.vision_catalog import BLIP2_OPT, CATALOG, DEFAULT_MODEL, DEMO_MODEL, ModelSpec
from desktop_app.ui import setup_dialog
from desktop_app.ui.setup_dialog import Machine, SetupDialog, assess, recommend
from testkit import fakehub
from testkit.fakehub import FakeHub
from tests.app.keyboard import (
    ATSPI_PYTHON,
    atspi_nodes,
    focus_chain,
    focusable_widgets,
    show_active,
    unnamed_controls,
)

LAPTOP = Machine(ram_gb=16.0, native_bf16=True)
SIZE = 400_000


def tiny_spec(repo_id: str = "test/tiny-describer") -> ModelSpec:
    return ModelSpec("tiny-describer", BLIP2_OPT, "A tiny model for tests.", repo_id,
                     download_mb=1, params_billion=0.001)


def publish(hub: FakeHub, repo_id: str = "test/tiny-describer") -> None:
    hub.add_commit(repo_id, {"config.json": json.dumps({"model_type": "blip-2"}).encode(),
                             "model.safetensors": random.Random(1).randbytes(SIZE)})


@pytest.fixture
def fake_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    yield from fakehub.serve(tmp_path, monkeypatch)


@pytest.fixture
def dialog_setup(qtbot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A shown setup dialog listing the catalog plus the tiny test model, with its
    announcements recorded (they still go to the real Announcer)."""
    monkeypatch.setattr(catalog, "demo_folder", lambda: tmp_path / "no-demo")

    def make(models=None) -> SetupDialog:
        dialog = SetupDialog(machine=LAPTOP, models=models if models is not None else
                             [tiny_spec(), *CATALOG.values()])
        dialog.announced = []  # type: ignore[attr-defined]
        real = dialog.announcer.announce

        def spy(text: str) -> None:
            dialog.announced.append(text)  # type: ignore[attr-defined]
            real(text)

        dialog.announcer.announce = spy  # type: ignore[method-assign]
        show_active(qtbot, dialog)
        return dialog

    return make


def select(dialog: SetupDialog, name: str) -> None:
    rows = [f.spec.name for f in dialog.fits]
    dialog.model_list.setCurrentRow(rows.index(name))


def press(qtbot, widget: QWidget) -> None:
    """Keyboard only: focus the button and press Space."""
    widget.setFocus()
    qtbot.keyClick(widget, Qt.Key.Key_Space)


def start_download(qtbot, dialog_setup, hub: FakeHub, bps: int, percent: int) -> SetupDialog:
    """A new dialog downloading tiny-describer at `bps` bytes a second, `percent` percent in."""
    publish(hub)
    hub.throttle_bps = bps
    dialog = dialog_setup()
    select(dialog, "tiny-describer")
    press(qtbot, dialog.download_button)
    qtbot.waitUntil(lambda: dialog.progress_bar.value() >= percent, timeout=10_000)
    return dialog


def resumed_at(hub: FakeHub) -> int:
    """The byte the last ranged file request started at; 0 when every file came whole."""
    ranges = [r for p, r in hub.file_requests() if p.startswith("/cdn/") and r]
    return int(ranges[-1].split("=")[1].split("-")[0]) if ranges else 0


def test_every_control_is_named_reachable_by_tab_and_escape_closes(qtbot, dialog_setup, fake_hub) -> None:
    dialog = dialog_setup()
    assert QApplication.focusWidget() is dialog.model_list  # focus placed on open
    assert "recommended" in dialog.model_list.currentItem().text()
    controls = focusable_widgets(dialog)
    assert controls, "the dialog has no focusable controls"
    for widget in controls:
        assert widget.accessibleName().strip(), f"{widget!r} has no accessible name"
    visited = focus_chain(qtbot, dialog)
    assert set(visited) == set(controls)
    assert visited[0] is dialog.model_list
    buddies = [label.buddy() for label in dialog.findChildren(QLabel) if label.buddy() is not None]
    assert dialog.model_list in buddies
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
    assert dialog.result() == QDialog.DialogCode.Rejected and not dialog.isVisible()
    assert fake_hub.requests == []  # looking at the dialog downloads nothing


def test_models_show_size_memory_fit_and_an_estimated_speed(dialog_setup, fake_hub) -> None:
    dialog = dialog_setup(list(CATALOG.values()))
    texts = [dialog.model_list.item(i).text() for i in range(dialog.model_list.count())]
    big = next(t for t in texts if t.startswith("blip2-flan-t5-xxl"))
    # On this 16 GB laptop with no GPU, auto runs the 12-billion-parameter model in 4 bits (8 would
    # need 14 GB), and that is the memory said.
    need = CATALOG["blip2-flan-t5-xxl"].memory_gb("int4")
    assert "Download 47.6 gigabytes" in big and f"Needs {need:g} gigabytes of memory" in big
    assert "Fits this computer's 16 gigabytes" in big
    small = next(t for t in texts if t.startswith("blip-base-pair"))
    assert "recommended" in small and "Fits this computer" in small
    assert "seconds per description on this computer (an estimate)" in small
    assert texts.index(small) < texts.index(big)
    assert fake_hub.requests == []


def test_recommendation_follows_the_machine() -> None:
    specs = list(CATALOG.values())
    gpu = Machine(ram_gb=32, gpu_name="Test GPU", gpu_gb=24)
    assert recommend(assess(s, gpu) for s in specs).spec.name == DEFAULT_MODEL
    small_cpu = Machine(ram_gb=4)
    fit = {s.name: assess(s, small_cpu) for s in specs}
    assert not fit[DEFAULT_MODEL].fits  # even in 4 bits (3.7 GB) it leaves a 4 GB computer no room
    assert "Too big for this computer's 4 gigabytes" in fit[DEFAULT_MODEL].sentence()
    assert recommend(fit.values()).spec.name == "blip-base-pair"
    assert fit[DEFAULT_MODEL].seconds > assess(CATALOG[DEFAULT_MODEL], gpu).seconds
    assert recommend(assess(s, Machine(ram_gb=1)) for s in specs) is None


def test_on_a_laptop_the_default_model_is_judged_in_the_precision_it_will_run_in() -> None:
    # No GPU, 8 GB: the loader runs blip2-opt-2.7b with 8-bit weights there (auto on a processor),
    # so setup must not call it too big from its bf16 size (8.9 GB).
    laptop = Machine(ram_gb=8, native_bf16=True)
    default = assess(CATALOG[DEFAULT_MODEL], laptop)
    assert laptop.precision_for(CATALOG[DEFAULT_MODEL]) == "int8"
    assert default.fits and default.memory_gb < CATALOG[DEFAULT_MODEL].memory_gb("bf16") / 1.5
    assert "Fits this computer's 8 gigabytes" in default.sentence()
    assert Machine(ram_gb=8, gpu_name="GPU", gpu_gb=8, gpu_bf16=True).precision_for(CATALOG[DEFAULT_MODEL]) == "bf16"


def test_download_shows_and_announces_progress_then_chooses_the_model(qtbot, dialog_setup, fake_hub) -> None:
    publish(fake_hub)
    fake_hub.throttle_bps = 400_000  # about a second: several progress events
    dialog = dialog_setup()
    select(dialog, "tiny-describer")
    with qtbot.waitSignal(dialog.model_chosen, timeout=20_000) as chosen:
        press(qtbot, dialog.download_button)
        assert dialog.is_downloading() and dialog.progress_bar.isVisible()
        assert QApplication.focusWidget() is dialog.cancel_button
    assert chosen.args == ["tiny-describer"]
    assert dialog.result() == QDialog.DialogCode.Accepted and dialog.chosen_model == "tiny-describer"
    assert dialog.progress_bar.value() == 100
    percents = [t for t in dialog.announced if "percent" in t]
    assert percents and percents[0].startswith("0 percent")
    assert len(percents) <= 10  # one per ten percent at most, not a flood
    assert dialog.announced[-1] == "Download complete. Lookaloud will use tiny-describer."
    assert setup_dialog.download_model.__module__ == "desktop_app.models.hub"
    assert installed_path(tiny_spec()) is not None


def test_cancel_then_download_again_resumes(qtbot, dialog_setup, fake_hub) -> None:
    dialog = start_download(qtbot, dialog_setup, fake_hub, bps=100_000, percent=10)
    press(qtbot, dialog.cancel_button)
    qtbot.waitUntil(lambda: not dialog.is_downloading(), timeout=10_000)
    assert "cancelled" in dialog.status_label.text()
    assert dialog.download_button.text().replace("&", "") == "Resume download"
    assert QApplication.focusWidget() is dialog.download_button
    assert dialog.isVisible() and dialog.chosen_model is None

    fake_hub.throttle_bps = None
    with qtbot.waitSignal(dialog.model_chosen, timeout=20_000):
        press(qtbot, dialog.download_button)
    assert resumed_at(fake_hub) > 0  # continued, not restarted


def test_a_download_stopped_by_closing_continues_in_a_new_dialog(qtbot, dialog_setup, fake_hub) -> None:
    first = start_download(qtbot, dialog_setup, fake_hub, bps=100_000, percent=10)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)  # as if Lookaloud was closed
    assert not first.isVisible() and first.chosen_model is None

    fake_hub.throttle_bps = None
    again = dialog_setup()
    select(again, "tiny-describer")
    with qtbot.waitSignal(again.model_chosen, timeout=20_000):
        press(qtbot, again.download_button)
    assert resumed_at(fake_hub) >= SIZE // 10


def test_a_damaged_file_is_reported_as_a_sentence_and_retried(qtbot, dialog_setup, fake_hub) -> None:
    publish(fake_hub)
    fake_hub.corrupt.add("model.safetensors")
    dialog = dialog_setup()
    select(dialog, "tiny-describer")
    press(qtbot, dialog.download_button)
    qtbot.waitUntil(lambda: not dialog.is_downloading(), timeout=20_000)
    message = dialog.status_label.text()
    assert message.startswith("The file model.safetensors arrived damaged")
    assert message.endswith("Press Resume download to try again.")
    assert dialog.announced[-1] == message and dialog.chosen_model is None

    fake_hub.corrupt.clear()
    with qtbot.waitSignal(dialog.model_chosen, timeout=20_000):
        press(qtbot, dialog.download_button)


def test_closing_during_a_download_stops_it(qtbot, dialog_setup, fake_hub) -> None:
    dialog = start_download(qtbot, dialog_setup, fake_hub, bps=50_000, percent=1)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
    assert not dialog.isVisible() and dialog.chosen_model is None
    assert installed_path(tiny_spec()) is None


def test_a_folder_that_is_not_a_model_is_explained_and_a_model_folder_is_chosen(
        qtbot, dialog_setup, fake_hub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    answers = [str(tmp_path / "holiday-photos"), str(tmp_path / "my-blip2")]
    (tmp_path / "holiday-photos").mkdir()
    (tmp_path / "my-blip2").mkdir()
    (tmp_path / "my-blip2" / "config.json").write_text(json.dumps({"model_type": "blip-2"}))
    # The platform's folder picker cannot be driven here; it answers with these folders.
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: answers.pop(0))
    dialog = dialog_setup()
    press(qtbot, dialog.folder_button)
    assert dialog.status_label.text().startswith(f"The folder {tmp_path / 'holiday-photos'} does not hold")
    assert dialog.isVisible() and QApplication.focusWidget() is dialog.folder_button
    press(qtbot, dialog.folder_button)
    assert dialog.chosen_model == str(tmp_path / "my-blip2")
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert fake_hub.requests == []


def test_demo_model_is_offered_only_when_it_is_installed(qtbot, dialog_setup, fake_hub,
                                                          monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert not dialog_setup().demo_button.isVisible()
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "config.json").write_text(json.dumps({"model_type": "blip-2"}))
    monkeypatch.setattr(catalog, "demo_folder", lambda: tmp_path / "demo")
    dialog = dialog_setup()
    assert dialog.demo_button.isVisible()
    press(qtbot, dialog.demo_button)
    assert dialog.chosen_model == DEMO_MODEL and fake_hub.requests == []


@pytest.mark.skipif(not Path(ATSPI_PYTHON).exists(), reason="needs Debian's python3 with pyatspi")
def test_a_screen_reader_finds_every_control_named_on_the_accessibility_bus(qtbot, dialog_setup, fake_hub) -> None:
    dialog = dialog_setup()
    # Only what is showing: a closed dialog of an earlier test can linger on the bus.
    nodes = [n for n in atspi_nodes(qtbot, "Set up Lookaloud") if n["showing"]]
    assert nodes and nodes[0]["role"] == "dialog"
    assert unnamed_controls(nodes) == []
    found = {(n["role"], n["name"]) for n in nodes}
    assert {("push button", "Download"), ("push button", "Use a folder I already have"),
            ("push button", "Later")} <= found
    models = next(n for n in nodes if n["role"] == "list")
    assert models["name"] == "Models" and models["labelled_by"] == ["Models for this computer:"]
    items = [n["name"] for n in nodes if n["role"] == "list item"]
    texts = [dialog.model_list.item(i).text() for i in range(dialog.model_list.count())]
    assert items and set(items) <= set(texts) and "recommended" in items[0]  # rows scrolled away are not showing


def test_enter_on_the_model_list_downloads_nothing_and_says_how_to(qtbot, dialog_setup, fake_hub) -> None:
    """A screen reader user presses Enter on a list item to choose it; the dialog promises that
    nothing is downloaded until Download is pressed, so Enter there must not start 3.4 GB."""
    publish(fake_hub)
    dialog = dialog_setup()
    select(dialog, "tiny-describer")
    dialog.model_list.setFocus()
    qtbot.keyClick(dialog.model_list, Qt.Key.Key_Return)
    qtbot.keyClick(dialog.model_list, Qt.Key.Key_Enter, Qt.KeyboardModifier.KeypadModifier)
    qtbot.wait(300)  # a download would have asked the hub by now
    assert not dialog.is_downloading() and fake_hub.requests == []
    assert dialog.isVisible() and QApplication.focusWidget() is dialog.model_list
    assert dialog.announced[-1] == ("To download tiny-describer, 1 megabytes, press Alt+D or Tab to Download and "
                                    "press it. Nothing is downloaded until then.")
    assert dialog.status_label.text() == dialog.announced[-1]
    # Enter on a focused button presses that button, as everywhere else.
    dialog.download_button.setFocus()
    with qtbot.waitSignal(dialog.model_chosen, timeout=20_000):
        qtbot.keyClick(dialog.download_button, Qt.Key.Key_Return)


def test_download_errors_and_progress_are_said_through_the_apps_speech(qtbot, fake_hub, monkeypatch, tmp_path) -> None:
    """Orca 43 ignores Qt's announcements: what the dialog says goes to the app's speech (`say`)."""
    monkeypatch.setattr(catalog, "demo_folder", lambda: tmp_path / "no-demo")
    publish(fake_hub)
    fake_hub.corrupt.add("model.safetensors")
    said: list[str] = []
    dialog = SetupDialog(machine=LAPTOP, models=[tiny_spec()], say=said.append)
    show_active(qtbot, dialog)
    press(qtbot, dialog.download_button)
    qtbot.waitUntil(lambda: not dialog.is_downloading(), timeout=20_000)
    error = dialog.status_label.text()
    assert error.startswith("The file model.safetensors arrived damaged") and said[-1] == error
    assert said[0].startswith("Downloading tiny-describer.")
    assert any(t.startswith("0 percent") for t in said)  # progress too
