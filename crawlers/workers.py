"""CPU-bound work (feed parsing, decode + trafilatura) off the reactor thread, in a process pool.

Scrapy's reactor is one thread; extraction is pure Python/lxml work, so on a multi-core machine
it runs in worker processes forked before the reactor starts. With one worker it runs inline.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any

from .advisories import Advisory, parse_advisory
from .extract import Extracted, extract
from .text import decode

log = logging.getLogger("supplywatch.crawl")


class PageLost(Exception):
    """The worker extracting this page died (killed, out of memory): this page only is lost."""


def die_with_parent() -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux), so no crawler outlives its command."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent still ends the process group when it can
        return


def extract_page(body: bytes, charset: str | None, url: str) -> tuple[Extracted, str | None]:
    """Decode and extract an article page; returns the extraction and a charset warning."""
    html, _, warning = decode(body, charset)
    return extract(html, url), warning


def advisory_page(body: bytes, charset: str | None, url: str, vendor: str) -> Advisory:
    html, _, _ = decode(body, charset)
    return parse_advisory(html, url, vendor)


class PagePool:
    """Runs page functions inline (1 worker) or in forked worker processes."""

    def __init__(self, workers: int = 0):
        self.workers = workers if workers > 0 else (os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None
        if self.workers > 1:
            # Fork now, before the reactor starts threads: the workers inherit the imported
            # trafilatura instead of importing it again.
            self._pool = ProcessPoolExecutor(self.workers, mp_context=get_context("fork"), initializer=die_with_parent)
            for f in [self._pool.submit(os.getpid) for _ in range(self.workers)]:
                f.result()

    async def run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` in a worker; PageLost if that worker died meanwhile.

        A dead worker breaks the whole executor: the pages in flight are lost (one of them may be
        what killed it, so they are not retried), and every later page runs inline in this process.
        """
        if self._pool is not None:
            try:
                future = self._pool.submit(fn, *args, **kwargs)
            except BrokenProcessPool:
                self._drop_pool()
            else:
                try:
                    return await asyncio.wrap_future(future)
                except BrokenProcessPool:
                    self._drop_pool()
                    raise PageLost("the extraction worker died (killed or out of memory)") from None
        return fn(*args, **kwargs)

    async def run_or_inline(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """As :meth:`run`, but when the worker died (the machine ran out of memory, someone killed it) the
        call is made again here, in the crawler process: for a source's own document (a feed, capped by
        max_bytes and max_entries_per_source), which must not turn a busy machine into a parse_error."""
        try:
            return await self.run(fn, *args, **kwargs)
        except PageLost:
            log.warning("an extraction worker died during %s: done again in the crawler process", fn.__name__)
            return fn(*args, **kwargs)

    def _drop_pool(self) -> None:
        if self._pool is not None:
            log.warning("an extraction worker died: the rest of this crawl extracts in the crawler process")
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
