"""Scrapy item pipeline: collects one source's documents and hands them, with its outcome, to the DocumentSink.

Everything one spider (one source) produced is written in a single transaction when the spider
closes, together with the new ETag and the source's health, so a crash never leaves an ETag that
claims documents we do not have.
"""

from __future__ import annotations

import logging
from typing import Any

from supplywatch.store import Document, SupplywatchError

log = logging.getLogger("supplywatch.crawl")


class StorePipeline:
    def __init__(self, crawler: Any):
        self.crawler = crawler
        self.sink = crawler.settings.get("SUPPLYWATCH_SINK")  # a crawlers.sink.DocumentSink
        self.documents: list[Document] = []

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Document):
            self.documents.append(item)
        return item

    def close_spider(self) -> None:
        spider = self.crawler.spider
        outcome = spider.outcome()
        try:
            saved = self.sink.write(self.documents, outcome)
        except SupplywatchError as exc:
            log.error("%s: could not store %d documents: %s", spider.source["name"], len(self.documents), exc)
            spider.report.update(status="store_error", error=str(exc))
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
