"""The store against real SQLite files: schema, atomic fetches, dedup, search, bad database files."""

from __future__ import annotations

import sqlite3

import pytest

from supplywatch.store import Document, FetchOutcome, InputError, StorageError, Store, utcnow
from supplywatch.store.schema import SCHEMA_VERSION


def outcome(source="s", status="ok", **kw):
    now = utcnow()
    return FetchOutcome(source=source, status=status, started_at=now, finished_at=now, **kw)


def doc(n, **kw):
    return Document(source="s", title=f"Title {n}", text=f"Body text number {n} about a stolen signing key",
                    url=f"https://e.com/{n}", canonical_url=f"https://e.com/{n}", guid=f"g{n}", **kw)


@pytest.fixture
def store(fresh_store):
    fresh_store.sync_sources([{"name": "s", "kind": "feed", "url": "https://e.com/feed"}])
    return fresh_store


def test_schema_is_versioned_wal_and_has_fts(store):
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert "documents_fts" in store.db.table_names()
    cols = set(store.db["documents"].columns_dict)
    assert {"id", "source", "url", "canonical_url", "guid", "title", "text", "summary", "published",
            "fetched_at", "updated_at", "content_hash"} <= cols


def test_save_fetch_dedups_and_updates(store):
    first = store.save_fetch([doc(1), doc(2)], outcome(etag='"e1"'))
    assert (first.new, first.updated, first.unchanged) == (2, 0, 0)
    again = store.save_fetch([doc(1), doc(2)], outcome())
    assert (again.new, again.unchanged) == (0, 2)
    edited = doc(1)
    edited.text += " (updated with new details)"
    result = store.save_fetch([edited], outcome())
    assert result.updated == 1 and store.count_documents() == 2
    row = store.document(1)
    assert "new details" in row["text"] and row["updated_at"] >= row["fetched_at"]
    # Same guid, different URL variant: still one row.
    moved = doc(2)
    moved.canonical_url = "https://e.com/2-moved"
    assert store.save_fetch([moved], outcome()).new == 0


def test_fetch_and_etag_are_one_transaction(store, db_path):
    bad = doc(3)
    bad.title = None  # NOT NULL: the insert fails mid-fetch
    with pytest.raises(StorageError):
        store.save_fetch([doc(4), bad], outcome(etag='"new"'))
    assert store.count_documents() == 0
    assert store.source_state("s")["etag"] is None


def test_health_counts_failures_and_resets(store):
    store.save_fetch([], outcome(status="gone", error="HTTP 404", http_status=404))
    store.save_fetch([], outcome(status="gone", error="HTTP 404", http_status=404))
    state = store.source_state("s")
    assert state["consecutive_failures"] == 2 and state["last_status"] == "gone" and state["last_success"] is None
    store.save_fetch([doc(1)], outcome())
    state = store.source_state("s")
    assert state["consecutive_failures"] == 0 and state["last_success"]
    (row,) = store.sources()
    assert row["documents"] == 1


def test_search_quotes_user_text(store):
    store.save_fetch([doc(1), doc(2)], outcome())
    hits = store.search("stolen signing")
    assert len(hits) == 2 and "[stolen]" in hits[0]["snippet"]
    for hostile in ['"unbalanced', "NEAR(", "a:b", "title:x OR", "*", "AND"]:
        store.search(hostile)  # quoted: no FTS syntax error
    with pytest.raises(InputError):
        store.search("   ")


def test_removed_source_is_disabled_not_deleted(store):
    store.save_fetch([doc(1)], outcome())
    store.sync_sources([])
    assert store.sources() == []
    assert store.count_documents() == 1


def test_bad_database_files(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="not a usable"):
        Store.open(junk)
    with pytest.raises(StorageError, match="no such database"):
        Store.open(tmp_path / "missing.db", create=False)
    with pytest.raises(StorageError, match="directory"):
        Store.open(tmp_path)
    newer = tmp_path / "newer.db"
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    with pytest.raises(StorageError, match="newer"):
        Store.open(newer)


def test_read_only_database_refuses_writes_clearly(tmp_path):
    # Opened read-only (as `serve` and `search` may): a write is a one-line StorageError, not a traceback.
    path = tmp_path / "ro.db"
    Store.open(path).close()
    with Store.open(path, readonly=True) as ro, pytest.raises(StorageError, match="read-only"):
        ro.sync_sources([{"name": "x", "kind": "feed", "url": "https://x/"}])


def test_locked_database_is_a_clear_error(db_path, monkeypatch):
    import supplywatch.store.core

    monkeypatch.setattr(supplywatch.store.core, "BUSY_TIMEOUT_S", 0.2)
    with Store.open(db_path) as s:
        s.sync_sources([{"name": "s", "kind": "feed", "url": "https://e.com/"}])
    locker = sqlite3.connect(db_path)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        with Store.open(db_path) as s, pytest.raises(StorageError, match="locked"):
            s.save_fetch([doc(1)], outcome())
    finally:
        locker.rollback()
        locker.close()


def test_finding_what_to_label_reads_each_documents_own_labels_not_all_of_them(tmp_path):
    # A resumed backfill (or an hourly classify) of a large archive asks which documents still need a label. On
    # the model_version index SQLite read every label of the model once per document: quadratic, minutes at
    # 100,000 documents. Counted in SQLite's virtual-machine steps (deterministic), not in time.
    from supplywatch.store import Label

    now = utcnow()
    with Store.open(tmp_path / "l.db") as store:
        store.sync_sources([{"name": "s", "kind": "feed", "url": "https://s.example/feed"}])
        store.save_fetch([Document(source="s", guid=f"g{i}", title=f"Doc {i}", text="x", url=f"https://s.example/{i}",
                                   published=f"2021-01-01T{i % 24:02d}:00:00Z") for i in range(600)],
                         FetchOutcome("s", "ok", now, now))
        ids = [r[0] for r in store.db.execute("select id from documents order by id")]
        store.save_labels([(i, [(Label(name, 0.1, ""), False) for name in ("a", "b", "c", "d", "e")])
                           for i in ids[:500]], "v1", now)
        steps = []
        store.db.conn.set_progress_handler(lambda: steps.append(1), 100)
        todo = store.documents_to_label("v1")
        store.db.conn.set_progress_handler(None, 0)
        assert todo.total == 100
        # Per document, its own few label rows: ~10^4 steps here; every label of the model each time: ~5 x 10^6.
        assert len(steps) * 100 < 1_000_000, len(steps) * 100
