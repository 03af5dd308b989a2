"""Hands each source's documents, with its outcome, to the DocumentSink once the source is done, on a writer thread.

Everything one source produced is written in a single transaction when its last request is done (or when the
crawl stops), together with the new ETag and the source's health, so a crash never leaves an ETag that claims
documents we do not have.

The write runs on one writer thread, not on the reactor thread: a source's transaction (FTS5 triggers,
0.2-0.6 s for a few hundred documents) used to stall every other source's downloads and callbacks while it
ran (benchmarks/RESULTS.md). One thread, so the sources' transactions still run one at a time, in the order
the sources finish.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from supplywatch.store import Document, SupplywatchError

log = logging.getLogger("supplywatch.crawl")


class SourceWriter:
    """Writes each finished source through ``sink`` (a crawlers.sink.DocumentSink) and fills in its report."""

    def __init__(self, sink: Any):
        self.sink = sink
        # Started in the crawler process after the extraction workers fork (crawlers/runner.py).
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="supplywatch-store")
        self._writes: list[Future[None]] = []

    def submit(self, spider: Any, documents: list[Document]) -> None:
        """Queue the write of a finished source (its kind spider); its outcome is taken now, on the reactor."""
        self._writes.append(self._thread.submit(self._write, spider, documents, spider.outcome()))

    def _write(self, spider: Any, documents: list[Document], outcome: Any) -> None:
        try:
            saved = self.sink.write(documents, outcome)
        except SupplywatchError as exc:
            log.error("%s: could not store %d documents: %s", spider.source["name"], len(documents), exc)
            spider.report.update(status="store_error", error=str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a broken sink fails this source, not the crawl
            log.error("%s: could not store %d documents", spider.source["name"], len(documents), exc_info=exc)
            spider.report.update(status="crawl_error", error=f"{type(exc).__name__}: {exc}")
            return
        spider.report.update(
            status=outcome.status,
            error=outcome.error,
            warnings=outcome.warnings,
            new=saved.new,
            updated=saved.updated,
            unchanged=saved.unchanged + spider.skipped_known,
            failed_pages=outcome.failed_pages,
        )

    async def drain(self) -> None:
        """Wait for the writes queued so far (the spider awaits this before the crawl ends)."""
        for write in self._writes:
            await asyncio.wrap_future(write)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
