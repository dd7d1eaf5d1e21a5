"""The picture index: one SQLite file under the user's data folder, searched with numpy.

What it holds, and nothing more: for each picture file its path, size, modification time and
SHA-256 (to know what is unchanged), the caption the describer gave it (optional), and for each
search model (name + revision) the picture's query embeddings as float16 blobs
([queries, dimension], normalised). Pictures themselves are never copied into it.

Embeddings of one model revision are never compared with another's: `model_id()` for a new
revision of a model drops the old revision's embeddings, so the next `lookaloud index` embeds
those pictures again.

Searching: the blobs of one model are read once into one float16 matrix
[pictures * queries, dimension] (kept while the index does not change: SQLite's data_version
tells), a text embedding is multiplied in (in float32, block by block), and the best query per
picture is its score. Reading 10,000 blobs out of SQLite takes 0.2 s or more, so that matrix is
also kept beside the index, per model (`<index>.matrix-<model id>-<generation>.npy` and
`.ids.npy`: the same float16 numbers and the file ids, no names), valid while the index's
embedding generation (counted by triggers on every change) is the one in its name; a new
process memory-maps it instead of reading every row.
Forgetting deletes those files too.

A store object belongs to the thread that opened it (sqlite3's rule); open one per thread.
"""

from __future__ import annotations

import os
import sqlite3
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from typing_extensions import Self

from desktop_app import paths

INDEX_FILE = "picture-index.sqlite3"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, revision TEXT NOT NULL,
    queries INTEGER NOT NULL, dimension INTEGER NOT NULL, UNIQUE (name, revision));
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL, caption TEXT NOT NULL DEFAULT '', indexed_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS files_sha256 ON files (sha256);
CREATE TABLE IF NOT EXISTS embeddings (
    file_id INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    model_id INTEGER NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    vectors BLOB NOT NULL, PRIMARY KEY (file_id, model_id));
CREATE TABLE IF NOT EXISTS folders (path TEXT PRIMARY KEY, added_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS generation (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
INSERT OR IGNORE INTO generation VALUES (1, 0);
CREATE TRIGGER IF NOT EXISTS embedding_added AFTER INSERT ON embeddings
    BEGIN UPDATE generation SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS embedding_removed AFTER DELETE ON embeddings
    BEGIN UPDATE generation SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS embedding_changed AFTER UPDATE ON embeddings
    BEGIN UPDATE generation SET value = value + 1; END;
"""


class IndexUnusableError(RuntimeError):
    """The index file cannot be used; str() is one sentence for the user."""


def index_path() -> Path:
    return paths.data_dir() / INDEX_FILE


@dataclass(frozen=True)
class FileRecord:
    """What the index knows about one picture file."""

    id: int
    path: str
    size: int
    mtime_ns: int
    sha256: str
    caption: str


@dataclass(frozen=True)
class Hit:
    """One search result: a picture file, its score (higher is closer) and its caption."""

    path: str
    score: float
    caption: str


class IndexStore:
    """The index file, opened for this thread."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else index_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Private from the first byte (file names and captions say what is in the user's
            # pictures); SQLite gives its -wal and -shm files the same mode.
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0), 0o600))
            self.path.chmod(0o600)
            # Another index run may be writing: wait for it rather than fail at once.
            self.db = sqlite3.connect(str(self.path), timeout=30)
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.execute("PRAGMA journal_mode = WAL")  # a search reads while an index run writes
            self.db.executescript(_SCHEMA)
            version = self.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if version is None:
                self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                self.db.commit()
            elif version[0] != str(SCHEMA_VERSION):
                raise IndexUnusableError(f"The picture index {self.path} was made by another version of "
                                         "Lookaloud; forget it with: lookaloud index --forget")
        except sqlite3.OperationalError as exc:  # locked for too long, read-only, disk full
            raise IndexUnusableError(f"The picture index {self.path} cannot be used now: {exc}.") from None
        except sqlite3.DatabaseError as exc:
            raise IndexUnusableError(f"The picture index {self.path} is damaged ({exc}); "
                                     "forget it with: lookaloud index --forget") from None
        except OSError as exc:
            raise IndexUnusableError(f"The picture index {self.path} cannot be created: "
                                     f"{exc.strerror or exc}.") from None
        self._cache: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- models ---------------------------------------------------------------------------

    def model_id(self, name: str, revision: str, queries: int, dimension: int) -> int:
        """The id of a model revision, created if new; other revisions of the same name are
        dropped with their embeddings (they must never be compared with this one's)."""
        row = self.db.execute("SELECT id, queries, dimension FROM models WHERE name = ? AND revision = ?",
                              (name, revision)).fetchone()
        if row is not None and (row[1], row[2]) == (queries, dimension):
            return int(row[0])
        with self.db:
            for (old_id,) in self.db.execute("SELECT id FROM models WHERE name = ?", (name,)).fetchall():
                for path in self.matrix_files(int(old_id)):
                    path.unlink(missing_ok=True)
            self.db.execute("DELETE FROM models WHERE name = ?", (name,))
            cursor = self.db.execute("INSERT INTO models (name, revision, queries, dimension) VALUES (?, ?, ?, ?)",
                                     (name, revision, queries, dimension))
        return int(cursor.lastrowid or 0)

    def find_model(self, name: str, revision: str) -> int | None:
        row = self.db.execute("SELECT id FROM models WHERE name = ? AND revision = ?", (name, revision)).fetchone()
        return int(row[0]) if row else None

    def has_other_revision(self, name: str, revision: str) -> bool:
        row = self.db.execute("SELECT 1 FROM models WHERE name = ? AND revision != ?", (name, revision)).fetchone()
        return row is not None

    # ---- files ----------------------------------------------------------------------------

    def file(self, path: str) -> FileRecord | None:
        row = self.db.execute("SELECT id, path, size, mtime_ns, sha256, caption FROM files WHERE path = ?",
                              (path,)).fetchone()
        return FileRecord(*row) if row else None

    def has_embedding(self, file_id: int, model_id: int) -> bool:
        return self.db.execute("SELECT 1 FROM embeddings WHERE file_id = ? AND model_id = ?",
                               (file_id, model_id)).fetchone() is not None

    def embedding_by_hash(self, sha256: str, model_id: int) -> tuple[bytes, str] | None:
        """The embedding and caption of any indexed file with these contents (a copy or a moved file)."""
        row = self.db.execute(
            "SELECT e.vectors, f.caption FROM files f JOIN embeddings e ON e.file_id = f.id "
            "WHERE f.sha256 = ? AND e.model_id = ? LIMIT 1", (sha256, model_id)).fetchone()
        return (bytes(row[0]), str(row[1])) if row else None

    def touch(self, file_id: int, size: int, mtime_ns: int) -> None:
        """The file's contents are unchanged (same hash): remember its new size and time."""
        self.db.execute("UPDATE files SET size = ?, mtime_ns = ? WHERE id = ?", (size, mtime_ns, file_id))

    def put(self, path: str, size: int, mtime_ns: int, sha256: str, caption: str, model_id: int,
            vectors: np.ndarray | bytes) -> None:
        """Add or replace one picture and its embedding (not committed: see commit())."""
        blob = vectors if isinstance(vectors, bytes) else np.ascontiguousarray(vectors, dtype=np.float16).tobytes()
        old = self.file(path)
        if old is not None and old.sha256 != sha256:
            self.db.execute("DELETE FROM embeddings WHERE file_id = ?", (old.id,))
        self.db.execute(
            "INSERT INTO files (path, size, mtime_ns, sha256, caption, indexed_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
            "sha256 = excluded.sha256, caption = excluded.caption, indexed_at = excluded.indexed_at",
            (path, size, mtime_ns, sha256, caption, time.time()))
        file_id = self.db.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()[0]
        self.db.execute("INSERT OR REPLACE INTO embeddings (file_id, model_id, vectors) VALUES (?, ?, ?)",
                        (file_id, model_id, blob))

    def remove_missing(self, under: str, present: set[str]) -> int:
        """Forget files under a folder that are no longer there; returns how many."""
        prefix = under.rstrip("/\\") + os.sep
        rows = self.db.execute("SELECT id, path FROM files WHERE path LIKE ? ESCAPE '\\'",
                               (_like_prefix(prefix),)).fetchall()
        gone = [(fid,) for fid, path in rows if path not in present]
        self.db.executemany("DELETE FROM files WHERE id = ?", gone)
        return len(gone)

    def forget_under(self, folder: str) -> int:
        """Forget the pictures under a folder and the folder itself; returns how many."""
        prefix = folder.rstrip("/\\") + os.sep
        with self.db:
            gone = self.db.execute("DELETE FROM files WHERE path LIKE ? ESCAPE '\\' OR path = ?",
                                   (_like_prefix(prefix), folder)).rowcount
            self.db.execute("DELETE FROM folders WHERE path = ? OR path LIKE ? ESCAPE '\\'",
                            (folder, _like_prefix(prefix)))
        self._drop_matrix_files()  # they held the forgotten pictures' embeddings
        return int(gone)

    def add_folder(self, folder: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO folders VALUES (?, ?)", (folder, time.time()))

    def folders(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT path FROM folders ORDER BY path")]

    def count(self, model_id: int | None = None) -> int:
        if model_id is None:
            return int(self.db.execute("SELECT COUNT(*) FROM files").fetchone()[0])
        return int(self.db.execute("SELECT COUNT(*) FROM embeddings WHERE model_id = ?", (model_id,)).fetchone()[0])

    def commit(self) -> None:
        self.db.commit()

    def forget_all(self) -> None:
        """Forget every picture, caption, embedding and folder (the file stays, empty)."""
        with self.db:
            for table in ("embeddings", "files", "models", "folders"):  # sqlite_sequence keeps only numbers
                self.db.execute(f"DELETE FROM {table}")
        # The freed pages and the write-ahead log held names and captions: leave none behind.
        self.db.execute("VACUUM")
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._drop_matrix_files()
        self._cache.clear()

    # ---- search ---------------------------------------------------------------------------

    def _generation(self) -> int:
        return int(self.db.execute("SELECT value FROM generation WHERE id = 1").fetchone()[0])

    def matrix_files(self, model_id: int) -> list[Path]:
        """The kept matrix files of a model, of any generation."""
        return sorted(self.path.parent.glob(f"{self.path.name}.matrix-{model_id}-*"))

    def _matrix_paths(self, model_id: int, generation: int) -> tuple[Path, Path]:
        base = f"{self.path.name}.matrix-{model_id}-{generation}"
        return self.path.with_name(base + ".npy"), self.path.with_name(base + ".ids.npy")

    def _drop_matrix_files(self) -> None:
        self._cache.clear()  # our own mapping of them first (Windows cannot delete a mapped file)
        for path in self.path.parent.glob(f"{self.path.name}.matrix-*"):
            try:
                path.unlink(missing_ok=True)
            except OSError:  # mapped by a search in another process (Windows): removed next time
                pass

    def _matrix(self, model_id: int) -> tuple[np.ndarray, np.ndarray]:
        """File ids and their embeddings as one float16 [files, queries, dimension] array."""
        version = int(self.db.execute("PRAGMA data_version").fetchone()[0]) + self.db.total_changes
        cached = self._cache.get(model_id)
        if cached is not None and cached[0] == version:
            return cached[1], cached[2]
        queries, dimension = self.db.execute("SELECT queries, dimension FROM models WHERE id = ?",
                                             (model_id,)).fetchone()
        generation = self._generation()
        kept = self._read_matrix_file(model_id, generation, queries, dimension)
        if kept is None:
            kept = self._read_matrix_rows(model_id, queries, dimension)
            self._write_matrix_file(model_id, generation, *kept)
        self._cache = {model_id: (version, *kept)}
        return kept

    def _read_matrix_rows(self, model_id: int, queries: int, dimension: int) -> tuple[np.ndarray, np.ndarray]:
        size = queries * dimension * 2
        ids: list[int] = []
        blobs: list[bytes] = []
        for file_id, blob in self.db.execute("SELECT file_id, vectors FROM embeddings WHERE model_id = ?",
                                             (model_id,)):
            if len(blob) == size:  # a damaged row is left out, never read at the wrong width
                ids.append(int(file_id))
                blobs.append(blob)
        half = np.empty((len(ids), queries, dimension), dtype=np.float16)
        for i, blob in enumerate(blobs):
            half[i] = np.frombuffer(blob, dtype=np.float16).reshape(queries, dimension)
        return np.asarray(ids, dtype=np.int64), half

    def _read_matrix_file(self, model_id: int, generation: int, queries: int,
                          dimension: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The kept matrix of exactly this generation (the generation is in the file names, so a
        file being replaced is never mistaken for the current one), else None. The embeddings
        are memory-mapped: nothing is copied before the product reads them."""
        vectors, ids_path = self._matrix_paths(model_id, generation)
        try:
            ids = np.load(ids_path, allow_pickle=False)  # written last: the pair is complete
            half = np.load(vectors, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        if ids.dtype != np.int64 or ids.ndim != 1 or half.dtype != np.float16 \
                or half.shape != (len(ids), queries, dimension):
            return None
        return ids, half

    def _write_matrix_file(self, model_id: int, generation: int, ids: np.ndarray, half: np.ndarray) -> None:
        stale = self.matrix_files(model_id)
        written: list[Path] = []
        try:
            for path, array in zip(self._matrix_paths(model_id, generation), (half, ids), strict=True):
                tmp = path.with_name(path.name + ".tmp")
                written.append(tmp)
                fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
                with os.fdopen(fd, "wb") as file:
                    np.save(file, array, allow_pickle=False)
                os.replace(tmp, path)
        except OSError:  # a full disk: searches still work, reading SQLite
            for tmp in written:
                tmp.unlink(missing_ok=True)
            return
        keep = set(self._matrix_paths(model_id, generation))
        for path in stale:
            if path not in keep:
                try:
                    path.unlink(missing_ok=True)
                except OSError:  # open in another search on Windows: the next write removes it
                    pass

    def prepare_search(self, model_id: int) -> None:
        """Write the kept matrix now (the end of an index run), so that the first search after
        it does not read every row."""
        self._matrix(model_id)
        self._cache.clear()  # this process is done with it

    def _under(self, ids: np.ndarray, folder: str) -> np.ndarray:
        """Which of the file ids are of files under the folder (a boolean mask)."""
        rows = self.db.execute("SELECT id FROM files WHERE path LIKE ? ESCAPE '\\'",
                               (_like_prefix(folder.rstrip("/\\") + os.sep),)).fetchall()
        return np.isin(ids, np.asarray([r[0] for r in rows], dtype=np.int64))

    def search(self, model_id: int, text_embedding: np.ndarray, top: int = 10, folder: str = "") -> list[Hit]:
        """The `top` pictures closest to a text embedding, best first (contrastive score)."""
        ids, matrix = self._matrix(model_id)
        if folder and len(ids):
            mask = self._under(ids, folder)
            ids, matrix = ids[mask], matrix[mask]
        if not len(ids):
            return []
        n, q, d = matrix.shape
        scores = _dot(matrix.reshape(n * q, d), np.asarray(text_embedding, dtype=np.float32)).reshape(n, q).max(axis=1)
        top = max(1, min(top, n))
        best = np.argpartition(-scores, top - 1)[:top]
        best = best[np.argsort(-scores[best], kind="stable")]
        chosen = [int(ids[i]) for i in best]
        info = dict(self._files_info(chosen))
        return [Hit(info[fid][0], float(scores[i]), info[fid][1]) for fid, i in zip(chosen, best, strict=True)
                if fid in info]

    def _files_info(self, ids: list[int]) -> Iterator[tuple[int, tuple[str, str]]]:
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for fid, path, caption in self.db.execute(
                    f"SELECT id, path, caption FROM files WHERE id IN ({marks})", chunk):
                yield int(fid), (str(path), str(caption))


# Rows of the float16 matrix converted and multiplied at a time: a block that stays in the
# processor's cache. Converting 10,000 pictures' embeddings whole first took 0.56 s here (the
# float32 copy alone is 330 MB); block by block, conversion and product took 0.09 s.
_BLOCK_ROWS = 1024


def _dot(half: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """float16 rows . float32 vector, computed in float32, block by block (torch where it is
    installed: it converts float16 about three times faster than numpy)."""
    rows = half.shape[0]
    out = np.empty(rows, dtype=np.float32)
    try:
        import torch
    except ImportError:
        buffer = np.empty((_BLOCK_ROWS, half.shape[1]), dtype=np.float32)
        for start in range(0, rows, _BLOCK_ROWS):
            n = min(_BLOCK_ROWS, rows - start)
            buffer[:n] = half[start:start + n]
            np.dot(buffer[:n], vector, out=out[start:start + n])
        return out
    with warnings.catch_warnings():  # a memory-mapped matrix is read-only, and it is only read here
        warnings.simplefilter("ignore", UserWarning)
        source = torch.from_numpy(half)
    target, query = torch.from_numpy(out), torch.from_numpy(vector)
    block = torch.empty((_BLOCK_ROWS, half.shape[1]), dtype=torch.float32)
    for start in range(0, rows, _BLOCK_ROWS):
        n = min(_BLOCK_ROWS, rows - start)
        block[:n].copy_(source[start:start + n])
        torch.mv(block[:n], query, out=target[start:start + n])
    return out


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def add_many(store: IndexStore, rows: Iterable[tuple[str, int, int, str, str, int, np.ndarray]]) -> None:
    """Put many pictures at once and commit (benchmarks and tests)."""
    for row in rows:
        store.put(*row)
    store.commit()


FORGOTTEN = "Lookaloud forgot every picture it had indexed."


def forget_all_pictures(path: Path | None = None) -> str:
    """Forget the whole index (Settings' Forget all pictures, `lookaloud index --forget`); a
    damaged index is removed. Returns the sentence to tell the user. Any thread."""
    path = Path(path) if path is not None else index_path()
    if not path.exists():
        return FORGOTTEN
    try:
        with IndexStore(path) as store:
            store.forget_all()
    except IndexUnusableError:
        for extra in ("", "-wal", "-shm"):
            Path(str(path) + extra).unlink(missing_ok=True)
        for matrix in path.parent.glob(f"{path.name}.matrix-*"):
            matrix.unlink(missing_ok=True)
    return FORGOTTEN
