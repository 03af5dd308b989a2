"""supplywatch's collectors: Scrapy spiders for feeds, advisory pages and CSAF feeds.

Public face: :func:`run_crawl` and the source kinds; parsing helpers live in their own modules.
Imports of Scrapy are deferred to the crawl itself, so importing this package is cheap.
"""

from __future__ import annotations

from typing import Any

KINDS = ("feed", "advisories", "csaf")


def run_crawl(db_path: str, sources: list[dict[str, Any]], options: dict[str, Any], *,
              force: bool = False) -> list[dict[str, Any]]:
    """Crawl ``sources`` into the store at ``db_path`` (see :mod:`crawlers.runner`)."""
    from .runner import run_crawl as _run

    return _run(db_path, sources, options, force=force)


__all__ = ["KINDS", "run_crawl"]
