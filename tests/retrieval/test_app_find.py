"""Find picture in the running app: Ctrl+F and the tray entry open it, a search is answered
aloud through the app's speech path, Enter on a recent picture makes it the current one, and
Settings' Forget all pictures empties the index."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from desktop_app import paths
from desktop_app.models import vision_catalog as catalog
from desktop_app.retrieval.store import FORGOTTEN, IndexStore
from testkit import tiny_models
from tests.app.conftest import make_app, tiny_opt  # noqa: F401 - the app's own fixtures
from tests.app.keyboard import show_active
from tests.retrieval.conftest import drawn


@pytest.fixture(autouse=True)
def own_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


@pytest.fixture
def demo_search(tmp_path, monkeypatch):
    """A copy of the resources with a (tiny) demo search model in it, as a shipped copy has."""
    import shutil

    resources = tmp_path / "resources"
    shutil.copytree(paths.RESOURCES_DIR, resources, ignore=shutil.ignore_patterns("shapes-demo-search"))
    tiny_models.build_blip2_retrieval(resources / "models" / catalog.DEMO_SEARCH_MODEL, seed=6)
    monkeypatch.setattr(paths, "RESOURCES_DIR", resources)


def test_ctrl_f_opens_find_and_enter_makes_a_recent_picture_current(qtbot, make_app, demo_search):  # noqa: F811
    app = make_app()
    show_active(qtbot, app.window)
    for colour, shape in (("red", "circle"), ("blue", "square")):
        app.describe(drawn(colour, shape), f"{colour}.png")
        qtbot.waitUntil(lambda: bool(app.controller.core.pictures[0].description), timeout=60_000)
    qtbot.keyClick(app.window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    dialog = app.find_picture.dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(dialog.query.hasFocus, timeout=5_000)
    qtbot.keyClicks(dialog.query, "a red circle")
    qtbot.keyClick(dialog.query, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.results.count() == 2, timeout=60_000)
    assert any(m.startswith("2 pictures found. 1 of 2: From recent pictures.") for m in app.heard)
    qtbot.keyClick(dialog.results, Qt.Key.Key_Down)
    second = dialog._results[1]
    qtbot.keyClick(dialog.results, Qt.Key.Key_Return)
    assert app.controller.core.current.id == second.picture_id
    assert app.find_picture.dialog is None


def test_the_tray_entry_opens_find(qtbot, make_app):  # noqa: F811
    app = make_app()
    assert "Find picture…" in [a.text() for a in app.menu.actions()]
    next(a for a in app.menu.actions() if a.objectName() == "find").trigger()
    assert app.find_picture.dialog is not None and app.find_picture.dialog.isVisible()


def test_without_a_search_model_the_user_hears_how_to_get_one(qtbot, make_app, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(paths, "RESOURCES_DIR", tmp_path / "no-resources")
    app = make_app()
    app.trigger("find")
    dialog = app.find_picture.dialog
    dialog.query.setText("a receipt from the garage")
    dialog.start_search()
    qtbot.waitUntil(lambda: any("lookaloud models download blip2-itm-vit-g" in m for m in app.heard), timeout=30_000)


def test_forget_all_pictures_in_settings_empties_the_index(qtbot, make_app):  # noqa: F811
    with IndexStore() as store:
        model = store.model_id("m", "r", 2, 4)
        store.put("/p/a.png", 1, 1, "a" * 64, "a cat", model, np.ones((2, 4), np.float32) / 2)
        store.commit()
    app = make_app()
    app.forget_all_pictures()
    assert FORGOTTEN in app.heard
    with IndexStore() as store:
        assert store.count() == 0
