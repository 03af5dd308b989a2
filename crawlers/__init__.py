"""supplywatch's collectors: Scrapy spiders for feeds, advisory pages and CSAF feeds.

Public face: :func:`run_crawl`, the source-kind registry (:mod:`.kinds`) and the :class:`DocumentSink`
seam (:mod:`.sink`); parsing helpers live in their own modules.
Imports of Scrapy are deferred to the crawl itself, so importing this package is cheap.
"""

from __future__ import annotations

from typing import Any

from .kinds import KINDS, SourceKind
from .sink import DocumentSink, StoreSink


def run_crawl(db_path: str, sources: list[dict[str, Any]], options: dict[str, Any], *,
              force: bool = False, sink: DocumentSink | None = None, progress: Any = None) -> list[dict[str, Any]]:
    """Crawl ``sources``; their documents go to ``sink`` (default: the store at ``db_path``; see :mod:`.runner`).
    ``progress(done, total)``: sources finished so far, of ``len(sources)``."""
    from .runner import run_crawl as _run

    return _run(db_path, sources, options, force=force, sink=sink, progress=progress)


__all__ = ["KINDS", "DocumentSink", "SourceKind", "StoreSink", "run_crawl"]
