"""The Store: the one object through which supplywatch reads and writes its SQLite file.

Opens the file (WAL, busy timeout), migrates it, and exposes documents, sources and search as
methods taking and returning plain data. It never fetches, parses or renders anything.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import sqlite_utils

from . import schema
from .deliveries import DeliveriesMixin
from .digest import DigestMixin
from .errors import SchemaBehind, StorageError
from .exports import ExportsMixin
from .incidents import IncidentsMixin
from .labels import LabelsMixin
from .models import NOT_MODIFIED, OK, SKIPPED, Document, FetchOutcome, SaveResult
from .relations import RelationsMixin
from .search import SearchMixin
from .stories import StoriesMixin
from .suppliers import SuppliersMixin

BUSY_TIMEOUT_S = 30.0


def on_readonly_media(path: Path) -> bool:
    """Whether ``path`` lies on a file system mounted read-only (a DVD, a ``ro`` mount, a snapshot)."""
    try:
        return bool(os.statvfs(path.resolve().parent).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def readonly_uri(path: Path) -> str:
    """The URI that reads ``path`` without writing anything.

    ``?mode=ro`` normally: a crawl may be writing the file meanwhile, and this reader sees its WAL.
    On read-only media a WAL database cannot be opened so (SQLite must create its ``-shm`` file
    beside it, "unable to open database file"); there nobody can write it, so ``immutable=1`` is
    exact, unless a ``-wal`` file with content was left there: then ``?mode=ro`` reads it.
    """
    uri = path.resolve().as_uri()
    wal = Path(f"{path}-wal")
    if on_readonly_media(path) and not (wal.exists() and wal.stat().st_size > 0):
        return f"{uri}?immutable=1"
    return f"{uri}?mode=ro"


@contextmanager
def _sqlite_errors(path: Path) -> Iterator[None]:
    """Turn sqlite3's errors into StorageError with the file's name: one line, no traceback."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        msg = str(exc)
        if "locked" in msg or "busy" in msg:
            raise StorageError(f"{path}: database is locked by another process ({msg})") from exc
        if "readonly" in msg or "read-only" in msg:
            raise StorageError(f"{path}: database is read-only ({msg})") from exc
        raise StorageError(f"{path}: {msg}") from exc
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"{path}: not a usable supplywatch database ({exc})") from exc


class Store(LabelsMixin, IncidentsMixin, DigestMixin, StoriesMixin, DeliveriesMixin, SearchMixin, SuppliersMixin,
            ExportsMixin, RelationsMixin):
    """A supplywatch database. Use :meth:`open`; close with :meth:`close` or ``with``."""

    def __init__(self, db: sqlite_utils.Database, path: Path):
        self.db = db
        self.path = path

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, create: bool = True, readonly: bool = False) -> Store:
        """Open (and, unless ``readonly``, migrate) the database at ``path``.

        ``create=False`` refuses a missing file instead of creating an empty one, so a typo in
        ``--db`` is an error rather than a silent new database.
        """
        path = Path(path)
        if not path.exists() and (readonly or not create):
            raise StorageError(f"{path}: no such database (run `supplywatch init` or `supplywatch crawl`)")
        if path.is_dir():
            raise StorageError(f"{path}: is a directory, not a database file")
        if not readonly and path.exists() and on_readonly_media(path):
            # Nothing can be written there: read it (search, digest, sources...); a write fails in one line.
            readonly = True
        with _sqlite_errors(path):
            if readonly:
                conn = sqlite3.connect(readonly_uri(path), uri=True, timeout=BUSY_TIMEOUT_S)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S)
            db = sqlite_utils.Database(conn)
            # Reading the header here makes a corrupt or foreign file fail now, not mid-crawl.
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if readonly:
                if version != schema.SCHEMA_VERSION:
                    raise (SchemaBehind if version < schema.SCHEMA_VERSION else StorageError)(
                        f"{path}: schema version {version}, expected {schema.SCHEMA_VERSION} "
                        "(open it once without read-only to migrate)"
                    )
            else:
                if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    db.enable_wal()
                try:
                    schema.migrate(db)
                except ValueError as exc:
                    raise StorageError(f"{path}: {exc}") from exc
        return cls(db, path)

    @classmethod
    def open_readonly(cls, path: str | Path) -> Store:
        """The store opened read-only (search, serve); an archive of an older schema is migrated once first."""
        try:
            return cls.open(path, readonly=True)
        except SchemaBehind:
            cls.open(path, create=False).close()  # migrating needs a writable file; a read-only one fails here, one line
            return cls.open(path, readonly=True)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _guard(self) -> Iterator[None]:
        with _sqlite_errors(self.path):
            yield

    @contextmanager
    def _atomic(self) -> Iterator[None]:
        """One write transaction, started with ``BEGIN IMMEDIATE``; nested, a savepoint.

        A deferred ``BEGIN`` that reads first cannot wait for the write lock: in WAL mode it fails at
        once with "database is locked" when another process wrote meanwhile. Taking the write lock at
        the start makes the busy timeout apply, so concurrent writers queue instead of failing.
        """
        if self.db.conn.in_transaction:
            with self.db.atomic():
                yield
            return
        self.db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self.db.conn.in_transaction:
                self.db.conn.rollback()
            raise
        else:
            self.db.conn.commit()

    # -- sources ---------------------------------------------------------------------------

    def sync_sources(self, sources: Iterable[dict[str, Any]]) -> None:
        """Make the sources table match the configuration: add, update, disable the removed.

        A source whose URL changed loses its ETag, so the new URL is fetched in full.
        """
        sources = list(sources)
        with self._guard(), self._atomic():
            existing = {row["name"]: row for row in self.db["sources"].rows}
            for src in sources:
                row = {"name": src["name"], "kind": src["kind"], "url": src["url"], "vendor": src.get("vendor", "")}
                old = existing.get(src["name"])
                if old is None:
                    self.db["sources"].insert({**row, "enabled": 1, "consecutive_failures": 0})
                    continue
                updates = {**row, "enabled": 1}
                if old["url"] != src["url"] or old["kind"] != src["kind"]:
                    updates.update(etag=None, last_modified=None, retry_after=None, consecutive_failures=0)
                self.db["sources"].update(src["name"], updates)
            names = {s["name"] for s in sources}
            for name in existing.keys() - names:
                self.db["sources"].update(name, {"enabled": 0})

    def source_state(self, name: str) -> dict[str, Any]:
        with self._guard():
            try:
                return dict(self.db["sources"].get(name))
            except sqlite_utils.db.NotFoundError:
                return {}

    def sources(self) -> list[dict[str, Any]]:
        """The enabled sources with their health and document counts, by name."""
        with self._guard():
            rows = self.db.execute_returning_dicts(
                """
                select s.*, (select count(*) from documents d where d.source = s.name) as documents
                from sources s where s.enabled = 1 order by s.name
                """
            )
        for row in rows:
            row["warnings"] = json.loads(row["warnings"] or "[]")
        return rows

    def source_names(self, name: str | None = None) -> list[str]:
        """The names of every source the archive knows (configured, enabled or not, or carried by a document).

        With ``name``: ``[name]`` if the archive knows it, else every name (for the error that lists them).
        """
        with self._guard():
            if name is not None and (
                    self.db.execute("select 1 from sources where name = ?", [name]).fetchone()
                    or self.db.execute("select 1 from documents where source = ? limit 1", [name]).fetchone()):
                return [name]
            return [r[0] for r in self.db.execute("select name from sources union select source from documents "
                                                  "where source is not null order by 1")]

    def known_entries(self, source: str) -> dict[str, str]:
        """Identity key (``guid:...`` / ``url:...``) -> entry_hash of the source's stored documents.

        A document kept from its feed entry because its page could not be fetched (``feed_content_only``)
        in the last two days is left out, so the next crawl tries the page again; a page that arrives
        changes the content hash, and the document is labelled again on its full text.
        """
        known: dict[str, str] = {}
        with self._guard():
            for guid, url, entry_hash in self.db.execute(
                """
                select guid, canonical_url, entry_hash from documents where source = ?
                and not (text_source = 'feed' and flags like '%"feed_content_only"%'
                         and fetched_at >= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-2 days'))
                """, [source]
            ):
                if guid:
                    known[f"guid:{guid}"] = entry_hash or ""
                if url:
                    known[f"url:{url}"] = entry_hash or ""
        return known

    # -- documents -------------------------------------------------------------------------

    def save_fetch(self, documents: Iterable[Document], outcome: FetchOutcome) -> SaveResult:
        """Store one fetch of one source: its documents, its new ETag and its health, atomically."""
        result = SaveResult()
        with self._guard(), self._atomic():
            for doc in documents:
                state = self._upsert_document(doc, outcome.finished_at)
                setattr(result, state, getattr(result, state) + 1)
            self._record_outcome(outcome, result)
        return result

    def insert_documents(self, documents: Iterable[Document], now: str) -> int:
        """Insert new documents in one transaction, without save_fetch's per-document dedup (bulk loads).

        A document whose canonical URL or guid is already stored fails the whole batch (StorageError).
        """
        rows = []
        for doc in documents:
            row = asdict(doc)
            for key in ("products", "cves", "flags"):
                row[key] = json.dumps(row[key])
            rows.append({**row, "content_hash": doc.content_hash, "fetched_at": now, "updated_at": now})
        if not rows:
            return 0
        cols = list(rows[0])
        sql = f"insert into documents ({', '.join(cols)}) values ({', '.join('?' * len(cols))})"
        with self._guard(), self._atomic():
            self.db.conn.executemany(sql, [[r[c] for c in cols] for r in rows])
        return len(rows)

    def _find(self, doc: Document) -> dict[str, Any] | None:
        if doc.canonical_url:
            row = self.db.execute(
                "select id, content_hash, entry_hash from documents where canonical_url = ?", [doc.canonical_url]
            ).fetchone()
            if row:
                return {"id": row[0], "content_hash": row[1], "entry_hash": row[2]}
        if doc.guid:
            row = self.db.execute(
                "select id, content_hash, entry_hash from documents where source = ? and guid = ?",
                [doc.source, doc.guid],
            ).fetchone()
            if row:
                return {"id": row[0], "content_hash": row[1], "entry_hash": row[2]}
        return None

    def _upsert_document(self, doc: Document, now: str) -> str:
        row = asdict(doc)
        for key in ("products", "cves", "flags"):
            row[key] = json.dumps(row[key])
        row["content_hash"] = doc.content_hash
        existing = self._find(doc)
        if existing is None:
            self.db["documents"].insert({**row, "fetched_at": now, "updated_at": now})
            return "new"
        if existing["content_hash"] == row["content_hash"]:
            if existing["entry_hash"] != doc.entry_hash:
                self.db["documents"].update(existing["id"], {"entry_hash": doc.entry_hash})
            return "unchanged"
        # An edited article keeps its id and first fetch time; its identity columns stay put so a
        # second URL for the same guid cannot collide with another row's unique canonical_url.
        for key in ("canonical_url", "guid", "source"):
            row.pop(key)
        self.db["documents"].update(existing["id"], {**row, "updated_at": now})
        return "updated"

    def _record_outcome(self, outcome: FetchOutcome, result: SaveResult) -> None:
        old = self.source_state(outcome.source)
        if not old:
            raise StorageError(f"unknown source {outcome.source!r}")
        update: dict[str, Any] = {
            "last_attempt": outcome.started_at,
            "last_status": outcome.status,
            "http_status": outcome.http_status,
            "last_error": outcome.error,
            "warnings": json.dumps(outcome.warnings),
            "retry_after": outcome.retry_after,
        }
        if outcome.status == SKIPPED:
            update = {"last_status": old.get("last_status"), "retry_after": old.get("retry_after")}
        elif outcome.failed:
            update["consecutive_failures"] = (old.get("consecutive_failures") or 0) + 1
        else:
            update["consecutive_failures"] = 0
            update["last_success"] = outcome.finished_at
            if outcome.status != NOT_MODIFIED:
                # A 304 carries no new validators worth trusting over the ones we sent.
                update["etag"] = outcome.etag
                update["last_modified"] = outcome.last_modified
        self.db["sources"].update(outcome.source, update)
        if outcome.status != SKIPPED:
            self.db["fetches"].insert(
                {
                    "source": outcome.source,
                    "started_at": outcome.started_at,
                    "finished_at": outcome.finished_at,
                    "status": outcome.status,
                    "http_status": outcome.http_status,
                    "new": result.new,
                    "updated": result.updated,
                    "unchanged": result.unchanged,
                    "failed_pages": outcome.failed_pages,
                    "error": outcome.error,
                    "warnings": json.dumps(outcome.warnings),
                }
            )
        assert outcome.status in (OK, NOT_MODIFIED, SKIPPED) or outcome.failed, outcome.status

    def document(self, doc_id: int) -> dict[str, Any] | None:
        with self._guard():
            try:
                row = dict(self.db["documents"].get(doc_id))
            except sqlite_utils.db.NotFoundError:
                return None
        for key in ("products", "cves", "flags"):
            row[key] = json.loads(row[key] or "[]")
        return row

    def count_documents(self) -> int:
        with self._guard():
            return self.db["documents"].count

    def recent_documents(self, limit: int = 20) -> list[dict[str, Any]]:
        with self._guard():
            return self.db.execute_returning_dicts(
                "select id, source, kind, title, published, text_source, url, length(text) as chars "
                "from documents order by published desc, id desc limit ?",
                [limit],
            )
