"""One Scrapy crawler for all the sources of a crawl: one engine, scheduler and downloader, each source still its own.

Each source gets its kind's spider (crawlers/spiders.py) as a plain object that parses that source's responses
and keeps its outcome; :class:`AllSourcesSpider` only routes requests, responses and documents between them and
the crawler. One crawler per source cost an engine, a scheduler, a middleware stack, a connection pool and a
robots.txt cache each, and a stall of every source whenever one closed (benchmarks/RESULTS.md, issue 13).

What stays per source, as with a crawler per source:

- politeness: a request's download slot is ``<source> <host>``, so every source has ``concurrent_per_host``,
  ``download_delay`` and autothrottle to itself, and the crawl may have ``concurrent_requests`` in flight per
  source. The scheduler hands out the request of the slot with the fewest downloads in flight
  (DownloaderAwarePriorityQueue), so a source with many pages does not hold the others back.
- duplicates are filtered within a source only (:class:`PerSourceDupeFilter`): two sources that link the
  same page both get it, as before.
- health: a source is done when the last request it led to is done; its documents and outcome are then written
  (crawlers/pipeline.py) while the other sources go on. An exception in one source's parsing is that source's
  internal error (its warnings and status); it never stops the others.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

import scrapy
from scrapy import signals
from scrapy.dupefilters import RFPDupeFilter
from scrapy.utils.httpobj import urlparse_cached

from supplywatch.store import Document

from .kinds import KINDS

log = logging.getLogger("supplywatch.crawl")


async def outputs(result: Any) -> Any:
    """A callback's outputs, whether it returned None, a list, a generator, a coroutine or an async generator."""
    if result is None:
        return
    if inspect.isasyncgen(result):
        async for out in result:
            yield out
    elif inspect.iscoroutine(result):
        value = await result
        async for out in outputs(value):
            yield out
    else:
        for out in result:
            yield out


def one_crawler_settings(base: dict[str, Any], options: dict[str, Any], sources: int) -> dict[str, Any]:
    """Scrapy settings for a crawl of ``sources`` sources in one crawler: ``base`` (crawlers.runner.scrapy_settings)
    with these on top."""
    return {
        **base,
        # What the crawlers of a crawler per source allowed together; each slot (source and host) still has
        # concurrent_per_host.
        "CONCURRENT_REQUESTS": options["concurrent_requests"] * max(1, sources),
        "SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.DownloaderAwarePriorityQueue",
        "DUPEFILTER_CLASS": "supplywatch.crawlers.multi.PerSourceDupeFilter",
        "ITEM_PIPELINES": {},  # documents are kept per source by AllSourcesSpider
        "SUPPLYWATCH_SOURCES": sources,  # the HTTP handler's persistent connections per host (crawlers/handlers.py)
        # Per-request work that only fills Scrapy's stats, which nothing reads (the health is our own), or that
        # has nothing to do without allowed_domains or credentials: ~1 ms of reactor CPU per page in a profile.
        "STATS_CLASS": "scrapy.statscollectors.DummyStatsCollector",
        "DOWNLOADER_STATS": False,
        "DOWNLOADER_MIDDLEWARES": {
            **base["DOWNLOADER_MIDDLEWARES"],
            "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
            "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
        },
        "SPIDER_MIDDLEWARES": {"scrapy.spidermiddlewares.depth.DepthMiddleware": None},
    }


class PerSourceDupeFilter(RFPDupeFilter):
    """Scrapy's duplicate filter, keyed by source and request: a page is fetched once per source that links it."""

    def _fingerprint(self, request: Any) -> bytes:
        return request.meta.get("sw_source", "").encode() + b"\0" + super()._fingerprint(request)


class _Source:
    """One source's part of the crawl: its kind spider, requests not yet done, documents not yet written."""

    __slots__ = ("documents", "finished", "name", "pending", "spider")

    def __init__(self, name: str, spider: Any):
        self.name, self.spider = name, spider
        self.pending = 0
        self.documents: list[Document] = []
        self.finished = False


class AllSourcesSpider(scrapy.Spider):
    """Every configured source's requests in one crawler; each request carries its source in ``meta``."""

    name = "supplywatch"

    def __init__(self, *, jobs: list[tuple[dict[str, Any], dict[str, Any], dict[str, str]]], now: str,
                 options: dict[str, Any], pool: Any, writer: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.writer = writer  # a crawlers.pipeline.SourceWriter
        self.sources: dict[str, _Source] = {}
        self.failures: dict[str, str] = {}  # sources whose spider could not even be made
        for source, state, known in jobs:
            try:
                spider = KINDS[source["kind"]].spider_class()(source=source, state=state, known=known, now=now,
                                                              options=options, pool=pool)
            except Exception as exc:  # noqa: BLE001 - this source only: the runner reports it as crawl_error
                self.failures[source["name"]] = f"{type(exc).__name__}: {exc}"
                continue
            self.sources[source["name"]] = _Source(source["name"], spider)

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> AllSourcesSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._dropped, signal=signals.request_dropped)
        crawler.signals.connect(spider._idle, signal=signals.spider_idle)
        return spider

    def report(self, name: str) -> dict[str, Any] | None:
        src = self.sources.get(name)
        return src.spider.report if src is not None else None

    # -- requests: every one is counted against its source until its callback or errback is done ------

    async def start(self):  # noqa: ANN201 - Scrapy's async start protocol
        for src in list(self.sources.values()):
            try:
                async for request in src.spider.start():
                    yield self._adopt(src, request)
            except Exception as exc:  # noqa: BLE001 - this source's bug, recorded as its internal error
                self._internal_error(src, src.spider.source["url"], exc)
            if src.pending == 0:
                self._finish(src)

    def _adopt(self, src: _Source, request: scrapy.Request) -> scrapy.Request:
        """The source's request, routed through this spider (its own callbacks travel in meta)."""
        src.pending += 1
        meta = request.meta
        meta["sw_source"] = src.name
        meta["sw_cb"], meta["sw_eb"] = request.callback, request.errback
        meta.setdefault("download_slot", f"{src.name} {urlparse_cached(request).hostname or ''}")
        request.callback, request.errback = self._callback, self._errback
        return request

    async def _callback(self, response: Any, **kwargs: Any):  # noqa: ANN202
        meta = response.meta
        src = self.sources[meta["sw_source"]]
        try:
            async for out in outputs(meta["sw_cb"](response, **kwargs)):
                if isinstance(out, scrapy.Request):
                    yield self._adopt(src, out)
                elif isinstance(out, Document):
                    src.documents.append(out)
        except Exception as exc:  # noqa: BLE001 - a bug in this source's parsing: its health says so
            self._internal_error(src, response.url, exc)
        finally:
            self._done(src)

    async def _errback(self, failure: Any):  # noqa: ANN202
        request = failure.request
        src = self.sources[request.meta["sw_source"]]
        try:
            errback = request.meta.get("sw_eb")
            if errback is not None:
                async for out in outputs(errback(failure)):
                    if isinstance(out, scrapy.Request):
                        yield self._adopt(src, out)
                    elif isinstance(out, Document):
                        src.documents.append(out)
        except Exception as exc:  # noqa: BLE001
            self._internal_error(src, request.url, exc)
        finally:
            self._done(src)

    def _dropped(self, request: Any) -> None:
        """The scheduler dropped a duplicate: its callback will never run."""
        src = self.sources.get(request.meta.get("sw_source", ""))
        if src is not None:
            self._done(src)

    def _internal_error(self, src: _Source, url: str, exc: Exception) -> None:
        log.error("%s: internal error on %s: %r", src.name, url, exc, exc_info=exc)
        src.spider.callback_errors += 1
        src.spider.warn(f"internal error on {url}: {exc!r}")

    # -- a source is done: its documents and outcome go to the writer -----------------------------------

    def _done(self, src: _Source) -> None:
        src.pending -= 1
        if src.pending <= 0:
            self._finish(src)

    def _finish(self, src: _Source) -> None:
        if src.finished:
            return
        src.finished = True
        documents, src.documents = src.documents, []
        self.writer.submit(src.spider, documents)

    def _idle(self) -> None:
        # Nothing left to fetch: a source whose count never came to zero (a request dropped by a middleware
        # without a signal, such as an over-long URL) is done all the same.
        for src in self.sources.values():
            self._finish(src)

    async def closed(self, reason: str) -> None:
        for src in self.sources.values():  # stopped early (Ctrl-C): each source's documents so far, as before
            self._finish(src)
        await self.writer.drain()
