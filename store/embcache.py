"""A bounded cache of sentence embeddings across runs: a side SQLite file, not the archive.

Why a side file and not a table in the store: the vectors are derived data (any of them can be
recomputed from the sentence), they are large (1.5 KB a sentence in float32), and they belong to an
encoder, not to one archive -- `eval`, `train` and `classify` on several databases meet the same
sentences. Kept out of the store, they never bloat its backups or the Datasette archive, need no
migration, and deleting the file loses nothing. The store's rules still hold: this module is the only
code that touches the file, through sqlite-utils.

Keys are digests of the sentence text; each encoder identity (name, max length) is a namespace of its
own, so vectors of different encoders never mix. Vectors are kept exactly (float32 bytes), so a hit
gives the very vector a fresh encoding would. The size is bounded: past ``max_entries`` the least
recently used rows go. Any SQLite trouble (locked, read-only, full disk) turns the cache off for the
process, never the caller's work: a cache miss only costs time.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import sqlite_utils

DEFAULT_MAX_ENTRIES = 200_000  # ~320 MB at 384 float32 dims; the dev file's 41k sentences fit five times over


def cache_dir() -> Path:
    """``$SUPPLYWATCH_CACHE``, else ``$XDG_CACHE_HOME/supplywatch``, else ``~/.cache/supplywatch``."""
    if os.environ.get("SUPPLYWATCH_CACHE"):
        return Path(os.environ["SUPPLYWATCH_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "supplywatch"


def for_encoder(identity: str, max_entries: int) -> EmbeddingCache | None:
    """The cache file's namespace for an encoder ``identity`` in :func:`cache_dir`, bounded to ``max_entries``
    vectors; None when ``max_entries`` is 0 (``[classifier] embedding_cache = 0`` turns it off)."""
    if max_entries <= 0:
        return None
    return EmbeddingCache(cache_dir() / "embeddings.sqlite", identity, max_entries=max_entries)


class EmbeddingCache:
    """``get(keys) -> {key: bytes}`` and ``put({key: bytes})`` for one encoder ``namespace``."""

    def __init__(self, path: str | Path, namespace: str, *, max_entries: int = DEFAULT_MAX_ENTRIES):
        self.path = Path(path)
        self.namespace = namespace
        self.max_entries = max_entries
        self.hits = self.misses = 0
        self.error: str | None = None
        self._db: sqlite_utils.Database | None = None

    def _open(self) -> sqlite_utils.Database | None:
        if self._db is None and self.error is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(str(self.path), timeout=10)
                db = sqlite_utils.Database(conn)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")  # a lost cache row costs a recomputation, nothing more
                if "vectors" not in db.table_names():
                    db["vectors"].create({"ns": str, "key": bytes, "vec": bytes, "used": float}, pk=("ns", "key"),
                                         if_not_exists=True)
                    db["vectors"].create_index(["ns", "used"], if_not_exists=True)
                self._db = db
            except (OSError, sqlite3.Error) as exc:
                self._fail(exc)
        return self._db

    def _fail(self, exc: BaseException) -> None:
        self.error = f"{self.path}: {exc}"
        if self._db is not None:
            self._db.conn.close()
        self._db = None

    def get(self, keys: list[bytes]) -> dict[bytes, bytes]:
        """The cached vectors among ``keys``; marks them used now."""
        db = self._open()
        found: dict[bytes, bytes] = {}
        if db is None or not keys:
            self.misses += len(keys)
            return found
        try:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                found.update(db.execute(f"SELECT key, vec FROM vectors WHERE ns = ? AND key IN ({marks})",
                                        [self.namespace, *chunk]).fetchall())
            if found:
                with db.conn:
                    db.conn.executemany("UPDATE vectors SET used = ? WHERE ns = ? AND key = ?",
                                        [(time.time(), self.namespace, k) for k in found])
        except sqlite3.Error as exc:
            self._fail(exc)
        self.hits += len(found)
        self.misses += len(keys) - len(found)
        return found

    def put(self, vectors: dict[bytes, bytes]) -> None:
        """Store ``vectors``, then drop the least recently used rows past ``max_entries``."""
        db = self._open()
        if db is None or not vectors:
            return
        now = time.time()
        try:
            with db.conn:
                db["vectors"].upsert_all(({"ns": self.namespace, "key": k, "vec": v, "used": now}
                                          for k, v in vectors.items()), pk=("ns", "key"))
                total = db.execute("SELECT count(*) FROM vectors").fetchone()[0]
                if total > self.max_entries:
                    db.execute("DELETE FROM vectors WHERE rowid IN (SELECT rowid FROM vectors ORDER BY used LIMIT ?)",
                               [total - self.max_entries])
        except sqlite3.Error as exc:
            self._fail(exc)

    def __len__(self) -> int:
        db = self._open()
        return 0 if db is None else db.execute("SELECT count(*) FROM vectors").fetchone()[0]

    def close(self) -> None:
        if self._db is not None:
            self._db.conn.close()
            self._db = None
