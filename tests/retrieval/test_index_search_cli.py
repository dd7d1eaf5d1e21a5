"""`lookaloud index` and `lookaloud search` end to end with a tiny retrieval model."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from desktop_app.cli import main
from desktop_app.retrieval.engine import contrastive_scores, load_retrieval_model
from desktop_app.retrieval.indexer import Indexer
from desktop_app.retrieval.store import IndexStore, index_path
from testkit import badinputs
from tests.retrieval.conftest import drawn

COLOURS = ["red", "blue", "green", "yellow", "black", "white"]


@pytest.fixture(autouse=True)
def own_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


@pytest.fixture
def pictures(tmp_path):
    folder = tmp_path / "pictures"
    (folder / "trip").mkdir(parents=True)
    for i, colour in enumerate(COLOURS):
        drawn(colour, "circle" if i % 2 else "square", size=(60 + i, 50)).save(folder / ("trip" if i < 2 else "") / f"{colour}.png")
    (folder / ".hidden.png").write_bytes(b"")  # hidden: never looked at
    (folder / "notes.txt").write_text("not a picture")
    return folder


def _index(capsys, *args):
    code = main(["index", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_index_then_search_ranks_by_the_models_own_scores(tiny_retrieval, pictures, capsys):
    model = str(tiny_retrieval["other"])
    code, out, err = _index(capsys, pictures, "--model", model, "--precision", "fp32")
    assert code == 0, err
    assert "Indexed 6 pictures: 6 new, 0 unchanged. The index holds 6 pictures." in out
    assert "pictures/s" in err and "done" in err
    assert main(["search", "a red square", "--model", model, "--top", "6", "--json", "--rerank", "0",
                 "--precision", "fp32"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [set(item) for item in lines] == [{"image", "score", "caption"}] * 6
    retrieval = load_retrieval_model(model, precision="fp32")
    text = retrieval.text_embeddings(["a red square"])[0]
    from desktop_app.retrieval.indexer import open_for_model

    embeds = {item["image"]: retrieval.image_embeddings([open_for_model(item["image"])]) for item in lines}
    # the index keeps float16: rank by what it keeps, and the scores stay close to full precision
    kept = {p: float(contrastive_scores(e.astype(np.float16).astype(np.float32), text)[0]) for p, e in embeds.items()}
    assert [item["image"] for item in lines] == sorted(kept, key=lambda p: -kept[p])
    for item in lines:
        assert item["score"] == pytest.approx(kept[item["image"]], abs=1e-5)
        assert item["score"] == pytest.approx(float(contrastive_scores(embeds[item["image"]], text)[0]), abs=2e-3)


def test_matching_head_reranks_the_top(tiny_retrieval, pictures, capsys):
    model = str(tiny_retrieval["other"])
    _index(capsys, pictures, "--model", model)
    assert main(["search", "a blue circle", "--model", model, "--top", "6", "--json", "--rerank", "4"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    matched = [item["match"] for item in lines[:4]]
    assert matched == sorted(matched, reverse=True) and all("match" not in item for item in lines[4:])


def test_folder_filter_and_plain_output(tiny_retrieval, pictures, capsys):
    model = str(tiny_retrieval["other"])
    _index(capsys, pictures, "--model", model)
    assert main(["search", "a red square", "--model", model, "--folder", str(pictures / "trip")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert sorted(out) == sorted(str(p) for p in (pictures / "trip").iterdir())


def test_second_run_skips_unchanged_and_notices_changes(tiny_retrieval, pictures, capsys):
    model = str(tiny_retrieval["other"])
    _index(capsys, pictures, "--model", model)
    code, out, _ = _index(capsys, pictures, "--model", model)
    assert "0 new, 6 unchanged" in out
    red = pictures / "trip" / "red.png"
    os.utime(red, ns=(1, 1))  # only the time changed: the hash says it is the same picture
    drawn("purple").save(pictures / "yellow.png")  # changed contents
    shutil.copy(pictures / "green.png", pictures / "copy of green.png")  # same contents as an indexed one
    (pictures / "black.png").unlink()  # gone
    code, out, _ = _index(capsys, pictures, "--model", model)
    assert code == 0
    assert "Indexed 6 pictures: 1 new, 5 unchanged; 1 gone from the folders and forgotten." in out
    with IndexStore() as store:
        assert store.file(str(red)).mtime_ns == 1
        assert store.file(str(pictures / "black.png")) is None


def test_bad_and_huge_pictures_are_skipped_with_one_line_each(tiny_retrieval, pictures, capsys):
    for name in ("fifo", "bomb", "truncated-png", "text-named-png", "zero-bytes", "dev-zero-link"):
        badinputs.make(badinputs.BAD_PICTURES, name, pictures / "bad")
    with badinputs.hang_guard(120):
        code, out, err = _index(capsys, pictures, "--model", str(tiny_retrieval["other"]))
    assert code == 0
    skipped = [line for line in err.splitlines() if line.startswith("lookaloud: Skipped:")]
    assert len(skipped) == 6, err
    assert all(line.endswith(".") for line in skipped)
    assert "6 new, 0 unchanged, 6 skipped" in out


def test_stopping_keeps_finished_batches_and_the_next_run_continues(tiny_retrieval, pictures):
    retrieval = load_retrieval_model(str(tiny_retrieval["other"]), precision="fp32")
    real = retrieval.image_embeddings
    calls = []

    def interrupted(images):
        calls.append(len(images))
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl+C while the second batch is being embedded
        return real(images)

    retrieval.image_embeddings = interrupted  # type: ignore[method-assign]
    with IndexStore() as store:
        summary = Indexer(store, retrieval, batch=2).run([pictures])
        assert summary.stopped and summary.embedded == 2 and store.count() == 2
    retrieval.image_embeddings = real  # type: ignore[method-assign]
    with IndexStore() as store:
        summary = Indexer(store, retrieval, batch=2).run([pictures])
        assert not summary.stopped and summary.unchanged == 2 and summary.embedded == 4 and store.count() == 6


def test_ctrl_c_in_the_command_says_what_was_kept(tiny_retrieval, pictures, capsys, monkeypatch):
    from desktop_app.retrieval import indexer

    real = indexer.Indexer._embed
    calls = []

    def once_then_stop(self, items, summary):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        real(self, items, summary)

    monkeypatch.setattr(indexer, "BATCH", 2)
    monkeypatch.setattr(indexer.Indexer, "_embed", once_then_stop)
    monkeypatch.setattr(indexer.Indexer.__init__, "__defaults__", (None, None, 2))
    code, _, err = _index(capsys, pictures, "--model", str(tiny_retrieval["other"]))
    assert code == 130
    assert "Stopped. The pictures done so far are kept (2 new, 0 unchanged); run the same command again" in err


def test_a_new_model_revision_asks_to_index_again(tiny_retrieval, pictures, capsys, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_retrieval["other"], model)
    _index(capsys, pictures, "--model", model)
    weights = model / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))  # retrained
    assert main(["search", "a red square", "--model", str(model)]) == 1
    assert "indexed with another version of the model" in capsys.readouterr().err
    _, out, _ = _index(capsys, pictures, "--model", model)
    assert "6 new, 0 unchanged" in out


def test_forget_removes_everything(tiny_retrieval, pictures, capsys):
    model = str(tiny_retrieval["other"])
    _index(capsys, pictures, "--model", model)
    kept = list(index_path().parent.glob("*.matrix-*"))
    assert len(kept) == 2  # the index run left the matrix ready for the first search
    code, out, _ = _index(capsys, "--forget")
    assert code == 0 and "forgot every picture" in out
    assert not list(index_path().parent.glob("*.matrix-*"))
    with IndexStore() as store:
        assert store.count() == 0
    assert main(["search", "a red square", "--model", model]) == 1
    assert "No pictures are indexed" in capsys.readouterr().err
    assert index_path().is_file()


def test_forget_one_folder(tiny_retrieval, pictures, capsys):
    _index(capsys, pictures, "--model", str(tiny_retrieval["other"]))
    code, out, _ = _index(capsys, "--forget", pictures / "trip")
    assert code == 0 and "forgot 2 indexed pictures" in out
    with IndexStore() as store:
        assert store.count() == 4


def test_captions_through_one_shared_vision_pass(tiny_retrieval, pictures, capsys):
    code, _out, err = _index(capsys, pictures, "--model", tiny_retrieval["shared"], "--captions",
                            "--caption-model", tiny_retrieval["captioner"])
    assert code == 0, err
    assert "share their vision encoder" in err
    with IndexStore() as store:
        captions = [store.file(str(p)).caption for p in pictures.rglob("*.png") if not p.name.startswith(".")]
    assert len(captions) == 6 and all(captions)
    assert main(["search", "a red square", "--model", str(tiny_retrieval["shared"]), "--top", "1"]) == 0
    line = capsys.readouterr().out.strip()
    assert ": " in line  # the file, then its caption


def test_bad_queries_and_missing_folders(tiny_retrieval, capsys, tmp_path):
    assert main(["search", "   "]) == 2
    assert "The search is empty" in capsys.readouterr().err
    assert main(["index", str(tmp_path / "nowhere")]) == 2
    assert "There is no folder or file called" in capsys.readouterr().err
    assert main(["index", os.fsdecode(b"/tmp/\xff")]) == 2
    assert "name is not valid text" in capsys.readouterr().err
    assert main(["search", "a cat", "--folder", os.fsdecode(b"/tmp/\xff")]) == 2
    assert "name is not valid text" in capsys.readouterr().err
    assert main(["index", str(tmp_path), "--model", str(tmp_path / "nowhere")]) == 3
    assert "There is no picture search model called" in capsys.readouterr().err


def test_unindexed_search_says_what_to_do(tiny_retrieval, capsys):
    assert main(["search", "a cat", "--model", str(tiny_retrieval["other"])]) == 1
    assert "Index a folder first: lookaloud index FOLDER" in capsys.readouterr().err


def test_odd_file_names(tiny_retrieval, tmp_path, capsys):
    folder = tmp_path / "odd"
    folder.mkdir()
    drawn("red").save(os.fsdecode(bytes(folder) + b"/\xff\xfe.png"), format="PNG")  # not UTF-8
    drawn("blue").save(folder / "café 100%_x.png")  # LIKE wildcards and accents
    code, out, err = _index(capsys, folder, "--model", tiny_retrieval["other"])
    assert code == 0
    assert "has a name that is not valid text, so it cannot be indexed; rename it." in err
    assert "1 new, 0 unchanged, 1 skipped" in out
    assert main(["search", "a blue circle", "--model", str(tiny_retrieval["other"]), "--folder", str(folder)]) == 0
    assert capsys.readouterr().out.strip() == str(folder / "café 100%_x.png")
