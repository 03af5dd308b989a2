"""SQLite vs PostgreSQL for the one writer's work: the same documents, deduplicated, full-text indexed, in batches.

SQLite: the store's own batch write (`store.batches.save_batch`: per-document dedup lookup by canonical URL and
GUID, insert, FTS5 by trigger), batches of 500, no Redis. PostgreSQL 15: the same columns, UNIQUE canonical_url
and (source, guid), a generated tsvector with a GIN index standing in for FTS5, one INSERT ... ON CONFLICT DO
NOTHING per document (the same per-document shape), one transaction per 500, sent through psql.
The store has no PostgreSQL backend: this measures the database under the writer's load, not supplywatch on it.

PostgreSQL runs only as the postgres user on this image; start a throwaway cluster first, e.g.:
  mkdir -p /tmp/pg && chown postgres /tmp/pg && su postgres -c "/usr/lib/postgresql/15/bin/initdb -D /tmp/pg/data -A trust
    && /usr/lib/postgresql/15/bin/pg_ctl -D /tmp/pg/data -o '-p 54329 -k /tmp/pg -c listen_addresses=' -l /tmp/pg/log start"
Usage:  nice -n 10 .venv/bin/python benchmarks/pg_point.py [--docs 20000] [--prefill 0,200000]
        [--pg-socket /tmp/pg --pg-port 54329]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from supplywatch.store import Document, Store  # noqa: E402
from supplywatch.store.batches import save_batch  # noqa: E402

BODY = "A supplier disclosed that attackers reached its build systems. " * 30  # ~1,900 characters
SCHEMA = """
drop table if exists documents;
create table documents (
  id bigserial primary key, source text not null, kind text, title text, text text, summary text, url text,
  canonical_url text unique, guid text, author text, vendor text, products text, cves text, published text,
  text_source text, entry_hash text, flags text, content_hash text, fetched_at text, updated_at text,
  tsv tsvector generated always as (to_tsvector('english', coalesce(title, '') || ' ' || coalesce(text, ''))) stored,
  unique (source, guid));
create index documents_tsv on documents using gin (tsv);
"""


def doc(i: int, prefix: str = "") -> Document:
    return Document(source="s", title=f"{prefix}Story {i}", text=f"{i} {BODY}", guid=f"{prefix}g{i}",
                    canonical_url=f"http://example.org/{prefix}{i}")


def sqlite_rate(work: Path, docs: int, prefill: int, batch: int) -> float:
    db = work / f"pg-point-{prefill}.db"
    with Store.open(db) as store:
        store.sync_sources([{"name": "s", "kind": "feed", "url": "http://example.org/"}])
        for start in range(0, prefill, 5000):
            store.insert_documents([doc(i, "old") for i in range(start, min(prefill, start + 5000))], "2026-11-01T00:00:00Z")
        t = time.perf_counter()
        for start in range(0, docs, batch):
            save_batch(store, [doc(i) for i in range(start, start + batch)])
        return docs / (time.perf_counter() - t)


def _q(v: str | None) -> str:
    return "null" if v is None else "'" + v.replace("'", "''") + "'"


def pg_sql(docs: range, prefix: str, batch: int) -> str:
    out = []
    for start in range(docs.start, docs.stop, batch):
        out.append("begin;")
        for i in range(start, min(docs.stop, start + batch)):
            d = doc(i, prefix)
            out.append("insert into documents (source, title, text, canonical_url, guid, content_hash, fetched_at, "
                       f"updated_at) values ('s', {_q(d.title)}, {_q(d.text)}, {_q(d.canonical_url)}, {_q(d.guid)}, "
                       f"{_q(d.content_hash)}, '2026-11-30', '2026-11-30') on conflict do nothing;")
        out.append("commit;")
    return "\n".join(out)


def psql(args: argparse.Namespace, sql: str) -> float:
    t = time.perf_counter()
    subprocess.run(["psql", "-q", "-X", "-v", "ON_ERROR_STOP=1", "-h", args.pg_socket, "-p", str(args.pg_port),
                    "-U", "postgres"], input=sql, text=True, check=True, capture_output=True)
    return time.perf_counter() - t


def pg_rate(args: argparse.Namespace, prefill: int) -> float:
    psql(args, SCHEMA)
    if prefill:  # the archive already there, made in the server in one statement
        psql(args, "insert into documents (source, title, text, canonical_url, guid, content_hash, fetched_at, updated_at) "
                   f"select 's', 'oldStory ' || i, i || ' ' || {_q(BODY)}, 'http://example.org/old' || i, 'oldg' || i, "
                   f"md5(i::text), '2026-11-01', '2026-11-01' from generate_series(0, {prefill - 1}) i;")
    sql = pg_sql(range(args.docs), "", args.batch)
    empty = psql(args, "select 1;")  # psql's own start-up, taken off
    return args.docs / (psql(args, sql) - empty)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--prefill", default="0,200000")
    ap.add_argument("--pg-socket", default="/tmp/pg")
    ap.add_argument("--pg-port", type=int, default=54329)
    args = ap.parse_args()
    print(f"{os.cpu_count()} cores, load {' '.join(f'{x:.1f}' for x in os.getloadavg())}; {args.docs} documents of "
          f"~1,900 characters in batches of {args.batch}")
    with tempfile.TemporaryDirectory(prefix="pg-point-") as tmp:
        for prefill in (int(x) for x in args.prefill.split(",")):
            s = sqlite_rate(Path(tmp), args.docs, prefill, args.batch)
            p = pg_rate(args, prefill)
            print(f"  archive of {prefill:>7} documents: SQLite (store) {s:6.0f}/s   PostgreSQL 15 {p:6.0f}/s   "
                  f"ratio PG/SQLite {p / s:.2f}; load {os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
