"""The source kinds: one registry entry per kind, naming its spider and what its configuration requires.

Importing this module imports no Scrapy: the spider class is imported by name when a crawl runs.
A new kind is one spider module plus one :func:`register` line here (see docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any


@dataclass(frozen=True)
class SourceKind:
    name: str
    spider: str  # "module:Class", imported only when a crawl runs (Scrapy stays out of --help and search)
    needs_follow: bool = False  # the configuration must give `follow` (regexes of the links to fetch)

    def spider_class(self) -> Any:
        module, _, cls = self.spider.partition(":")
        return getattr(import_module(module), cls)


KINDS: dict[str, SourceKind] = {}


def register(kind: SourceKind) -> SourceKind:
    KINDS[kind.name] = kind
    return kind


register(SourceKind("feed", "supplywatch.crawlers.spiders:FeedSpider"))
register(SourceKind("advisories", "supplywatch.crawlers.spiders:AdvisorySpider", needs_follow=True))
register(SourceKind("csaf", "supplywatch.crawlers.spiders:CsafSpider"))
