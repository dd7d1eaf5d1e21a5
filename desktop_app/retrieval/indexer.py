"""Indexing folders of pictures: find them, skip what is unchanged, embed and caption the rest.

A file is unchanged when its size and modification time are those recorded and an embedding by
the current model revision exists; a file whose time changed but whose SHA-256 did not is only
re-dated; a file with the same contents as one already indexed (a copy, a move) takes that
embedding. Everything else is read once (guarded: desktop_app/userfiles.py and vision/images.py
refuse pipes, devices, huge files and pixel bombs), decoded, embedded in small batches, and
committed batch by batch, so stopping (Ctrl+C, the cancel event) keeps all finished batches and
the next run continues. A picture that cannot be read is skipped with one sentence.

Captions are optional (a captioning model is slow on a CPU); when the describer's vision encoder
is the retrieval model's (shared_vision.py), captioning a picture embeds it for almost nothing.
Runs on one thread: the one that loaded the models and opened the store.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.retrieval.engine import RetrievalModel
from desktop_app.retrieval.store import IndexStore

PICTURE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".ppm",
                              ".pgm", ".pbm", ".pnm", ".tga", ".ico", ".jfif"})
BATCH = 8
# Pictures are kept this size at most while they wait for their batch: the models see 224 to
# 384 pixels square, and eight 8000 x 8000 photos would otherwise hold 1.5 GB.
MODEL_INPUT_PIXELS = 2_000_000


@dataclass
class IndexProgress:
    """Where an index run is: pictures looked at out of the total, and the speed of the work."""

    done: int
    total: int
    embedded: int
    per_second: float  # pictures embedded per second (the slow part); 0 until known
    seconds_left: float | None
    current: str = ""


@dataclass
class IndexSummary:
    """What an index run did."""

    total: int = 0
    embedded: int = 0
    unchanged: int = 0
    reused: int = 0  # same contents as a picture already indexed
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, sentence)
    removed: int = 0
    stopped: bool = False
    shared_vision_passes: int = 0


def model_input(image: Any) -> Any:
    """The picture as the index and the re-ranking both hand it to the models."""
    from desktop_app.vision.images import bounded_copy

    return bounded_copy(image, MODEL_INPUT_PIXELS)


def open_for_model(path: str | Path) -> Any:
    """A picture file, guarded and reduced as the index reads it; raises PictureError."""
    from desktop_app.vision.images import load_picture

    return model_input(load_picture(path))


def find_pictures(folders: list[Path]) -> Iterator[Path]:
    """Picture files under the folders (by suffix; hidden files and folders left out; links to
    folders not followed), sorted, each once."""
    seen: set[Path] = set()
    for folder in folders:
        if folder.is_file():
            candidates: list[Path] = [folder]
        else:
            candidates = []
            for root, dirs, files in os.walk(folder):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                candidates.extend(Path(root) / f for f in sorted(files) if not f.startswith("."))
        for path in candidates:
            if path.suffix.lower() in PICTURE_SUFFIXES and path not in seen:
                seen.add(path)
                yield path


class Indexer:
    """Indexes pictures into a store with a retrieval model (and optionally a captioner)."""

    def __init__(self, store: IndexStore, retrieval: RetrievalModel, captioner: Any = None,
                 shared: Any = None, batch: int = BATCH) -> None:
        self.store = store
        self.retrieval = retrieval
        self.captioner = captioner  # a vision.loader.LoadedModel, or None for no captions
        self.shared = shared  # a shared_vision.SharedVision for the captioner, or None
        self.batch = max(1, batch)
        self.model_id = store.model_id(retrieval.model_name, retrieval.model_revision, retrieval.num_queries,
                                       retrieval.dimension)

    def run(self, folders: list[Path], progress: Callable[[IndexProgress], None] | None = None,
            skipped: Callable[[str, str], None] | None = None,
            cancel: threading.Event | None = None) -> IndexSummary:
        """Index every picture under `folders`. Ctrl+C or `cancel` stops after committing what
        is finished (summary.stopped). Forgets files that are gone from a folder indexed whole."""
        folders = [Path(f).expanduser().resolve() for f in folders]
        paths = list(find_pictures(folders))
        summary = IndexSummary(total=len(paths))
        pending: list[tuple[Path, int, int, str, Any]] = []
        embed_seconds = 0.0
        present: set[str] = set()

        def report(done: int, current: str = "") -> None:
            if progress is None:
                return
            speed = summary.embedded / embed_seconds if embed_seconds > 0 else 0.0
            remaining = summary.total - done
            left = remaining / speed if speed > 0 else (0.0 if remaining == 0 else None)
            progress(IndexProgress(done, summary.total, summary.embedded, speed, left, current))

        def flush() -> None:
            nonlocal embed_seconds
            if not pending:
                return
            start = time.monotonic()
            self._embed(pending, summary)
            embed_seconds += time.monotonic() - start
            self.store.commit()
            pending.clear()

        done = 0
        try:
            report(0)
            for folder in folders:
                if folder.is_dir():
                    self.store.add_folder(str(folder))
            for done, path in enumerate(paths, 1):
                if cancel is not None and cancel.is_set():
                    raise KeyboardInterrupt
                present.add(str(path))
                item = self._look(path, summary, skipped)
                if item is not None:
                    pending.append(item)
                    if len(pending) >= self.batch:
                        flush()
                        report(done, path.name)
                elif done % 50 == 0:
                    report(done, path.name)
            flush()
            for folder in folders:
                if folder.is_dir():
                    summary.removed += self.store.remove_missing(str(folder), present)
            self.store.commit()
            self.store.prepare_search(self.model_id)
            report(done)
        except KeyboardInterrupt:
            summary.stopped = True
            self.store.commit()  # finished batches stay; the batch in flight is done next time
        return summary

    def _look(self, path: Path, summary: IndexSummary,
              skipped: Callable[[str, str], None] | None) -> tuple[Path, int, int, str, Any] | None:
        """None when the file needs no work (or cannot be used); else what to embed."""
        from desktop_app.userfiles import open_regular_file
        from desktop_app.vision.images import MAX_FILE_BYTES, PictureError, open_picture

        key = str(path)
        who = f"The file {path.name}"
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:  # a Linux name that is not text: SQLite and the terminal need text
            name = os.fsencode(path.name).decode("utf-8", "replace")
            sentence = f"The file {name} has a name that is not valid text, so it cannot be indexed; rename it."
            summary.skipped.append((key, sentence))
            if skipped is not None:
                skipped(key, sentence)
            return None
        try:
            info = path.stat()
            record = self.store.file(key)
            wanted = record is not None and self.store.has_embedding(record.id, self.model_id) \
                and (record.caption or self.captioner is None)  # asked for captions: add the missing ones
            if wanted and record is not None and (record.size, record.mtime_ns) == (info.st_size, info.st_mtime_ns):
                summary.unchanged += 1
                return None
            with open_regular_file(path, MAX_FILE_BYTES, who, "a picture", PictureError) as file:
                data = file.read(MAX_FILE_BYTES + 1)
            digest = hashlib.sha256(data).hexdigest()
            if wanted and record is not None and record.sha256 == digest:
                self.store.touch(record.id, info.st_size, info.st_mtime_ns)
                summary.unchanged += 1
                return None
            known = self.store.embedding_by_hash(digest, self.model_id)
            if known is not None and (known[1] or self.captioner is None):
                self.store.put(key, info.st_size, info.st_mtime_ns, digest, known[1], self.model_id, known[0])
                summary.reused += 1
                return None
            image = model_input(open_picture(data, source=path))
        except (PictureError, OSError) as exc:
            sentence = str(exc) if isinstance(exc, PictureError) else f"{who} could not be read: {exc.strerror or exc}."
            summary.skipped.append((key, sentence))
            if skipped is not None:
                skipped(key, sentence)
            return None
        return path, info.st_size, info.st_mtime_ns, digest, image

    def _embed(self, items: list[tuple[Path, int, int, str, Any]], summary: IndexSummary) -> None:
        captions = [""] * len(items)
        vectors: list[np.ndarray | None] = [None] * len(items)
        if self.captioner is not None:
            from desktop_app.vision.session import ImageSession

            for i, (_path, _size, _mtime, _digest, image) in enumerate(items):
                captions[i] = ImageSession(self.captioner, image).caption()
                if self.shared is not None:
                    embeds, reused = self.shared.embed(image)
                    if reused:
                        vectors[i] = embeds
                        summary.shared_vision_passes += 1
        missing = [i for i, v in enumerate(vectors) if v is None]
        if missing:
            embeds = self.retrieval.image_embeddings([items[i][4] for i in missing])
            for i, e in zip(missing, embeds, strict=True):
                vectors[i] = e
        for (path, size, mtime, digest, _image), caption, vector in zip(items, captions, vectors, strict=True):
            self.store.put(str(path), size, mtime, digest, caption, self.model_id, vector)  # type: ignore[arg-type]
            summary.embedded += 1
