"""Scale mode's composition: the Redis connection and its safety check, `enqueue`, the one writer, `status`.

Everything here runs only when ``[scale] redis_url`` (or $SUPPLYWATCH_REDIS_URL) is set and a scale
command is given; redis, scrapy-redis and rq are imported inside the functions (tests/test_lazy_imports.py).
The writer is the only process that opens the SQLite file; crawl and classify workers talk to Redis only.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import signal
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from supplywatch.store import ConfigError, FetchOutcome, InputError, StorageError, Store, models, utcnow, wire

log = logging.getLogger("supplywatch.scale")


def check_redis_url(url: str, *, allow_insecure: bool = False) -> str:
    """``url`` when it is a Redis URL we may use: a non-loopback host needs a password (or ``allow_insecure``),
    since anyone who can write to that Redis feeds documents to the archive and jobs to the workers."""
    if not url:
        raise ConfigError("scale mode needs a Redis: set [scale] redis_url or SUPPLYWATCH_REDIS_URL")
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"[scale] redis_url must be redis://, rediss:// or unix://, not {parts.scheme or url!r}")
    if parts.scheme == "unix" or parts.password or allow_insecure:
        return url
    host = (parts.hostname or "").strip("[]")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigError(f"refusing Redis at {host or '?'} without a password: anyone who can reach it could feed "
                          "the workers; put the password in the URL (redis://:PASSWORD@host:6379/0) or pass "
                          "--allow-insecure-redis ([scale] allow_insecure_redis = true)")
    return url


def connect(scale: dict[str, Any], *, allow_insecure: bool = False) -> tuple[Any, Any, str]:
    """(redis client, Keys, url) for the configured Redis, which must answer a PING."""
    url = check_redis_url(scale.get("redis_url", ""), allow_insecure=allow_insecure or scale.get("allow_insecure_redis"))
    try:
        import redis
    except ModuleNotFoundError:
        raise ConfigError("scale mode needs the scale extra: pip install 'supplywatch[scale]'") from None
    from supplywatch.crawlers.redis_queue import Keys

    server = redis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)
    try:
        server.ping()
    except redis.RedisError as exc:
        raise StorageError(f"cannot reach Redis at {urlsplit(url).hostname}:{urlsplit(url).port}: {exc}") from None
    return server, Keys(scale.get("prefix") or "supplywatch"), url


# -- enqueue --------------------------------------------------------------------------------------


def enqueue_sources(server: Any, keys: Any, db_path: str, sources: list[dict[str, Any]], *,
                    force: bool = False) -> dict[str, int]:
    """Push one job per due source (its ETag state and known entries come from the store, which workers
    never open); a rate-limited source is skipped and recorded as today. Returns counts."""
    now = utcnow()
    jobs, skipped = [], 0
    with Store.open(db_path) as store:
        store.sync_sources(sources)
        for source in sources:
            state = store.source_state(source["name"])
            if not force and state.get("retry_after") and state["retry_after"] > now:
                store.save_fetch([], FetchOutcome(source["name"], models.SKIPPED, now, now))
                skipped += 1
                continue
            slim = {k: state.get(k) for k in ("etag", "last_modified")}
            jobs.append(json.dumps({"source": source, "state": slim, "known": store.known_entries(source["name"]),
                                    "now": now}, separators=(",", ":")))
    if jobs:
        server.rpush(keys.sources, *jobs)
    return {"enqueued": len(jobs), "skipped": skipped}


# -- the one writer -------------------------------------------------------------------------------


@dataclass
class WriterStats:
    batches: int = 0
    entries: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    outcomes: int = 0
    labelled: int = 0
    bad: int = 0
    errors: list[str] = field(default_factory=list)


def ensure_group(server: Any, keys: Any) -> None:
    import redis

    try:  # id 0: entries queued before the writer's first start are read too
        server.xgroup_create(keys.stream, keys.group, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def run_writer(server: Any, keys: Any, db_path: str, *, batch: int = 500, consumer: str = "writer",
               max_idle: float = 0.0, progress: Any = None) -> WriterStats:
    """Read the stream in batches, store each in one transaction, then XACK and XDEL it. Killed at any
    point, the unacknowledged entries are read again at the next start (its pending list first): at least
    once, and the store's dedup makes it exactly once in the archive. Ends on SIGTERM/SIGINT, or after
    ``max_idle`` seconds without entries (0: never)."""
    from supplywatch.store.batches import save_batch

    ensure_group(server, keys)
    stats = WriterStats()
    stop = []
    previous = {sig: signal.signal(sig, lambda *_: stop.append(1)) for sig in (signal.SIGTERM, signal.SIGINT)}
    backlog = True  # our own pending entries first (a previous writer died before its XACK)
    idle_since = time.monotonic()
    try:
        with Store.open(db_path) as store:
            while not stop:
                server.set(keys.alive("store", consumer), json.dumps({"at": time.time(), **_public(stats)}), ex=10)
                reply = server.xreadgroup(keys.group, consumer, {keys.stream: "0" if backlog else ">"},
                                          count=batch, block=None if backlog else 1000)
                entries = reply[0][1] if reply else []
                if backlog and not entries:
                    backlog = False
                    continue
                if not entries:
                    if max_idle and time.monotonic() - idle_since >= max_idle:
                        break
                    continue
                idle_since = time.monotonic()
                _write(server, keys, store, entries, stats, save_batch)
                if progress:
                    progress(stats)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        try:
            server.delete(keys.alive("store", consumer))  # gone, not "seen 9 s ago"
        except Exception:  # noqa: BLE001 - Redis gone: the key expires on its own
            pass
    return stats


def _public(stats: WriterStats) -> dict[str, Any]:
    return {k: v for k, v in stats.__dict__.items() if k != "errors"}


def _write(server: Any, keys: Any, store: Any, entries: list[Any], stats: WriterStats, save_batch: Any) -> None:
    documents, outcomes, labels, ids = [], [], [], []
    for entry_id, fields in entries:
        ids.append(entry_id)
        raw = fields.get(b"e") or fields.get("e") or b""
        try:
            kind, payload = wire.decode(raw)
        except (InputError, KeyError, TypeError, ValueError) as exc:
            # Acknowledged anyway (a poison entry must not stop the writer) but visible in `status`.
            stats.bad += 1
            server.hset(keys.health, f"writer:bad-entry:{entry_id.decode() if isinstance(entry_id, bytes) else entry_id}",
                        json.dumps({"at": time.time(), "error": str(exc)[:500]}))
            continue
        if kind == "documents":
            documents.extend(payload)
        elif kind == "outcome":
            outcomes.append(payload)
        else:
            labels.append((payload["model_version"], payload["results"], payload.get("incidents") or []))
    result = save_batch(store, documents, outcomes, labels)  # one transaction; StorageError: nothing acked
    pipe = server.pipeline(transaction=True)
    pipe.xack(keys.stream, keys.group, *ids)
    pipe.xdel(keys.stream, *ids)
    summary = {"at": utcnow(), "entries": len(ids), "documents": len(documents), "new": result.new,
               "outcomes": len(outcomes), "labelled": sum(len(r) for _, r, _ in labels)}
    pipe.hset(keys.writer_stats, mapping={"last_batch": json.dumps(summary)})
    pipe.hincrby(keys.writer_stats, "documents", len(documents))
    pipe.hincrby(keys.writer_stats, "new", result.new)
    pipe.execute()
    stats.batches += 1
    stats.entries += len(ids)
    stats.new += result.new
    stats.updated += result.updated
    stats.unchanged += result.unchanged
    stats.outcomes += len(outcomes)
    stats.labelled += summary["labelled"]


# -- status ---------------------------------------------------------------------------------------


def status(server: Any, keys: Any) -> dict[str, Any]:
    """One screen's worth: queue lengths, workers alive, the writer's last batch, failures."""
    from supplywatch.crawlers.redis_queue import pending

    def text(v: Any) -> str:
        return v.decode() if isinstance(v, bytes) else str(v)

    workers = []
    for key in server.scan_iter(match=keys.alive("*", "*"), count=500):
        role, _, name = text(key)[len(keys.prefix) + len(":alive:"):].partition(":")
        info = json.loads(server.get(key) or "{}")
        workers.append({"role": role, "worker": name, "seen_s_ago": round(time.time() - info.pop("at", 0), 1), **info})
    try:
        pending_writes = server.xpending(keys.stream, keys.group)["pending"]
    except Exception:  # noqa: BLE001 - no group yet: no writer ever ran
        pending_writes = 0
    queues = {"sources": server.llen(keys.sources), "requests": server.llen(keys.requests),
              "crawl_pending": pending(server, keys), "bad_requests": server.llen(keys.bad),
              "to_writer": server.xlen(keys.stream), "writer_unacked": pending_writes}
    failures = [{"who": text(k), **json.loads(v)} for k, v in server.hgetall(keys.health).items()]
    classify = {}
    try:
        from rq import Queue, Worker
        from rq.registry import FailedJobRegistry, FinishedJobRegistry

        from .scale_jobs import serializer

        queue = Queue(keys.classify_queue, connection=server, serializer=serializer())
        failed = FailedJobRegistry(queue=queue)
        classify = {"queued": queue.count, "failed": failed.count, "done": FinishedJobRegistry(queue=queue).count}
        for w in Worker.all(queue=queue):
            workers.append({"role": "classify", "worker": w.name, "state": w.get_state(),
                            "seen_s_ago": round(time.time() - w.last_heartbeat.timestamp(), 1) if w.last_heartbeat else None,
                            "jobs_done": w.successful_job_count, "jobs_failed": w.failed_job_count})
        for job in queue.job_class.fetch_many(failed.get_job_ids()[:10], connection=server, serializer=serializer()):
            if job is not None:
                result = job.latest_result()
                last = (result.exc_string if result else "") or ""
                error = last.strip().splitlines()[-1] if last.strip() else "failed"
                failures.append({"who": f"classify-job:{job.id}", "error": error})
    except ModuleNotFoundError:
        pass
    writer = {text(k): text(v) for k, v in server.hgetall(keys.writer_stats).items()}
    last = json.loads(writer.pop("last_batch", "null") or "null")
    return {"queues": queues, "classify": classify, "workers": sorted(workers, key=lambda w: (w["role"], w["worker"])),
            "writer": {"totals": writer, "last_batch": last}, "failures": failures}


def clear_failures(server: Any, keys: Any) -> int:
    """Forget recorded failures: health entries, set-aside request entries, failed classify jobs; how many."""
    count = server.hlen(keys.health) + server.llen(keys.bad)
    server.delete(keys.health, keys.bad)
    try:
        from rq import Queue
        from rq.registry import FailedJobRegistry

        from .scale_jobs import serializer

        failed = FailedJobRegistry(queue=Queue(keys.classify_queue, connection=server, serializer=serializer()))
        for job_id in failed.get_job_ids():
            failed.remove(job_id, delete_job=True)
            count += 1
    except ModuleNotFoundError:
        pass
    return count
