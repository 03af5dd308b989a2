"""Scrapy's HTTP/1.1 download handler, minus a race that prints Twisted tracebacks in large crawls.

When a crawler closes, Scrapy's handler closes its cached connections and, in case that hangs,
schedules ``d.callback`` on the same Deferred after a timeout (1 s), cancelling it once the await
returns. In a crawl of many sources on a busy machine the await's continuation can run later than
that timeout although ``d`` already fired: the timed call then calls it a second time and Twisted
logs "while handling timed call ... AlreadyCalledError", once per source (hundreds of tracebacks
in a 1,000-source crawl). Here the timed call fires ``d`` only if nothing has.

It also keeps enough connections open for reuse when one crawler fetches for many sources (below), and
:class:`SlotDownloader` holds each download slot to its concurrency.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from scrapy.core.downloader import Downloader
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.utils.defer import maybe_deferred_to_future


class HTTPDownloadHandler(HTTP11DownloadHandler):
    def __init__(self, crawler: Any):
        super().__init__(crawler)
        # One crawler fetches for every source (crawlers/multi.py), each source with concurrent_per_host of its
        # own: keep as many connections to a host open for reuse as they may use together, as the crawlers of a
        # crawler per source did. Scrapy keeps concurrent_per_host; a source on a shared host then opened a new
        # connection for most of its requests (2,364 connects for 3,000 pages in the benchmark).
        self._pool.maxPersistentPerHost *= max(1, crawler.settings.getint("SUPPLYWATCH_SOURCES", 1))

    async def close(self) -> None:
        from twisted.internet import reactor

        d = self._pool.closeCachedConnections()

        def give_up() -> None:
            if not d.called:
                d.callback(())

        delayed_call = reactor.callLater(self._disconnect_timeout, give_up)
        try:
            await maybe_deferred_to_future(d)
        finally:
            if delayed_call.active():
                delayed_call.cancel()


class _StartingQueue(deque):
    """A slot's queue whose request counts as transferring the moment it leaves the queue."""

    def __init__(self, slot: Any, items: Any = ()):
        super().__init__(items)
        self.slot = slot

    def popleft(self) -> Any:
        request, d = super().popleft()
        self.slot.transferring.add(request)  # Scrapy's _download adds it again (a set) and removes it when done
        return request, d


class SlotDownloader(Downloader):
    """Scrapy's downloader, holding each download slot to its concurrency (``concurrent_per_host``).

    Scrapy 2.19 starts a queued download as an asyncio task, and counts it as transferring only once that
    task runs; its queue loop meanwhile sees the slot still free and starts every request waiting in it at
    once. With one crawler for all sources a source's slot can hold many waiting requests, so
    ``concurrent_per_host = 1`` let two or more of its pages be fetched at a time (tests/test_crawl_one_crawler.py).
    """

    def _get_slot(self, request: Any, spider: Any = None) -> tuple[str, Any]:
        key, slot = super()._get_slot(request)
        if not isinstance(slot.queue, _StartingQueue):
            slot.queue = _StartingQueue(slot, slot.queue)
        return key, slot
