"""The picture index on disk: what it keeps, how it searches, and how it forgets."""

from __future__ import annotations

import os
import sqlite3

import numpy as np
import pytest

from desktop_app.retrieval.store import IndexStore, IndexUnusableError

Q, D = 4, 16


def _vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, Q, D)).astype(np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _fill(store: IndexStore, vectors: np.ndarray, model: int, folder: str = "/p") -> list[str]:
    paths = []
    for i, v in enumerate(vectors):
        path = f"{folder}{os.sep}picture {i}.png"
        store.put(path, 100 + i, i, f"{i:064x}", f"caption {i}", model, v)
        paths.append(path)
    store.commit()
    return paths


def test_search_ranks_by_the_best_query_of_each_picture(tmp_path):
    rng = np.random.default_rng(0)
    vectors = _vectors(rng, 50)
    text = _vectors(rng, 1)[0, 0]
    with IndexStore(tmp_path / "i.sqlite3") as store:
        model = store.model_id("m", "r1", Q, D)
        paths = _fill(store, vectors, model)
        hits = store.search(model, text, top=7)
    stored = vectors.astype(np.float16).astype(np.float32)  # what fp16 blobs give back
    expected = np.argsort(-(stored @ text).max(axis=1), kind="stable")[:7]
    assert [h.path for h in hits] == [paths[i] for i in expected]
    np.testing.assert_allclose([h.score for h in hits], (stored @ text).max(axis=1)[expected], rtol=1e-6)
    assert hits[0].caption == f"caption {expected[0]}"


def test_embeddings_are_float16_blobs_and_the_file_is_private(tmp_path):
    path = tmp_path / "i.sqlite3"
    with IndexStore(path) as store:
        model = store.model_id("m", "r1", Q, D)
        _fill(store, _vectors(np.random.default_rng(1), 2), model)
        blob = sqlite3.connect(path).execute("SELECT vectors FROM embeddings LIMIT 1").fetchone()[0]
        assert len(blob) == Q * D * 2
        for file in tmp_path.iterdir():  # the index and, while it is open, its write-ahead log
            assert file.stat().st_mode & 0o077 == 0, file
        assert any(f.name.endswith("-wal") for f in tmp_path.iterdir())


def test_folder_filter_keeps_only_pictures_under_it(tmp_path):
    rng = np.random.default_rng(2)
    with IndexStore(tmp_path / "i.sqlite3") as store:
        model = store.model_id("m", "r1", Q, D)
        _fill(store, _vectors(rng, 5), model, folder="/a")
        _fill(store, _vectors(rng, 5), model, folder="/a_b")  # a LIKE wildcard in a sibling's name
        hits = store.search(model, _vectors(rng, 1)[0, 0], top=20, folder="/a")
    assert len(hits) == 5 and all(h.path.startswith(f"/a{os.sep}") for h in hits)


def test_a_new_model_revision_drops_the_old_embeddings(tmp_path):
    with IndexStore(tmp_path / "i.sqlite3") as store:
        old = store.model_id("m", "r1", Q, D)
        _fill(store, _vectors(np.random.default_rng(3), 3), old)
        new = store.model_id("m", "r2", Q, D)
        assert new != old and store.count(new) == 0 and store.count(old) == 0
        assert store.find_model("m", "r1") is None and store.has_other_revision("m", "r3")
        assert store.count() == 3  # the files stay known; the next index run embeds them again


def test_search_sees_pictures_added_after_a_first_search(tmp_path):
    rng = np.random.default_rng(4)
    with IndexStore(tmp_path / "i.sqlite3") as store:
        model = store.model_id("m", "r1", Q, D)
        _fill(store, _vectors(rng, 3), model)
        text = _vectors(rng, 1)[0, 0]
        assert len(store.search(model, text, top=10)) == 3
        store.put("/p/late.png", 1, 1, "f" * 64, "late", model, np.tile(text, (Q, 1)))
        store.commit()
        assert store.search(model, text, top=1)[0].path == "/p/late.png"


def test_forget_all_leaves_no_name_or_caption_in_the_files(tmp_path):
    path = tmp_path / "i.sqlite3"
    rng = np.random.default_rng(5)
    with IndexStore(path) as store:
        model = store.model_id("m", "r1", Q, D)
        for i in range(200):
            store.put(f"/p/garage-receipt-{i}.png", 1, 1, f"{i:064x}", f"a receipt from the garage {i}", model,
                      _vectors(rng, 1)[0])
        store.commit()
        store.forget_all()
        assert store.count() == 0 and store.folders() == []
        # checked while the index is still open: its write-ahead log is there too
        files = list(tmp_path.iterdir())
        assert any(f.name.endswith("-wal") for f in files)
        for file in files:
            assert b"garage" not in file.read_bytes(), file


def test_a_damaged_index_is_one_sentence(tmp_path):
    path = tmp_path / "i.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(IndexUnusableError, match="damaged.*lookaloud index --forget"):
        IndexStore(path)


def test_an_index_that_cannot_be_created_is_one_sentence(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(IndexUnusableError, match="cannot be created"):
        IndexStore(tmp_path / "file" / "index.sqlite3")


def test_a_new_process_reads_the_kept_matrix_instead_of_every_row(tmp_path, monkeypatch):
    path = tmp_path / "i.sqlite3"
    rng = np.random.default_rng(6)
    text = _vectors(rng, 1)[0, 0]
    with IndexStore(path) as store:
        model = store.model_id("m", "r1", Q, D)
        _fill(store, _vectors(rng, 20), model)
        first = store.search(model, text, top=5)
    kept = store.matrix_files(model)
    assert len(kept) == 2 and all(f.stat().st_mode & 0o077 == 0 for f in kept)

    def no_rows(*_args):
        raise AssertionError("read every row again")

    with IndexStore(path) as store:
        monkeypatch.setattr(store, "_read_matrix_rows", no_rows)
        assert store.search(model, text, top=5) == first
    monkeypatch.undo()
    with IndexStore(path) as writer:  # another index run adds the best match of all
        writer.put("/p/new.png", 1, 1, "e" * 64, "new", model, np.tile(text, (Q, 1)))
        writer.commit()
    with IndexStore(path) as store:
        assert store.search(model, text, top=1)[0].path == "/p/new.png"  # the kept matrix was stale
    with IndexStore(path) as store:
        now = store.matrix_files(model)
    assert len(now) == 2 and not set(now) & set(kept)  # the stale generation is gone
    for file in now:
        file.write_bytes(b"damaged")
    with IndexStore(path) as store:
        assert store.search(model, text, top=1)[0].path == "/p/new.png"


def test_forgetting_removes_the_kept_matrices(tmp_path):
    path = tmp_path / "i.sqlite3"
    rng = np.random.default_rng(7)
    with IndexStore(path) as store:
        model = store.model_id("m", "r1", Q, D)
        _fill(store, _vectors(rng, 4), model, folder="/a")
        store.search(model, _vectors(rng, 1)[0, 0])
        assert store.matrix_files(model)
        store.forget_under("/a")
        assert not store.matrix_files(model)
        _fill(store, _vectors(rng, 4), model, folder="/b")
        store.search(model, _vectors(rng, 1)[0, 0])
        store.forget_all()
        assert not list(tmp_path.glob("*.matrix-*"))
        _fill(store, _vectors(rng, 4), store.model_id("m", "r1", Q, D))
        store.search(store.model_id("m", "r1", Q, D), _vectors(rng, 1)[0, 0])
        old = store.model_id("m", "r1", Q, D)
        store.model_id("m", "r2", Q, D)  # a new revision: the old one's matrix goes with it
        assert not store.matrix_files(old)
