"""Answering a search: the index's best pictures for a text, re-ranked by the matching head.

`search()` serves `lookaloud search`; `PictureFinder` serves the app's Find picture dialog and
adds the pictures of the history (kept in memory by the controller) to the indexed folders. Both
rank every candidate by the contrastive score, then re-rank the best `rerank` of them with the
image-text matching head, which must see each picture again (a file is reopened; one that is gone
keeps its place after the re-ranked ones): by the head's probability, or, where the model's
folder asks for it (engine.RerankSetting), by the contrastive and matching scores added, or not
at all. Qt-free; runs on the thread that loaded the model.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.retrieval.engine import (
    RetrievalModel,
    contrastive_scores,
    load_retrieval_model,
    matching_probability,
)
from desktop_app.retrieval.store import IndexStore

DEFAULT_TOP = 10
# Pictures re-ranked by the matching head on a GPU or with a small model; with a big model on a
# processor each costs a vision pass (1.6 s for ViT-g here), so there it is off unless asked.
DEFAULT_RERANK = 10
SMALL_MODEL_PARAMETERS = 100_000_000


class NotIndexedError(LookupError):
    """Nothing can be searched with this model; str() says why and what to run."""


@dataclass(frozen=True)
class Found:
    """One result: a file in the index or a picture of the history."""

    score: float  # the contrastive score, comparable across results of one search
    caption: str
    path: str = ""
    picture_id: int | None = None  # a history picture
    match: float | None = None  # the matching head's probability, for re-ranked results

    @property
    def name(self) -> str:
        return Path(self.path).name if self.path else ""


def default_rerank(retrieval: RetrievalModel) -> int:
    """How many of the best results the matching head re-ranks: none where the model's folder
    says re-ranking does not help it, or for a big model on a processor."""
    if retrieval.rerank.order == "off":
        return 0
    parameters = sum(p.numel() for p in retrieval.model.parameters())
    return DEFAULT_RERANK if retrieval.device != "cpu" or parameters < SMALL_MODEL_PARAMETERS else 0


def index_model_id(store: IndexStore, retrieval: RetrievalModel) -> int | None:
    """The index's id for this model revision, or None; NotIndexedError when only another
    revision of it was indexed."""
    model_id = store.find_model(retrieval.model_name, retrieval.model_revision)
    if model_id is None and store.has_other_revision(retrieval.model_name, retrieval.model_revision):
        raise NotIndexedError(
            f"The pictures were indexed with another version of the model {retrieval.model_name}, so they must be "
            "indexed again: run lookaloud index with the same folders."
        )
    return model_id


def rerank(retrieval: RetrievalModel, query: str, results: list[Found], count: int,
           open_picture: Callable[[Found], Any]) -> list[Found]:
    """The first `count` results ordered by the matching head (best first; or by the contrastive
    and matching scores added, as the model's RerankSetting says), the rest after."""
    head, tail = results[:count], results[count:]
    pictures, matched, unmatched = [], [], []
    for found in head:
        try:
            pictures.append(open_picture(found))
            matched.append(found)
        except Exception:  # noqa: BLE001 - a picture gone or damaged since: keep it, unranked
            unmatched.append(found)
    if not matched:
        return results
    log_odds: list[float] = []
    for start in range(0, len(pictures), 8):
        log_odds.extend(float(d) for d in retrieval.matching_log_odds(pictures[start:start + 8], query))
    setting = retrieval.rerank
    if setting.order == "combined":
        keys = [f.score / setting.temperature + setting.weight * d for f, d in zip(matched, log_odds, strict=True)]
    else:
        keys = log_odds  # the same order as the probability, without its rounding to 1.0
    scored = [(key, replace(f, match=float(matching_probability(d)))) for f, d, key in zip(matched, log_odds, keys, strict=True)]
    scored.sort(key=lambda pair: -pair[0])  # stable: ties keep the contrastive order
    return [*(f for _, f in scored), *unmatched, *tail]


def _open_file(found: Found) -> Any:
    from desktop_app.retrieval.indexer import open_for_model

    return open_for_model(found.path)


def search(retrieval: RetrievalModel, store: IndexStore, query: str, top: int = DEFAULT_TOP, folder: str = "",
           rerank_count: int | None = None) -> list[Found]:
    """The indexed pictures best matching `query`, best first. Raises NotIndexedError."""
    query = " ".join(query.split())
    if not query:
        raise ValueError("The search is empty: say what the picture shows.")
    model_id = index_model_id(store, retrieval)
    if model_id is None or store.count(model_id) == 0:
        raise NotIndexedError(f"No pictures are indexed with the model {retrieval.model_name} yet. "
                              "Index a folder first: lookaloud index FOLDER")
    count = default_rerank(retrieval) if rerank_count is None else max(0, rerank_count)
    text = retrieval.text_embeddings([query])[0]
    hits = store.search(model_id, text, max(top, count), folder=folder)
    results = [Found(h.score, h.caption, path=h.path) for h in hits]
    if count:
        results = rerank(retrieval, query, results, count, _open_file)
    return results[:top]


class PictureFinder:
    """Searches the history and the indexed folders for the app. Create, use and close it on one
    thread that is not the GUI thread (the model loads on first use)."""

    def __init__(self, model: str | None = None, device: str = "auto", precision: str = "auto",
                 store_path: Path | None = None) -> None:
        self.model_name = model
        self.device = device
        self.precision = precision
        self.store_path = store_path
        self.retrieval: RetrievalModel | None = None
        self.store: IndexStore | None = None
        self._history: dict[int, np.ndarray] = {}  # picture id -> its query embeddings

    def load(self) -> RetrievalModel:
        """Load the model and open the index (once). Raises what load_retrieval_model raises."""
        if self.retrieval is None:
            self.retrieval = load_retrieval_model(self.model_name, self.device, self.precision)
        if self.store is None:
            self.store = IndexStore(self.store_path)
        return self.retrieval

    def find(self, query: str, history: Sequence[tuple[int, Any, str]], top: int = DEFAULT_TOP,
             cancel: threading.Event | None = None) -> list[Found]:
        """The pictures best matching `query`: history items (id, picture, description) and
        indexed files together, best first. Raises ValueError for an empty query."""
        query = " ".join(query.split())
        if not query:
            raise ValueError("The search is empty: say what the picture shows.")
        retrieval = self.load()
        assert self.store is not None
        text = retrieval.text_embeddings([query])[0]
        count = default_rerank(retrieval)
        results: list[Found] = []
        pictures = {pid: image for pid, image, _ in history}
        for pid, image, description in history:
            if cancel is not None and cancel.is_set():
                return []
            if pid not in self._history:
                self._history[pid] = retrieval.image_embeddings([image])[0]
            score = float(contrastive_scores(self._history[pid][None], text)[0])
            results.append(Found(score, description, picture_id=pid))
        for stale in set(self._history) - set(pictures):
            del self._history[stale]  # dropped from the history: its picture is not kept here either
        try:
            model_id = index_model_id(self.store, retrieval)
        except NotIndexedError:
            model_id = None  # the history is still searched
        if model_id is not None:
            results += [Found(h.score, h.caption, path=h.path) for h in self.store.search(model_id, text, max(top, count))]
        results.sort(key=lambda f: -f.score)
        if count:
            results = rerank(retrieval, query, results, count,
                             lambda f: pictures[f.picture_id] if f.picture_id is not None else _open_file(f))
        return results[:top]

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
        self.store = None
        self.retrieval = None
        self._history.clear()
