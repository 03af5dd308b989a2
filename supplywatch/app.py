"""The composition root: builds each part from the configuration and passes it what it needs.

The CLI calls these functions; nothing else wires crawlers, store (and later classifiers and
reports) together.
"""

from __future__ import annotations

from typing import Any

from store import Store

from .config import Config


def open_store(db: str, *, create: bool = True, readonly: bool = False) -> Store:
    return Store.open(db, create=create, readonly=readonly)


def crawl(config: Config, db: str, *, source: str | None = None, force: bool = False) -> list[dict[str, Any]]:
    """Sync the configured sources into the store, then crawl them (or the one named)."""
    import crawlers

    sources = [config.source(source)] if source else config.sources
    with open_store(db) as store:
        store.sync_sources(config.sources)
    if not sources:
        return []
    return crawlers.run_crawl(db, sources, config.crawl, force=force)
