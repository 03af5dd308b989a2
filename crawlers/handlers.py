"""Scrapy's HTTP/1.1 download handler, minus a race that prints Twisted tracebacks in large crawls.

When a crawler closes, Scrapy's handler closes its cached connections and, in case that hangs,
schedules ``d.callback`` on the same Deferred after a timeout (1 s), cancelling it once the await
returns. In a crawl of many sources on a busy machine the await's continuation can run later than
that timeout although ``d`` already fired: the timed call then calls it a second time and Twisted
logs "while handling timed call ... AlreadyCalledError", once per source (hundreds of tracebacks
in a 1,000-source crawl). Here the timed call fires ``d`` only if nothing has.
"""

from __future__ import annotations

from typing import Any

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
