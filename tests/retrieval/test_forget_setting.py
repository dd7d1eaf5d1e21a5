"""Settings' "Forget all pictures": a named button that asks the app to forget at once, never
pressed by Enter; and the forgetting it leads to (the same as `lookaloud index --forget`)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from desktop_app.retrieval.store import FORGOTTEN, IndexStore, forget_all_pictures
from desktop_app.settings import Settings
from desktop_app.ui.settings_dialog import TAB_NAMES, SettingsDialog
from tests.app.keyboard import show_active


def test_the_button_asks_to_forget_and_enter_elsewhere_does_not(qtbot):
    dialog = SettingsDialog(Settings(model="blip2-opt-2.7b"))
    show_active(qtbot, dialog)
    asked = []
    dialog.forget_pictures_requested.connect(lambda: asked.append(1))
    dialog.tabs.setCurrentIndex(TAB_NAMES.index("General"))
    assert dialog.forget_button.accessibleName() == "Forget all pictures"
    dialog.history_check.setFocus()
    qtbot.keyClick(dialog.history_check, Qt.Key.Key_Return)  # Enter presses OK, not Forget
    assert asked == []
    dialog.show()
    dialog.forget_button.setFocus()
    qtbot.keyClick(dialog.forget_button, Qt.Key.Key_Space)
    assert asked == [1]


def test_forgetting_empties_the_index_and_a_damaged_one_is_removed(tmp_path):
    path = tmp_path / "index.sqlite3"
    with IndexStore(path) as store:
        model = store.model_id("m", "r", 2, 4)
        store.put("/p/a.png", 1, 1, "a" * 64, "a cat", model, np.ones((2, 4), np.float32) / 2)
        store.commit()
    assert forget_all_pictures(path) == FORGOTTEN
    with IndexStore(path) as store:
        assert store.count() == 0
    path.write_bytes(b"damaged" * 1000)
    assert forget_all_pictures(path) == FORGOTTEN and not path.exists()
    assert forget_all_pictures(tmp_path / "never-made.sqlite3") == FORGOTTEN
