"""Scale mode's parts against a real redis-server: URL safety, the JSON request queue, the one writer, the traps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from supplywatch.store import ConfigError, Document, FetchOutcome, Store

ROOT = Path(__file__).resolve().parents[1]


def sw(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "supplywatch", *args], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout)


def test_redis_url_without_password_off_loopback_is_refused(tmp_path):
    from supplywatch.scale import check_redis_url

    for ok in ("redis://127.0.0.1:6379/0", "redis://localhost:6379", "redis://[::1]:6379", "unix:///run/redis.sock",
               "redis://:s3cret@10.0.0.5:6379/0", "rediss://user:pw@redis.example:6380/1"):
        assert check_redis_url(ok) == ok
    for bad in ("redis://10.0.0.5:6379/0", "redis://redis.internal:6379", "rediss://0.0.0.0:6379"):
        with pytest.raises(ConfigError, match="without a password"):
            check_redis_url(bad)
        assert check_redis_url(bad, allow_insecure=True) == bad
    with pytest.raises(ConfigError, match="redis://"):
        check_redis_url("http://127.0.0.1:6379")
    # The worker refuses before connecting (nothing listens there), in one line, exit 2.
    env = {"SUPPLYWATCH_REDIS_URL": "redis://10.255.255.1:6379/0"}
    refused = sw("worker", "crawl", env=env)
    assert refused.returncode == 2 and "without a password" in refused.stderr and "Traceback" not in refused.stderr
    assert "--allow-insecure-redis" in refused.stderr
    # With the flag it goes on and tries to connect (and fails to reach it: exit 3, not a refusal).
    tried = sw("worker", "store", "--allow-insecure-redis", env={**env, "SUPPLYWATCH_REDIS_URL": "redis://127.0.0.2:1/0"})
    assert tried.returncode == 3 and "cannot reach Redis" in tried.stderr


def test_scale_config_and_environment(tmp_path):
    from supplywatch import config

    (tmp_path / "empty.toml").write_text("")
    cfg = config.load(tmp_path / "empty.toml", env={})
    assert cfg.scale["redis_url"] == "" and cfg.scale["writer_batch"] == 500
    (tmp_path / "c.toml").write_text('[scale]\nredis_url = "redis://127.0.0.1:1/0"\nwriter_batch = 7\n')
    cfg = config.load(tmp_path / "c.toml", env={})
    assert cfg.scale["redis_url"] == "redis://127.0.0.1:1/0" and cfg.scale["writer_batch"] == 7
    cfg = config.load(tmp_path / "c.toml", env={"SUPPLYWATCH_REDIS_URL": "redis://127.0.0.1:2/0"})
    assert cfg.scale["redis_url"] == "redis://127.0.0.1:2/0"
    (tmp_path / "bad.toml").write_text("[scale]\nwriter_batch = 0\n")
    with pytest.raises(ConfigError, match="writer_batch"):
        config.load(tmp_path / "bad.toml", env={})


def _page_request():
    import scrapy

    from supplywatch.crawlers.distributed import DistributedSpider
    from supplywatch.crawlers.feeds import Entry
    from supplywatch.crawlers.redis_queue import Keys

    spider = DistributedSpider(keys=Keys("t"), worker_id="w1", options={}, pool=None)
    entry = Entry(guid="g1", link="http://127.0.0.1/a", title="T", summary="s", content="", flags=["x"])
    request = scrapy.Request("http://127.0.0.1/a", method="POST", body=b"\x00\xffbinary body",
                             headers={"X-Bin": b"\xfe\x01"}, callback=spider.sw_callback, errback=spider.sw_errback,
                             cb_kwargs={"entry": entry}, meta={"sw_job": {"source": {"name": "s"}}, "sw_cb": "parse_page"})
    return spider, request, entry


def test_request_queue_holds_json_never_pickle_and_bytes_survive(redis_client):
    from scrapy_redis import picklecompat
    from scrapy_redis.queue import FifoQueue

    from supplywatch.crawlers import redis_json
    from supplywatch.crawlers.redis_queue import ReliableQueue, ack

    server = redis_client
    spider, request, entry = _page_request()
    queue = ReliableQueue(server, spider, spider.keys.requests, serializer=redis_json)
    queue.push(request)
    queue.push(request.replace(url="http://127.0.0.1/b"))
    stored = server.lrange(spider.keys.requests, 0, -1)
    assert len(stored) == 2
    for raw in stored:
        assert not raw.startswith(b"\x80")  # a pickle starts with its protocol byte
        json.loads(raw)  # plain JSON text, nothing else
    popped = queue.pop()
    assert popped.body == b"\x00\xffbinary body" and popped.headers[b"X-Bin"] == b"\xfe\x01"
    assert popped.cb_kwargs["entry"] == entry and popped.callback == spider.sw_callback
    # Popped is not gone: it waits in this worker's processing list until acknowledged.
    assert server.lrange(spider.keys.processing("w1"), 0, -1) == [stored[0]]
    ack(server, spider.keys, "w1", popped.meta["sw_entry"])
    assert server.llen(spider.keys.processing("w1")) == 0
    # What the defaults would have done: scrapy-redis pickles (anyone who writes to Redis runs code) ...
    FifoQueue(server, spider, "t:pickled").push(request)
    assert server.lrange("t:pickled", 0, 0)[0] == picklecompat.dumps(request.to_dict(spider=spider))
    assert server.lrange("t:pickled", 0, 0)[0].startswith(b"\x80")
    # ... and our serializer refuses any type it does not know instead of importing it.
    with pytest.raises(ValueError, match="unknown type"):
        redis_json.loads('{"__dc__": "os.system", "fields": {}}')
    with pytest.raises(TypeError):
        redis_json.dumps({"x": object()})


def test_builtin_json_serializer_loses_bytes_bodies():
    """Why the project has its own serializer: scrapy-redis's "json" cannot encode a bytes body at all."""
    from scrapy_redis import picklecompat  # noqa: F401 - the package imports

    spider, request, _ = _page_request()
    with pytest.raises(TypeError):
        json.dumps(request.to_dict(spider=spider))


def test_dead_workers_requests_are_reclaimed(redis_client):

    from supplywatch.crawlers import redis_json
    from supplywatch.crawlers.redis_queue import ReliableQueue, heartbeat, pending, reclaim

    server = redis_client
    spider, request, _ = _page_request()
    queue = ReliableQueue(server, spider, spider.keys.requests, serializer=redis_json)
    for i in range(3):
        queue.push(request.replace(url=f"http://127.0.0.1/{i}"))
    queue.pop(), queue.pop()
    heartbeat(server, spider.keys, "crawl", "w1")
    assert reclaim(server, spider.keys) == 0 and pending(server, spider.keys) == 3  # alive: left alone
    server.delete(spider.keys.alive("crawl", "w1"))  # its heartbeat expired (killed)
    assert reclaim(server, spider.keys) == 2
    assert server.llen(spider.keys.requests) == 3 and server.llen(spider.keys.processing("w1")) == 0
    assert queue.pop().url == "http://127.0.0.1/0"  # reclaimed work goes first


def test_a_dead_workers_source_jobs_go_back_to_the_source_queue(redis_client):
    """A worker killed between taking a source job and queueing its first request holds the job itself: it goes
    back to the source queue, never into the request queue (where no worker could decode it as a request)."""
    import json

    from supplywatch.crawlers import redis_json
    from supplywatch.crawlers.redis_queue import ReliableQueue, reclaim

    server = redis_client
    spider, request, _ = _page_request()
    queue = ReliableQueue(server, spider, spider.keys.requests, serializer=redis_json)
    queue.push(request)
    job = json.dumps({"source": {"name": "s1", "kind": "rss", "url": "http://127.0.0.1/feed"}, "now": "x"})
    server.rpush(spider.keys.sources, job)
    server.lmove(spider.keys.sources, spider.keys.processing("w1"), "LEFT", "RIGHT")  # as next_requests takes it
    queue.pop()  # and a request of an earlier source, in flight
    assert reclaim(server, spider.keys) == 2  # w1 has no heartbeat: dead
    assert server.lrange(spider.keys.sources, 0, -1) == [job.encode()]
    assert queue.pop().url == request.url and len(queue) == 0  # the request queue holds requests only


def _doc(i: int, source: str = "s1") -> Document:
    return Document(source=source, title=f"Title {i}", text=f"text {i} " * 20, url=f"http://example.org/{i}",
                    canonical_url=f"http://example.org/{i}", guid=f"g{i}")


def test_writer_stores_once_and_survives_a_crash_before_its_ack(tmp_path, redis_client):

    from supplywatch.crawlers.redis_queue import Keys, RedisSink
    from supplywatch.scale import ensure_group, run_writer
    from supplywatch.store.batches import save_batch

    server = redis_client
    keys = Keys("w")
    db = str(tmp_path / "a.db")
    with Store.open(db) as store:
        store.sync_sources([{"name": "s1", "kind": "feed", "url": "http://example.org/feed"}])
    sink = RedisSink(server, keys)
    sink.write([_doc(i) for i in range(10)], FetchOutcome("s1", "ok", "2026-11-30T00:00:00Z", "2026-11-30T00:00:01Z",
                                                          etag='"e1"'))
    sink.send_documents([_doc(i) for i in range(5, 15)])  # redelivered and new documents mixed
    server.xadd(keys.stream, {"e": b"\x80\x04pickled?"})  # a poison entry
    # A writer that dies after its commit and before XACK: the entries stay pending for it.
    ensure_group(server, keys)
    entries = server.xreadgroup(keys.group, "writer", {keys.stream: ">"}, count=2)[0][1]
    from supplywatch.store import wire

    with Store.open(db) as store:
        save_batch(store, *[[p] if k == "outcome" else p for k, p in [wire.decode(entries[0][1][b"e"])]])
    stats = run_writer(server, keys, db, batch=2, max_idle=0.5)
    with Store.open(db) as store:
        rows = store.db.execute("select count(*), count(distinct canonical_url) from documents").fetchone()
        assert rows == (15, 15)
        assert store.source_state("s1")["etag"] == '"e1"'
    assert stats.bad == 1 and any(k.startswith(b"writer:bad-entry") for k in server.hkeys(keys.health))
    assert server.xlen(keys.stream) == 0 and server.xpending(keys.stream, keys.group)["pending"] == 0


def test_run_in_scale_mode_queues_the_sources_with_their_state(redis_url, tmp_path, redis_client):
    """`run` (through Pipeline.enqueue_crawl) pushes one JSON job per source with its ETag and known entries;
    a rate-limited source is skipped and recorded, as in a one-machine crawl."""

    from supplywatch import config
    from supplywatch.crawlers.redis_queue import Keys
    from supplywatch.pipeline import make_pipeline

    (tmp_path / "sw.toml").write_text(
        '[[sources]]\nname = "s1"\nkind = "feed"\nurl = "http://example.org/a.xml"\n'
        '[[sources]]\nname = "s2"\nkind = "feed"\nurl = "http://example.org/b.xml"\n', "utf-8")
    cfg = config.load(tmp_path / "sw.toml", env={"SUPPLYWATCH_REDIS_URL": redis_url})
    db = str(tmp_path / "sw.db")
    with Store.open(db) as store:
        store.sync_sources(cfg.sources)
        store.save_fetch([_doc(1)], FetchOutcome("s1", "ok", "2026-11-30T00:00:00Z", "2026-11-30T00:00:00Z",
                                                 etag='"v1"'))
        store.save_fetch([], FetchOutcome("s2", "rate_limited", "2026-11-30T00:00:00Z", "2026-11-30T00:00:00Z",
                                          retry_after="2999-01-01T00:00:00Z", error="429"))
    with make_pipeline(cfg, db) as pipeline:
        assert pipeline.enqueue_crawl() == {"enqueued": 1, "skipped": 1}
    jobs = [json.loads(raw) for raw in redis_client.lrange(Keys().sources, 0, -1)]
    assert [j["source"]["name"] for j in jobs] == ["s1"]
    assert jobs[0]["state"]["etag"] == '"v1"' and "url:http://example.org/1" in jobs[0]["known"]
    with Store.open(db) as store:
        assert store.source_state("s2")["last_status"] == "rate_limited"  # skipped keeps its status
