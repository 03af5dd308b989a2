"""The distributed crawl end to end: real redis-server, local site, 2 crawl worker processes and 1 writer.

Every article must be stored exactly once, also when one worker is SIGKILLed half-way; and the
scrapy-redis traps (persist, scheduler errors) must be handled. Slow (worker processes start Scrapy).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from supplywatch.localsite import LocalServer
from supplywatch.synthsite import build_site, sources_toml

ROOT = Path(__file__).resolve().parents[1]
FEEDS, PER_FEED = 40, 50  # 2,000 articles
DEMO_DOCS, DEMO_SOURCES = 45, 5  # 34 articles, 7 advisories, 4 CSAF documents
CRAWL = """[crawl]
private_allowlist = ["127.0.0.1"]
obey_robots = false
autothrottle = false
extract_workers = 1
max_entries_per_source = 1000
# The feed's own text: the test is about distribution and delivery, not page extraction.
fetch_pages = false
"""


def _spawn(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "supplywatch", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _count(db: Path) -> tuple[int, int]:
    try:
        with closing(sqlite3.connect(db)) as conn:
            return conn.execute("select count(*), count(distinct canonical_url) from documents").fetchone()
    except sqlite3.Error:
        return (0, 0)


@pytest.fixture
def cluster(tmp_path, redis_url):
    """The synthetic site, plus the demo site: its paginated advisory index and CSAF feed go through the
    distributed crawl too (45 documents, tests/test_demo.py's expected.json)."""
    from supplywatch.demo import demo_site_root

    src = build_site(tmp_path / "site", FEEDS, PER_FEED)
    demo_sources = (demo_site_root() / "sources.toml").read_text("utf-8")
    with LocalServer(tmp_path / "site") as site, LocalServer(demo_site_root()) as demo:
        (tmp_path / "sw.toml").write_text(sources_toml(src, site.base, CRAWL) + "\n"
                                          + demo_sources.replace("{{BASE}}", demo.base), "utf-8")
        env = {**os.environ, "SUPPLYWATCH_REDIS_URL": redis_url, "SUPPLYWATCH_CONFIG": str(tmp_path / "sw.toml"),
               "SUPPLYWATCH_DB": str(tmp_path / "sw.db")}
        yield env, tmp_path / "sw.db"


def _drain_and_stop_writer(writer: subprocess.Popen[str], server: object, timeout: float = 60) -> str:
    from supplywatch.crawlers.redis_queue import Keys

    keys = Keys()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.xlen(keys.stream):
        time.sleep(0.2)
    writer.send_signal(signal.SIGTERM)
    _, err = writer.communicate(timeout=30)
    assert writer.returncode == 0, err
    return err


@pytest.mark.slow
def test_two_workers_one_writer_store_every_article_once(cluster, redis_client):
    env, db = cluster
    enq = subprocess.run([sys.executable, "-m", "supplywatch", "enqueue"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert enq.returncode == 0 and f"enqueued {FEEDS + DEMO_SOURCES} sources" in enq.stdout, enq.stderr
    writer = _spawn("worker", "store", env=env)
    workers = [_spawn("worker", "crawl", "--max-idle", "2", env=env) for _ in range(2)]
    outs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outs
    _drain_and_stop_writer(writer, redis_client)
    total = FEEDS * PER_FEED + DEMO_DOCS
    assert _count(db) == (total, total)
    # Both workers took part; their reports say how many sources each crawled.
    took = [int(err.split(": ")[1].split(" sources")[0]) for _, err in outs]
    assert sum(took) == FEEDS + DEMO_SOURCES and min(took) > 0, took
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("select count(*) from sources where last_status = 'ok'").fetchone() == (FEEDS + DEMO_SOURCES,)
        kinds = dict(conn.execute("select kind, count(*) from documents group by kind").fetchall())
    assert kinds == {"article": FEEDS * PER_FEED + 34, "advisory": 7, "csaf": 4}
    status = subprocess.run([sys.executable, "-m", "supplywatch", "status", "--json"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 0 and '"crawl_pending": 0' in status.stdout, status.stdout + status.stderr


@pytest.mark.slow
def test_a_worker_killed_half_way_loses_nothing(cluster, redis_client):
    env, db = cluster
    assert subprocess.run([sys.executable, "-m", "supplywatch", "enqueue"], cwd=ROOT, env=env,
                          capture_output=True, timeout=60).returncode == 0
    writer = _spawn("worker", "store", "--batch", "50", env=env)
    victim = _spawn("worker", "crawl", "--max-idle", "2", env=env)
    survivor = _spawn("worker", "crawl", "--max-idle", "2", env=env)
    try:
        from supplywatch.crawlers.redis_queue import Keys

        server, keys = redis_client, Keys()

        def victim_holds() -> int:  # a worker's name is host-PID-random
            return sum(server.llen(k) for k in server.scan_iter(match=keys.processing("") + f"*-{victim.pid}-*"))

        deadline = time.monotonic() + 90
        # Half-way: documents are arriving, and the victim holds requests it has not finished. It is frozen
        # (SIGSTOP) before the second look, so it cannot finish them between the look and the kill: without that,
        # a victim that completed its last held request in that gap failed this test now and then.
        while time.monotonic() < deadline:
            if _count(db)[0] and victim_holds():
                victim.send_signal(signal.SIGSTOP)
                if victim_holds():
                    break
                victim.send_signal(signal.SIGCONT)
            time.sleep(0.02)
        victim.kill()  # SIGKILL: no cleanup, its in-flight requests stay in its processing list
        victim.communicate()
        held = victim_holds()
        assert held, "the victim held no request when it was killed"
        assert victim.returncode == -signal.SIGKILL
        assert _count(db)[0] < FEEDS * PER_FEED, "the crawl was over before the kill: make the site bigger"
        _, err = survivor.communicate(timeout=120)
        assert survivor.returncode == 0, err
        # What the dead worker held went back to the queue once its heartbeat expired, and was crawled.
        assert "of dead workers back in the queue" in err and victim_holds() == 0
        _drain_and_stop_writer(writer, redis_client)
        total = FEEDS * PER_FEED + DEMO_DOCS
        assert _count(db) == (total, total)
    finally:  # a failed assertion must not leave workers running (nor their pipes for a later test's GC)
        for proc in (writer, victim, survivor):
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


def test_scheduler_error_fails_the_worker_with_a_health_entry(tmp_path, redis_url, redis_client):
    """scrapy-redis logs an error in its scheduler and exits 0; ours exits 4 and says why in `status`."""

    from supplywatch.crawlers.redis_queue import Keys

    server, keys = redis_client, Keys()
    poison = b"\x80\x04\x95cos\nsystem\n"  # what a pickle payload looks like: never unpickled here
    server.rpush(keys.requests, poison)
    (tmp_path / "sw.toml").write_text(CRAWL, "utf-8")
    env = {**os.environ, "SUPPLYWATCH_REDIS_URL": redis_url, "SUPPLYWATCH_CONFIG": str(tmp_path / "sw.toml")}
    run = subprocess.run([sys.executable, "-m", "supplywatch", "worker", "crawl", "--max-idle", "2"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 4, run.stderr
    assert "scheduler error" in run.stderr and "Traceback" not in run.stderr
    assert server.lrange(keys.bad, 0, -1) == [poison]  # kept aside for the operator, not retried by every worker
    status = subprocess.run([sys.executable, "-m", "supplywatch", "status"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert status.returncode == 1 and "scheduler error" in status.stdout and "1 unreadable" in status.stdout
    cleared = subprocess.run([sys.executable, "-m", "supplywatch", "status", "--clear-failures"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)
    assert cleared.returncode == 0 and "failures: 0" in cleared.stdout, cleared.stdout + cleared.stderr


def test_an_idle_worker_keeps_the_shared_queue(tmp_path, redis_url, redis_client):
    """SCHEDULER_PERSIST: with it off, the first worker to go idle deletes the shared duplicate filter (and
    queue) while others still crawl. The worker goes idle and exits; what other workers rely on is still there."""

    from supplywatch.crawlers.redis_queue import Keys

    server, keys = redis_client, Keys()
    server.sadd(keys.dupefilter, "fingerprint-of-a-page-another-worker-fetched")
    (tmp_path / "sw.toml").write_text(CRAWL, "utf-8")
    env = {**os.environ, "SUPPLYWATCH_REDIS_URL": redis_url, "SUPPLYWATCH_CONFIG": str(tmp_path / "sw.toml")}
    run = subprocess.run([sys.executable, "-m", "supplywatch", "worker", "crawl", "--max-idle", "1"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert server.smembers(keys.dupefilter) == {b"fingerprint-of-a-page-another-worker-fetched"}


def test_spider_has_async_start():
    """scrapy-redis 0.9.1 only has start_requests(); Scrapy 2.13+ starts a spider through `async def start()`."""
    import inspect

    from supplywatch.crawlers.distributed import DistributedSpider

    assert "start" in DistributedSpider.__dict__ and inspect.isasyncgenfunction(DistributedSpider.start)
