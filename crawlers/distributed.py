"""The distributed crawl: one long-lived Scrapy process per worker, its scheduler and duplicate filter in Redis.

``supplywatch enqueue`` pushes source jobs (the source, its ETag state and known entries) to Redis; any
number of workers (``supplywatch worker crawl``, on one machine or many) take them, and every request a
source leads to (each article page) goes back through the shared queue, so the pages of one big feed
are spread over all workers. The parsing is the single-machine spiders' own: :class:`DistributedSpider`
hands each response to a throwaway instance of the source's kind spider (feeds, advisories, CSAF) and
sends what it yields on: documents to the writer's stream (:class:`.redis_queue.RedisSink`), requests
to the shared queue, the source's outcome once its first response is parsed.

scrapy-redis 0.9.1 needs four things around it on Scrapy 2.19 (issue 14): ``SCHEDULER_PERSIST`` on (off,
the first idle worker flushes the shared queue); a JSON serializer (:mod:`.redis_json`, not pickle);
an ``async def start()``; and :class:`GuardedScheduler`, since errors in its scheduler are only logged.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from typing import Any

import scrapy
from scrapy_redis.scheduler import Scheduler
from scrapy_redis.spiders import RedisSpider

from supplywatch.store import CrawlError, Document, utcnow

from .kinds import KINDS
from .multi import outputs as _outputs
from .redis_queue import Keys, RedisSink, ack, heartbeat, pending, reclaim, report_error

log = logging.getLogger("supplywatch.crawl")

# The first callback of each kind, and its errback for the source request itself.
SOURCE_CALLBACKS = {"FeedSpider": "parse_feed", "AdvisorySpider": "parse_index", "CsafSpider": "parse_rolie"}


def worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class DistributedSpider(RedisSpider):
    """Reads source jobs from Redis; every request it makes carries its source in ``meta``."""

    name = "supplywatch-distributed"

    def __init__(self, *, keys: Keys, worker_id: str, options: dict[str, Any], pool: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.keys = keys
        self.redis_key = keys.sources
        self.worker_id = worker_id
        self.options = options
        self.pool = pool
        self.sink: RedisSink | None = None
        self.done = {"sources": 0, "documents": 0, "requests": 0}

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> DistributedSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.sink = RedisSink(spider.server, spider.keys)
        return spider

    # scrapy-redis defines only start_requests(); Scrapy 2.13+ starts spiders through start().
    async def start(self):  # noqa: ANN201
        for request in self.next_requests():
            yield request

    # -- source jobs: moved, not popped, so a worker killed right here loses none --------------

    def next_requests(self):  # noqa: ANN201
        for _ in range(self.redis_batch_size or 1):
            raw = self.server.lmove(self.keys.sources, self.keys.processing(self.worker_id), "LEFT", "RIGHT")
            if raw is None:
                return
            try:
                job = json.loads(raw)
                request = self.source_request(job)
            except (ValueError, KeyError, TypeError) as exc:
                self.server.rpush(self.keys.bad, raw)
                ack(self.server, self.keys, self.worker_id, raw)
                report_error(self.server, self.keys, f"crawl:{self.worker_id}", f"bad source job: {exc}")
                continue
            request.meta["sw_entry"] = raw  # the queue's push swaps the job for the request in one step
            yield request

    def delegate(self, meta: dict[str, Any]) -> Any:
        job = meta["sw_job"]
        cls = KINDS[job["source"]["kind"]].spider_class()
        return cls(source=job["source"], state=job.get("state") or {}, known=job.get("known") or {},
                   now=job["now"], options=self.options, pool=self.pool)

    def source_request(self, job: dict[str, Any]) -> scrapy.Request:
        spider = self.delegate({"sw_job": job})
        first = SOURCE_CALLBACKS[type(spider).__name__]
        request = spider.source_request(getattr(spider, first))
        return self.adopt(request, job, source_level=True)

    def adopt(self, request: scrapy.Request, job: dict[str, Any], source_level: bool = False) -> scrapy.Request:
        """The same request with our callbacks: the kind spider's method names travel in meta."""
        meta = {k: v for k, v in request.meta.items() if k not in ("sw_entry", "entry")}
        slim = job if source_level else {**job, "known": {}, "state": {}}
        meta.update(sw_job=slim, sw_cb=request.callback.__name__ if request.callback else "parse",
                    sw_eb=request.errback.__name__ if request.errback else "", sw_source_level=source_level)
        return request.replace(callback=self.sw_callback, errback=self.sw_errback, meta=meta)

    # -- callbacks ----------------------------------------------------------------------------

    async def sw_callback(self, response: Any, **kwargs: Any):  # noqa: ANN201
        meta = response.meta
        spider = self.delegate(meta)
        await self.forward(spider, getattr(spider, meta["sw_cb"])(response, **kwargs), meta)
        return
        yield  # an async generator, as Scrapy expects of callbacks

    async def sw_errback(self, failure: Any):  # noqa: ANN201
        meta = failure.request.meta
        spider = self.delegate(meta)
        result = getattr(spider, meta["sw_eb"])(failure) if meta.get("sw_eb") else None
        await self.forward(spider, result, meta)
        return
        yield

    async def forward(self, spider: Any, result: Any, meta: dict[str, Any]) -> None:
        """Queue what a callback produced, then acknowledge the request: documents to the writer, requests
        to the shared queue, the outcome when this was the source's own response. A worker killed before
        the acknowledgement leaves the request to be fetched again (at least once)."""
        documents: list[Document] = []
        requests: list[scrapy.Request] = []
        try:
            async for out in _outputs(result):
                if isinstance(out, Document):
                    documents.append(out)
                elif isinstance(out, scrapy.Request):
                    requests.append(self.adopt(out, meta["sw_job"]))
        except Exception as exc:  # noqa: BLE001 - a bug in parsing: recorded and acknowledged, never retried forever
            message = f"internal error on {meta.get('sw_cb')} for {meta['sw_job']['source']['name']}: {exc!r}"
            log.error("%s", message)
            report_error(self.server, self.keys, f"crawl:{self.worker_id}", message)
            spider.callback_errors += 1
            spider.warn(message)
        self.sink.send_documents(documents)
        for request in requests:
            self.crawler.engine.crawl(request)
        if meta.get("sw_source_level"):
            self.sink.send_outcome(spider.outcome())
            self.done["sources"] += 1
        self.done["documents"] += len(documents)
        self.done["requests"] += 1
        ack(self.server, self.keys, self.worker_id, meta.get("sw_entry"))

    # -- idle: reclaim the dead's work, close only when nothing is pending anywhere --------------

    def spider_idle(self) -> None:
        moved = reclaim(self.server, self.keys)
        if moved:
            log.warning("worker %s: put %d requests of dead workers back in the queue", self.worker_id, moved)
        if pending(self.server, self.keys):
            self.spider_idle_start_time = int(time.time())
        super().spider_idle()


class GuardedScheduler(Scheduler):
    """scrapy-redis's scheduler, whose errors end the worker with a failing exit and a health entry.

    Scrapy only logs an exception raised in a scheduler, and the process exits 0 after it: a worker
    whose Redis vanished, or which met an entry it cannot decode, would look healthy."""

    error: str | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> GuardedScheduler:
        scheduler = super().from_crawler(crawler)
        scheduler.crawler = crawler
        return scheduler

    def _failed(self, exc: Exception) -> None:
        message = f"scheduler error: {type(exc).__name__}: {exc}"
        log.error("%s", message)
        if GuardedScheduler.error is None:
            GuardedScheduler.error = message
            try:
                report_error(self.server, self.spider.keys, f"crawl:{self.spider.worker_id}", message)
            except Exception:  # noqa: BLE001 - Redis itself may be what failed; the exit status still says it
                pass
            self.crawler.stop()

    def enqueue_request(self, request: Any) -> bool:
        try:
            return super().enqueue_request(request)
        except Exception as exc:
            self._failed(exc)
            return False

    def next_request(self) -> Any:
        if GuardedScheduler.error is not None:
            return None
        try:
            return super().next_request()
        except Exception as exc:
            self._failed(exc)
            return None

    def has_pending_requests(self) -> bool:
        try:
            return super().has_pending_requests()
        except Exception as exc:
            self._failed(exc)
            return False


def worker_settings(base: dict[str, Any], redis_url: str, keys: Keys, max_idle: int) -> dict[str, Any]:
    return {
        **base,
        "SCHEDULER": "supplywatch.crawlers.distributed.GuardedScheduler",
        # Off, the first worker to go idle deletes the shared queue and the duplicate filter (trap 1).
        "SCHEDULER_PERSIST": True,
        "SCHEDULER_FLUSH_ON_START": False,
        "SCHEDULER_QUEUE_CLASS": "supplywatch.crawlers.redis_queue.ReliableQueue",
        "SCHEDULER_QUEUE_KEY": keys.requests,
        "SCHEDULER_SERIALIZER": "supplywatch.crawlers.redis_json",
        "SCHEDULER_DUPEFILTER_KEY": keys.dupefilter,
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "REDIS_URL": redis_url,
        "REDIS_START_URLS_KEY": keys.sources,
        "MAX_IDLE_TIME_BEFORE_CLOSE": max_idle,
        # Source jobs a worker takes at once when idle (scrapy-redis defaults to CONCURRENT_REQUESTS): few, so
        # sources spread over the workers; their pages go through the shared queue anyway.
        "REDIS_START_URLS_BATCH_SIZE": 4,
        "ITEM_PIPELINES": {},  # documents go out in DistributedSpider.forward
    }


def run_worker(redis_url: str, keys: Keys, options: dict[str, Any], *, worker_id: str | None = None,
               max_idle: int = 0) -> dict[str, Any]:
    """Crawl whatever the queue holds until stopped (or idle ``max_idle`` seconds); what this worker did.
    CrawlError when the scheduler failed (the health entry is in Redis)."""
    from scrapy.core.engine import ExecutionEngine
    from scrapy.crawler import CrawlerProcess
    from twisted.internet import task

    from .runner import scrapy_settings
    from .workers import PagePool

    # The engine looks for new requests every 5 s when idle; work pushed by another worker should not wait that long.
    ExecutionEngine._SLOT_HEARTBEAT_INTERVAL = 0.5
    started = utcnow()
    worker_id = worker_id or worker_name()
    GuardedScheduler.error = None
    pool = PagePool(options["extract_workers"])
    try:
        process = CrawlerProcess(worker_settings(scrapy_settings(options), redis_url, keys, max_idle))
        crawler = process.create_crawler(DistributedSpider)
        failures: list[str] = []
        d = process.crawl(crawler, keys=keys, worker_id=worker_id, options=options, pool=pool)
        d.addErrback(lambda f: failures.append(f"{f.type.__name__}: {f.value}"))

        def beat() -> None:
            spider = crawler.spider
            try:
                heartbeat(spider.server, keys, "crawl", worker_id, pid=os.getpid(), **(spider.done if spider else {}))
            except Exception as exc:  # noqa: BLE001 - Redis gone: end with a failing exit
                log.error("heartbeat failed: %r", exc)
                failures.append(f"heartbeat: {type(exc).__name__}: {exc}")
                crawler.stop()

        beater = task.LoopingCall(beat)

        def opened() -> None:
            beater.start(2.0, now=True)

        def closed() -> None:
            if beater.running:
                beater.stop()

        # Scrapy holds signal receivers weakly: these two live as long as this frame, a lambda would not.
        crawler.signals.connect(opened, signal=scrapy.signals.spider_opened)
        crawler.signals.connect(closed, signal=scrapy.signals.spider_closed)
        process.start()
    finally:
        pool.close()
    spider = crawler.spider
    done = dict(spider.done) if spider is not None else {}
    if spider is not None:
        try:
            spider.server.delete(keys.alive("crawl", worker_id))
        except Exception:  # noqa: BLE001 - it expires on its own
            pass
    error = GuardedScheduler.error or (failures[0] if failures else None)
    if error:
        raise CrawlError(f"crawl worker {worker_id}: {error}")
    return {"worker": worker_id, "started": started, "finished": utcnow(), **done}
