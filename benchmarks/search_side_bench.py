"""Search with the tantivy side index beside FTS5 ranking every match, and a recency-bounded FTS5, on one store.

Runs on a store built by benchmarks/search_bench.py (--build-only) and its queries. For each query, warm,
in one process:

* **side**: ``Store.search`` as the CLI calls it on a large archive: the side index's candidates, ranked by
  FTS5 (store/search_side.py);
* **fts5**: ``Store.search`` with the side index switched off: FTS5 ranks every match (the path before);
* **recent**: FTS5 ranking only the newest ``--recent`` documents (``rowid >=`` max id - N: FTS5 seeks
  there; in a crawled archive ids follow fetch order), the cheapest bounded candidate set;

and whether each gives the same top 20 (ids, in order) as "fts5". It first builds or updates the side index
(``Store.update_search_index``) and prints how long that took and its size.

Usage:  .venv/bin/python benchmarks/search_side_bench.py --db FILE [--iterations N] [--full-iterations N]
        [--recent N] [--rebuild-index] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_bench import QUERIES, machine  # noqa: E402

from supplywatch.store import Store, fts5query  # noqa: E402
from supplywatch.store.search import quote  # noqa: E402
from supplywatch.store.search_index import index_dir  # noqa: E402


def timed(fn, iterations: int, warmup: int = 2) -> dict[str, float]:
    """p50/p95 of wall time and of this process's CPU time (the CPU figure barely moves with the machine's load)."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(iterations):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)

    def pct(xs: list[float], q: float) -> float:
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]

    return {"p50": pct(wall, 0.5), "p95": pct(wall, 0.95), "cpu_p50": pct(cpu, 0.5), "cpu_p95": pct(cpu, 0.95)}


def same(ids: list[int], want: list[int]) -> str:
    return "yes" if ids == want else f"{len(set(ids) & set(want))}/{len(want)}"


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def recent_sql(kw: dict) -> tuple[str, list]:
    where, params = [], []
    if "source" in kw:
        where.append("and d.source = ?")
        params.append(kw["source"])
    if "since" in kw:
        where.append("and d.published >= ?")
        params.append(kw["since"])
    if "label" in kw:
        where.append("and exists (select 1 from labels l where l.document_id = documents_fts.rowid and l.label = ? "
                     "and l.flagged = 1 and l.score >= ?)")
        params += [kw["label"], kw.get("min_score", 0.0)]
    join = "join documents d on d.id = documents_fts.rowid" if ("source" in kw or "since" in kw) else ""
    return (f"select documents_fts.rowid from documents_fts {join} where documents_fts match ? "
            f"and documents_fts.rowid >= ? {' '.join(where)} order by bm25(documents_fts, 5.0, 1.0), "
            f"documents_fts.rowid limit 20"), params


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--full-iterations", type=int, default=5, help="runs of the slow FTS5-over-every-match path")
    ap.add_argument("--recent", type=int, default=50_000, help="documents the recency-bounded FTS5 ranks")
    ap.add_argument("--rebuild-index", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    info = machine()
    print(f"Machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, SQLite {info['sqlite']}")
    print(f"Load average before: {os.getloadavg()[0]:.2f} (other processes share these cores)")
    started = time.perf_counter()
    with Store.open(args.db, create=False) as writable:  # migrates to the change log once
        count = writable.count_documents()
        if writable.update_search_index(rebuild=args.rebuild_index) is None:
            print("the side index could not be built", file=sys.stderr)
            return 1
    index_s = time.perf_counter() - started
    size = folder_bytes(index_dir(args.db))
    print(f"Store: {count:,} documents, {args.db.stat().st_size / 2**20:,.0f} MiB; side index "
          f"{'rebuilt' if args.rebuild_index else 'built or updated'} in {index_s:.1f} s, {size / 2**20:,.0f} MiB")

    side = Store.open(args.db, readonly=True)
    full = Store.open(args.db, readonly=True)
    full.side_index_min_docs = 10**12
    max_id = side.db.execute("select max(id) from documents").fetchone()[0]
    rows = []
    print(f"\n{'query':<24} {'matches':>8} {'side p50':>8} {'p95':>6} {'cpu p95':>7} {'fts5 p50':>8} {'p95':>7} "
          f"{'cpu p95':>7} {'same':>5} | {'recent p50':>10} {'p95':>6} {'same':>5}"
          "   (ms; same = top-20 ids in order as fts5, else overlap/20)")
    for name, query, kw in QUERIES:
        got = side.search(query, limit=20, **kw)
        plan = side.search_plan
        want = full.search(query, limit=20, **kw)
        match = query if kw.get("raw") else quote(query)
        _, matches = side.update_search_index().candidates(fts5query.parse(match), k=1, source=None, first_day=None,
                                                           last_day=None)
        t_side = timed(lambda q=query, k=kw: side.search(q, limit=20, **k), args.iterations)
        t_full = timed(lambda q=query, k=kw: full.search(q, limit=20, **k), args.full_iterations, warmup=1)
        sql, params = recent_sql(kw)
        floor = max_id - args.recent
        recent = [r[0] for r in side.db.execute(sql, [match, floor, *params])]
        t_recent = timed(lambda s=sql, m=match, p=params, f=floor: side.db.execute(s, [m, f, *p]).fetchall(),
                         args.iterations)
        want_ids = [r["id"] for r in want]
        got_ids = [r["id"] for r in got]

        row = {"name": name, "query": query, "options": kw, "matches_unfiltered": matches, "plan": plan,
               "side": t_side, "fts5": t_full, "recent": t_recent, "side_same": same(got_ids, want_ids),
               "recent_same": same(recent, want_ids)}
        rows.append(row)
        print(f"{name:<24} {matches:>8,} {t_side['p50']:>8.1f} {t_side['p95']:>6.1f} {t_side['cpu_p95']:>7.1f} "
              f"{t_full['p50']:>8.1f} {t_full['p95']:>7.1f} {t_full['cpu_p95']:>7.1f} {row['side_same']:>5} | "
              f"{t_recent['p50']:>10.1f} {t_recent['p95']:>6.1f} {row['recent_same']:>5}"
              + ("" if plan == "side index" else f"  ({plan})"), flush=True)
    print(f"Load average after: {os.getloadavg()[0]:.2f}")
    worst = max(r["side"]["p95"] for r in rows)
    worst_cpu = max(r["side"]["cpu_p95"] for r in rows)
    agree = sum(r["side_same"] == "yes" for r in rows)
    print(f"\nside p95: worst {worst:.1f} ms wall, {worst_cpu:.1f} ms CPU; same top 20 as fts5 on {agree} "
          f"of {len(rows)} queries")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "docs": count, "index_s": index_s, "index_bytes": size,
                                         "queries": rows}, indent=2))
    side.close()
    full.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
