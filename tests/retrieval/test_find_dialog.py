"""Find picture: a keyboard and screen reader user searches recent pictures and indexed folders,
hears the results one by one, and makes one the current picture; the search runs on a worker
thread with the real PictureFinder and a tiny retrieval model."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from desktop_app.retrieval.finder import PictureFinder
from desktop_app.retrieval.indexer import Indexer
from desktop_app.retrieval.store import IndexStore
from desktop_app.ui.find_dialog import FindDialog, FindWorker
from desktop_app.workers.lifetime import WorkerThread
from tests.app.keyboard import focus_chain, show_active
from tests.retrieval.conftest import drawn


@pytest.fixture(autouse=True)
def own_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


@pytest.fixture
def indexed(tiny_retrieval, tmp_path):
    from desktop_app.retrieval.engine import load_retrieval_model

    folder = tmp_path / "album"
    folder.mkdir()
    for colour in ("red", "blue", "green"):
        drawn(colour).save(folder / f"{colour}.png")
    with IndexStore() as store:
        Indexer(store, load_retrieval_model(str(tiny_retrieval["other"]), precision="fp32")).run([folder])
    return folder


@pytest.fixture
def dialog(qtbot, tiny_retrieval, indexed):
    heard: list[str] = []
    history = [(7, drawn("yellow", "square"), "A yellow square.")]
    finder = PictureFinder(str(tiny_retrieval["other"]), precision="fp32")
    worker = FindWorker(lambda q, h, cancel: finder.find(q, h, cancel=cancel))
    thread = WorkerThread(worker, "find")
    dlg = FindDialog(heard.append, lambda: history)
    dlg.search_requested.connect(worker.on_search_requested)
    worker.finished.connect(dlg.on_search_finished)
    worker.failed.connect(dlg.on_search_failed)
    thread.start()
    qtbot.addWidget(dlg)
    dlg.heard = heard
    yield dlg
    thread.stop()
    # the finder's store belongs to the worker thread; it is closed with the process


def _search(qtbot, dlg, text):
    dlg.query.setFocus()
    qtbot.keyClicks(dlg.query, text)
    qtbot.keyClick(dlg.query, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dlg.results.count() > 0 or "No picture" in dlg.status.text(), timeout=60_000)


def test_results_are_spoken_one_by_one_and_enter_chooses(qtbot, dialog):
    show_active(qtbot, dialog)
    chosen = []
    dialog.picture_chosen.connect(chosen.append)
    _search(qtbot, dialog, "a red circle")
    assert dialog.isVisible()  # Enter in the query searched; it did not press Close
    assert dialog.results.count() == 4  # three indexed files and the recent picture
    assert dialog.heard[0] == "Searching for a red circle."
    assert dialog.heard[1].startswith("4 pictures found. 1 of 4: ")
    assert dialog.results.hasFocus()
    qtbot.keyClick(dialog.results, Qt.Key.Key_Down)
    assert dialog.heard[-1] == dialog.results.item(1).text() and dialog.heard[-1].startswith("2 of 4: ")
    qtbot.keyClick(dialog.results, Qt.Key.Key_Down)
    qtbot.keyClick(dialog.results, Qt.Key.Key_Up)
    assert dialog.heard[-1].startswith("2 of 4: ")
    qtbot.keyClick(dialog.results, Qt.Key.Key_Return)
    assert len(chosen) == 1 and not dialog.isVisible()
    spoken = dialog.results.item(1).text()
    found = chosen[0]
    assert (found.picture_id == 7) == spoken.startswith("2 of 4: From recent pictures")
    if found.picture_id is None:
        assert found.path.endswith(spoken.split(": ", 1)[1].split(".png")[0] + ".png")


def test_the_recent_picture_is_found_with_its_description(qtbot, dialog):
    _search(qtbot, dialog, "a yellow square")
    texts = [dialog.results.item(i).text() for i in range(dialog.results.count())]
    assert any(t.endswith("From recent pictures. A yellow square.") for t in texts)


def test_an_empty_search_says_what_to_do(qtbot, dialog):
    show_active(qtbot, dialog)
    qtbot.keyClick(dialog.query, Qt.Key.Key_Return)
    assert dialog.heard == ["Type what the picture shows first."]
    assert dialog.isVisible()


def test_a_failure_is_one_sentence(qtbot, tiny_retrieval, tmp_path):
    heard: list[str] = []
    finder = PictureFinder(str(tmp_path / "no-such-model"))
    worker = FindWorker(lambda q, h, cancel: finder.find(q, h, cancel=cancel))
    thread = WorkerThread(worker, "find")
    dlg = FindDialog(heard.append, list)
    qtbot.addWidget(dlg)
    dlg.search_requested.connect(worker.on_search_requested)
    worker.finished.connect(dlg.on_search_finished)
    worker.failed.connect(dlg.on_search_failed)
    thread.start()
    try:
        dlg.query.setText("a cat")
        dlg.start_search()
        qtbot.waitUntil(lambda: len(heard) == 2, timeout=30_000)
    finally:
        thread.stop()
    assert heard[1].startswith("There is no picture search model called") and heard[1].endswith(".")


def test_an_older_answer_is_dropped(qtbot, dialog):
    dialog.query.setText("a red circle")
    dialog.start_search()
    first = dialog._pending
    dialog.start_search()
    dialog.on_search_finished(first, [])  # the first search's answer arrives late
    assert "No picture" not in dialog.status.text()
    qtbot.waitUntil(lambda: dialog.results.count() > 0, timeout=60_000)


def test_every_control_is_named_and_reachable(qtbot, dialog):
    show_active(qtbot, dialog)
    chain = focus_chain(qtbot, dialog)
    names = {w.accessibleName() or getattr(w, "text", lambda: "")() for w in chain}
    assert {"What the picture shows", "Find", "Pictures found", "Close"} <= names
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()
