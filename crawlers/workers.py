"""CPU-bound work (feed parsing, decode + trafilatura) off the reactor thread, in a process pool.

Scrapy's reactor is one thread; extraction is pure Python/lxml work, so on a multi-core machine
it runs in worker processes forked before the reactor starts. With one worker it runs inline.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

from .advisories import Advisory, parse_advisory
from .extract import Extracted, extract
from .text import decode


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
            self._pool = ProcessPoolExecutor(self.workers, mp_context=get_context("fork"))
            for f in [self._pool.submit(os.getpid) for _ in range(self.workers)]:
                f.result()

    async def run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if self._pool is None:
            return fn(*args, **kwargs)
        return await asyncio.wrap_future(self._pool.submit(fn, *args, **kwargs))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
