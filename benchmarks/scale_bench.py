"""Scale-mode benchmark: crawl with 1, 2 and 4 worker processes, classify with 1 and 2, and the writer's ceiling.

Everything real: the bundled redis-server on 127.0.0.1, a synthetic news site (supplywatch.synthsite) served
by a local HTTP server that delays every response by a seeded 50-300 ms (like real servers), worker
processes started as `python -m supplywatch worker ...`, the one writer storing into SQLite.

* crawl: FEEDS x PER_FEED articles with their pages fetched; wall time from the workers' start to the last
  document stored, and the steady rate (first to last document stored, which leaves out process start-up).
* writer: N documents queued in the stream first, then one `worker store` run: documents/s into SQLite.
* classify: D documents in jobs of B, 1 then 2 `worker classify --burst` processes: wall time including the
  model load, and the job rate from RQ's own start/end stamps.

Usage:  nice -n 10 prlimit --as=8000000000 .venv/bin/python benchmarks/scale_bench.py [--feeds 20] [--per-feed 30]
        [--workers 1,2,4] [--writer-docs 20000] [--writer-prefill 0,200000] [--classify-docs 384]
        [--classify-workers 1,2] [--skip crawl,writer,classify]
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from supplywatch.redis_server import RedisServer  # noqa: E402
from supplywatch.synthsite import SlowServer, build_site, sources_toml  # noqa: E402

CRAWL = """[crawl]
private_allowlist = ["127.0.0.1"]
obey_robots = false
autothrottle = false
concurrent_requests = 16
concurrent_per_host = 16
extract_workers = 1
max_entries_per_source = 1000
[scale]
classify_batch = {batch}
"""


def sw(args: list[str], env: dict[str, str], **kw) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "supplywatch", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)


def count(db: Path, sql: str = "select count(*) from documents") -> int:
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            return conn.execute(sql).fetchone()[0]
    except sqlite3.Error:
        return 0


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def crawl_round(work: Path, site_root: Path, sources: list, workers: int, expected: int, latency: tuple) -> dict:
    with SlowServer(site_root, delay=latency) as site, RedisServer() as rs:
        cfg = work / f"crawl{workers}.toml"
        cfg.write_text(sources_toml(sources, site.base, CRAWL.format(batch=64)))
        db = work / f"crawl{workers}.db"
        env = {**os.environ, "SUPPLYWATCH_REDIS_URL": rs.url, "SUPPLYWATCH_CONFIG": str(cfg), "SUPPLYWATCH_DB": str(db)}
        enq = subprocess.run([sys.executable, "-m", "supplywatch", "enqueue"], cwd=ROOT, env=env, capture_output=True,
                             text=True)
        if enq.returncode:
            raise SystemExit(f"enqueue failed ({enq.returncode}): {enq.stderr[-2000:]}")
        writer = sw(["worker", "store"], env)
        start = time.monotonic()
        procs = [sw(["worker", "crawl", "--max-idle", "3"], env) for _ in range(workers)]
        first = None
        n = 0
        while n < expected and time.monotonic() - start < 1800:
            time.sleep(0.25)
            n = count(db)
            if n and first is None:
                first = (time.monotonic(), n)
        end = time.monotonic()
        for p in procs:
            p.wait(timeout=120)
        writer.send_signal(signal.SIGTERM)
        writer.wait(timeout=60)
        steady = (n - first[1]) / (end - first[0]) if first and end > first[0] else 0.0
        return {"workers": workers, "docs": n, "wall_s": end - start, "per_s": n / (end - start),
                "steady_per_s": steady, "load": load()}


def writer_round(work: Path, docs: int, batch: int, prefill: int = 0) -> dict:
    import redis

    from supplywatch.crawlers.redis_queue import Keys, RedisSink
    from supplywatch.store import Document, FetchOutcome, Store

    db = work / f"writer{prefill}.db"
    body = "A supplier disclosed that attackers reached its build systems. " * 30  # ~1,900 characters
    with RedisServer() as rs:
        with Store.open(db) as store:
            store.sync_sources([{"name": "s", "kind": "feed", "url": "http://example.org/"}])
            for start in range(0, prefill, 5000):  # an archive of this size already there
                store.insert_documents([Document(source="s", title=f"Old {i}", text=f"{i} {body}", guid=f"old{i}",
                                                 canonical_url=f"http://example.org/old/{i}")
                                        for i in range(start, min(prefill, start + 5000))], "2026-11-01T00:00:00Z")
        docs += prefill
        server, keys = redis.Redis.from_url(rs.url), Keys()
        sink = RedisSink(server, keys)
        for start in range(prefill, docs, 100):
            sink.send_documents([Document(source="s", title=f"Story {i}", text=f"{i} {body}", guid=f"g{i}",
                                          canonical_url=f"http://example.org/{i}") for i in range(start, start + 100)])
        sink.send_outcome(FetchOutcome("s", "ok", "2026-11-30T00:00:00Z", "2026-11-30T00:00:00Z"))
        env = {**os.environ, "SUPPLYWATCH_REDIS_URL": rs.url, "SUPPLYWATCH_DB": str(db)}
        t = time.monotonic()
        proc = sw(["worker", "store", "--max-idle", "1", "--batch", str(batch)], env)
        while count(db) < docs and time.monotonic() - t < 1800:
            time.sleep(0.1)
        wall = time.monotonic() - t
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        stored = count(db) - prefill
        return {"docs": stored, "batch": batch, "wall_s": wall, "per_s": stored / wall, "load": load(),
                "prefill": prefill, "mb": db.stat().st_size / 1e6}


def classify_round(work: Path, db_src: Path, workers: int, docs: int, batch: int) -> dict:
    import shutil

    import redis
    from rq import Queue
    from rq.registry import FinishedJobRegistry

    from supplywatch import config
    from supplywatch.crawlers.redis_queue import Keys
    from supplywatch.scale_jobs import enqueue_classify, serializer

    db = work / f"classify{workers}.db"
    shutil.copy(db_src, db)
    with sqlite3.connect(db) as conn:  # keep the first `docs` documents
        conn.execute("delete from documents where id > ?", [docs])
    cfgp = work / "classify.toml"
    cfgp.write_text(f"[scale]\nclassify_batch = {batch}\n")
    cfg = config.load(cfgp, env={})
    with RedisServer() as rs:
        server, keys = redis.Redis.from_url(rs.url), Keys()
        jobs = enqueue_classify(server, keys, str(db), cfg)
        env = {**os.environ, "SUPPLYWATCH_REDIS_URL": rs.url, "SUPPLYWATCH_DB": str(db), "SUPPLYWATCH_CONFIG": str(cfgp)}
        writer = sw(["worker", "store"], env)
        t = time.monotonic()
        procs = [sw(["worker", "classify", "--burst"], env) for _ in range(workers)]
        for p in procs:
            p.wait(timeout=3600)
        labelled_sql = "select count(distinct document_id) from labels"
        while count(db, labelled_sql) < jobs["documents"] and time.monotonic() - t < 600:
            time.sleep(0.2)
        wall = time.monotonic() - t
        writer.send_signal(signal.SIGTERM)
        writer.wait(timeout=60)
        queue = Queue(keys.classify_queue, connection=server, serializer=serializer())
        finished = [queue.fetch_job(j) for j in FinishedJobRegistry(queue=queue).get_job_ids()]
        spans = [(j.started_at, j.ended_at) for j in finished if j and j.started_at and j.ended_at]
        busy = (max(e for _, e in spans) - min(s for s, _ in spans)).total_seconds() if spans else 0.0
        return {"workers": workers, "docs": count(db, labelled_sql), "jobs": jobs["jobs"], "wall_s": wall,
                "per_s_wall": jobs["documents"] / wall, "per_s_jobs": jobs["documents"] / busy if busy else 0.0,
                "load": load()}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--feeds", type=int, default=20)
    ap.add_argument("--per-feed", type=int, default=30)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--latency", default="0.05,0.3")
    ap.add_argument("--writer-docs", type=int, default=20000)
    ap.add_argument("--writer-batch", type=int, default=500)
    ap.add_argument("--writer-prefill", default="0", help="archive sizes to measure the writer at, e.g. 0,200000")
    ap.add_argument("--classify-docs", type=int, default=384)
    ap.add_argument("--classify-batch", type=int, default=64)
    ap.add_argument("--classify-workers", default="1,2")
    ap.add_argument("--skip", default="", help="comma list of crawl,writer,classify")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    latency = tuple(float(x) for x in args.latency.split(","))
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, load {load()}")
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        work = Path(tmp)
        sources = build_site(work / "site", args.feeds, args.per_feed)
        expected = args.feeds * args.per_feed
        if "crawl" not in skip:
            print(f"\ncrawl: {args.feeds} feeds x {args.per_feed} articles = {expected}, pages fetched, "
                  f"latency {latency[0] * 1000:.0f}-{latency[1] * 1000:.0f} ms per response")
            base = None
            for n in (int(x) for x in args.workers.split(",")):
                r = crawl_round(work, work / "site", sources, n, expected, latency)
                base = base or r["per_s"]
                print(f"  {n} worker(s): {r['docs']} docs in {r['wall_s']:.1f} s = {r['per_s']:.1f}/s "
                      f"({r['per_s'] / base:.2f}x one worker); steady {r['steady_per_s']:.1f}/s; load {r['load']}",
                      flush=True)
        if "writer" not in skip:
            for prefill in (int(x) for x in args.writer_prefill.split(",")):
                r = writer_round(work, args.writer_docs, args.writer_batch, prefill)
                print(f"\nwriter: {r['docs']} documents (~1,900 chars) queued first, batch {r['batch']}, into an archive "
                      f"of {prefill} documents: {r['wall_s']:.1f} s = {r['per_s']:.0f} documents/s into SQLite "
                      f"(file {r['mb']:.0f} MB after); load {r['load']}", flush=True)
        if "classify" not in skip:
            src = work / "writer0.db"
            if not src.exists():
                writer_round(work, max(args.classify_docs, 1000), 500)
            print(f"\nclassify: {args.classify_docs} documents in jobs of {args.classify_batch}")
            base = None
            for n in (int(x) for x in args.classify_workers.split(",")):
                r = classify_round(work, src, n, args.classify_docs, args.classify_batch)
                base = base or r["per_s_wall"]
                print(f"  {n} worker(s): {r['docs']} labelled, {r['jobs']} jobs, {r['wall_s']:.1f} s with model load = "
                      f"{r['per_s_wall']:.1f}/s ({r['per_s_wall'] / base:.2f}x); {r['per_s_jobs']:.1f}/s between the "
                      f"first job's start and the last job's end; load {r['load']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
