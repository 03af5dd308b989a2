"""The Scrapy spiders, one instance per configured source: feeds, advisory indexes, CSAF feeds.

They run inside one crawler for all sources (crawlers/multi.py, or the distributed worker), which calls
each source's spider with that source's responses and counts an exception in its callbacks as the
source's internal error (``callback_errors``).

Each spider fetches its source, turns what it finds into :class:`store.Document` items, and keeps
an outcome (status, HTTP status, validators, warnings) that the pipeline stores with the items.
A failure is classified and recorded here; it never stops the other sources' spiders.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import DNSLookupError
from twisted.python.failure import Failure

from supplywatch.store import Document, FetchOutcome, content_hash, models, utcnow

from . import dates
from .csaf import CsafFormatError, parse_csaf, parse_rolie
from .feeds import Entry, parse_feed
from .middlewares import retry_after_seconds
from .safety import refusal_at_connect
from .urls import canonical_url, is_http_url
from .workers import PageLost, PagePool, advisory_page, extract_page

MAX_WARNINGS = 20
MIN_PAGE_TEXT = 200  # characters: less than this from a page means extraction found no article


def _charset(response: Any) -> str | None:
    ctype = response.headers.get("Content-Type", b"").decode("latin-1")
    m = re.search(r"charset=[\"']?([\w.-]+)", ctype, re.I)
    return m.group(1) if m else None


def describe_failure(failure: Failure, now: str) -> tuple[str, int | None, str, str | None]:
    """(status, http_status, message, retry_after) for a failed request."""
    exc = failure.value
    if isinstance(exc, HttpError):
        response = exc.response
        code = response.status
        if code in (429, 503) and response.headers.get("Retry-After"):
            delay = retry_after_seconds(response.headers.get("Retry-After")) or 0.0
            return models.RATE_LIMITED, code, f"HTTP {code}: rate limited, Retry-After {delay:g}s", dates.after(now, delay)
        if code in (401, 403, 451):
            return models.BLOCKED, code, f"HTTP {code}: access refused (blocked or behind a login)", None
        if code in (404, 410):
            word = "gone" if code == 410 else "not found"
            return models.GONE, code, f"HTTP {code}: {word} (has the URL moved?)", None
        location = response.headers.get("Location", b"").decode("latin-1").strip()
        if 300 <= code < 400 and location:
            scheme = location.partition(":")[0].lower() if ":" in location.split("/", 1)[0] else ""
            if scheme and scheme not in ("http", "https"):
                return (models.REFUSED, code, f"refused: HTTP {code} redirects to a {scheme}: URL ({location[:200]}), "
                        "not http or https", None)
        return models.HTTP_ERROR, code, f"HTTP {code}", None
    message = str(exc) or type(exc).__name__
    if isinstance(exc, IgnoreRequest):
        if message.startswith("refused") or "robots.txt" in message:
            return models.REFUSED, None, message, None
        if "redirect" in message.lower():
            return models.NETWORK_ERROR, None, f"too many redirects (loop?): {message}", None
        return models.NETWORK_ERROR, None, message, None
    if isinstance(exc, DNSLookupError) or type(exc).__name__ == "CannotResolveHostError":
        if "refused:" in message:
            return models.REFUSED, None, message[message.index("refused:"):].rstrip("."), None
        request = getattr(failure, "request", None)
        refused = refusal_at_connect(urlsplit(request.url).hostname if request is not None else None)
        if refused:  # the connect-time resolver refused it; Twisted only says "no results"
            return models.REFUSED, None, refused, None
        # Twisted's own text already starts "DNS lookup failed: "; say it once, and name the host.
        while message.lower().startswith("dns lookup failed:"):
            message = message[len("dns lookup failed:"):].strip()
        request = getattr(failure, "request", None)
        host = urlsplit(request.url).hostname if request is not None else None
        if host and host not in message:
            message = f"{host}: {message}" if message else host
        return models.NETWORK_ERROR, None, f"DNS lookup failed: {message.rstrip('.')}", None
    if type(exc).__name__ in ("DownloadCancelledError", "CancelledError") or "max size" in message.lower():
        return models.NETWORK_ERROR, None, f"response too large, aborted at the size cap (max_bytes): {message}", None
    return models.NETWORK_ERROR, None, f"{type(exc).__name__}: {message}", None


class SourceSpider(scrapy.Spider):
    """What all source spiders share: conditional GET, outcome keeping, known-entry skipping."""

    custom_settings: dict[str, Any] = {}

    def __init__(self, source: dict[str, Any], state: dict[str, Any], known: dict[str, str], now: str,
                 options: dict[str, Any], pool: PagePool, **kwargs: Any):
        super().__init__(name=f"source-{source['name']}", **kwargs)
        self.source = source
        self.state = state
        self.known = known
        self.now = now
        self.options = options
        self.pool = pool
        self.started_at = utcnow()
        self.status = models.OK
        self.http_status: int | None = None
        self.error = ""
        self.warnings: list[str] = []
        self.etag: str | None = None
        self.last_modified: str | None = None
        self.retry_after: str | None = None
        self.failed_pages = 0
        self.skipped_known = 0
        self.callback_errors = 0
        self.report: dict[str, Any] = {"source": source["name"], "kind": source["kind"], "status": "not_run"}

    # -- outcome -----------------------------------------------------------------------------

    def warn(self, message: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)

    def fail(self, status: str, error: str, http_status: int | None = None) -> None:
        self.status, self.error = status, error
        if http_status is not None:
            self.http_status = http_status

    def outcome(self) -> FetchOutcome:
        if self.callback_errors and self.status == models.OK:
            self.fail(models.PARSE_ERROR, f"{self.callback_errors} internal error(s) while processing (see warnings)")
        # After a bug in our own callbacks some entries may be missing: keep the old validators so
        # the next crawl fetches the whole source again instead of getting a 304.
        keep_validators = self.callback_errors == 0 and self.status == models.OK
        return FetchOutcome(
            source=self.source["name"],
            status=self.status,
            started_at=self.started_at,
            finished_at=utcnow(),
            http_status=self.http_status,
            etag=self.etag if keep_validators else self.state.get("etag"),
            last_modified=self.last_modified if keep_validators else self.state.get("last_modified"),
            error=self.error,
            warnings=self.warnings,
            retry_after=self.retry_after,
            failed_pages=self.failed_pages,
        )

    # -- requests ----------------------------------------------------------------------------

    def source_request(self, callback: Any) -> scrapy.Request:
        headers = {}
        if self.state.get("etag"):
            headers["If-None-Match"] = self.state["etag"]
        if self.state.get("last_modified"):
            headers["If-Modified-Since"] = self.state["last_modified"]
        return scrapy.Request(
            self.source["url"], callback=callback, errback=self.source_failed, headers=headers,
            dont_filter=True, meta={"handle_httpstatus_list": [304]},
        )

    def source_failed(self, failure: Failure) -> None:
        status, code, message, retry_after = describe_failure(failure, self.now)
        self.fail(status, message, code)
        self.retry_after = retry_after

    def page_failed(self, failure: Failure) -> None:
        _, _, message, _ = describe_failure(failure, self.now)
        self.failed_pages += 1
        self.warn(f"page {failure.request.url}: {message}")

    def source_response(self, response: Any) -> bool:
        """Record the source response; False when there is nothing new (304)."""
        self.http_status = response.status
        if response.status == 304:
            self.status = models.NOT_MODIFIED
            return False
        self.etag = response.headers.get("ETag", b"").decode("latin-1") or None
        self.last_modified = response.headers.get("Last-Modified", b"").decode("latin-1") or None
        return True

    def is_known(self, key: str, entry_hash: str) -> bool:
        if self.options.get("refetch_known"):
            return False
        return key in self.known and (not entry_hash or self.known[key] == entry_hash)

    def canonical(self, url: str | None) -> str | None:
        return canonical_url(url) if url and is_http_url(url) else None


class FeedSpider(SourceSpider):
    """RSS/Atom/JSON Feed: the feed, then each new entry's page for its main text."""

    async def start(self):  # noqa: ANN201 - Scrapy's async start protocol
        yield self.source_request(self.parse_feed)

    async def parse_feed(self, response: Any):  # noqa: ANN201
        if not self.source_response(response):
            return
        ctype = response.headers.get("Content-Type", b"").decode("latin-1")
        # In the pool: a 100,000-entry feed takes feedparser a minute, which must not stall the reactor.
        result = await self.pool.run_or_inline(parse_feed, response.body, response.url, ctype, _charset(response),
                                     now=self.now, cap=self.options["max_entries_per_source"])
        self.warnings.extend(result.warnings[:MAX_WARNINGS])
        if result.not_a_feed:
            self.fail(models.NOT_A_FEED, result.not_a_feed)
            return
        if result.fatal:
            self.fail(models.PARSE_ERROR, result.fatal)
            return
        for entry in result.entries:
            canon = self.canonical(entry.link)
            if (entry.guid and self.is_known(f"guid:{entry.guid}", entry.entry_hash)) or (
                canon and self.is_known(f"url:{canon}", entry.entry_hash)
            ):
                self.skipped_known += 1
                continue
            if entry.link and self.options["fetch_pages"]:
                yield scrapy.Request(entry.link, callback=self.parse_page, errback=self.entry_page_failed,
                                     cb_kwargs={"entry": entry}, meta={"entry": entry})
            else:
                yield self.document(entry)

    async def parse_page(self, response: Any, entry: Entry):  # noqa: ANN201
        ctype = response.headers.get("Content-Type", b"").decode("latin-1").lower()
        if ctype and "html" not in ctype and "xml" not in ctype:
            self.warn(f"page {response.url}: not HTML ({ctype}); kept the feed's text")
            yield self.document(entry, flag="feed_content_only")
            return
        try:
            extracted, warning = await self.pool.run(extract_page, response.body, _charset(response), response.url)
        except PageLost as exc:  # this page's worker died: keep the feed's text, the round goes on
            self.warn(f"page {response.url}: {exc}; kept the feed's text")
            yield self.document(entry, flag="feed_content_only")
            return
        if warning:
            self.warn(f"page {response.url}: {warning}")
        feed_text = entry.content or entry.summary
        if len(extracted.text) < min(MIN_PAGE_TEXT, max(1, len(feed_text))):
            yield self.document(entry, flag="feed_content_only", url=response.url)
            return
        canon = self.canonical(response.url)
        declared = self.canonical(extracted.canonical_url)
        # Trust a page's canonical link only on its own host: a hostile page could otherwise
        # claim another outlet's article and overwrite it.
        if declared and canon and declared.split("/")[2] == canon.split("/")[2]:
            canon = declared
        yield self.document(entry, text=extracted.text, url=response.url, canonical=canon,
                            author=extracted.author)

    def entry_page_failed(self, failure: Failure):  # noqa: ANN201
        self.page_failed(failure)
        yield self.document(failure.request.meta["entry"], flag="feed_content_only")

    def document(self, entry: Entry, *, text: str | None = None, url: str | None = None,
                 canonical: str | None = None, author: str = "", flag: str | None = None) -> Document:
        flags = list(entry.flags) + ([flag] if flag else [])
        page = text is not None
        return Document(
            source=self.source["name"],
            kind="article",
            title=entry.title,
            text=text if page else (entry.content or entry.summary),
            summary=entry.summary,
            url=url or entry.link,
            canonical_url=canonical or self.canonical(entry.link),
            guid=entry.guid,
            author=entry.author or author,
            vendor=self.source.get("vendor", ""),
            published=entry.published,
            text_source="page" if page else "feed",
            entry_hash=entry.entry_hash,
            flags=flags,
        )


class AdvisorySpider(SourceSpider):
    """An advisory index (and its next pages) whose links matching ``follow`` are advisories."""

    async def start(self):  # noqa: ANN201
        yield self.source_request(self.parse_index)

    def parse_index(self, response: Any, page: int = 1):  # noqa: ANN201
        if page == 1 and not self.source_response(response):
            return
        if not hasattr(response, "css"):
            self.fail(models.NOT_A_FEED, f"not an HTML index page ({response.headers.get('Content-Type')})")
            return
        patterns = [re.compile(p) for p in self.source.get("follow", [])]
        found = 0
        for href in response.css("a::attr(href)").getall():
            url = urljoin(response.url, href.strip())
            if not is_http_url(url) or not any(p.search(url) for p in patterns):
                continue
            found += 1
            canon = self.canonical(url)
            if canon and self.is_known(f"url:{canon}", ""):
                self.skipped_known += 1
                continue
            yield scrapy.Request(url, callback=self.parse_advisory, errback=self.page_failed)
        if page == 1 and not found:
            self.warn("no links on the index page matched `follow`")
        selector = self.source.get("next")
        if selector and page < self.options["max_index_pages"]:
            nodes = response.css(selector)
            href = nodes.attrib.get("href") if nodes else None
            href = href or (nodes.css("a::attr(href)").get() if nodes else None)
            if href:
                yield scrapy.Request(urljoin(response.url, href), callback=self.parse_index,
                                     errback=self.page_failed, cb_kwargs={"page": page + 1})

    async def parse_advisory(self, response: Any):  # noqa: ANN201
        try:
            adv = await self.pool.run(advisory_page, response.body, _charset(response), response.url,
                                      self.source.get("vendor", ""))
        except PageLost as exc:  # this page's worker died: this advisory only is lost, the source goes on
            self.failed_pages += 1
            self.warn(f"page {response.url}: {exc}")
            return
        flags: list[str] = []
        published = dates.clamp(dates.parse_iso(adv.published), self.now, flags)
        yield Document(
            source=self.source["name"],
            kind="advisory",
            title=adv.title,
            text=adv.text,
            url=response.url,
            canonical_url=self.canonical(response.url),
            vendor=adv.vendor,
            products=adv.products,
            cves=adv.cves,
            published=published,
            text_source="page",
            entry_hash=content_hash(adv.title, adv.text),
            flags=flags,
        )


class CsafSpider(SourceSpider):
    """A CSAF 2.0 ROLIE feed and the CSAF documents it lists."""

    async def start(self):  # noqa: ANN201
        yield self.source_request(self.parse_rolie)

    def parse_rolie(self, response: Any):  # noqa: ANN201
        if not self.source_response(response):
            return
        try:
            entries = parse_rolie(response.body, response.url)
        except CsafFormatError as exc:
            self.fail(models.NOT_A_FEED, f"not a CSAF ROLIE feed: {exc}")
            return
        cap = self.options["max_entries_per_source"]
        if len(entries) > cap:
            self.warn(f"{len(entries)} entries, kept the newest {cap}")
        for entry in entries[:cap]:
            entry_hash = content_hash(entry.id, entry.updated)
            if self.is_known(f"guid:{entry.id}", entry_hash):
                self.skipped_known += 1
                continue
            yield scrapy.Request(entry.url, callback=self.parse_document, errback=self.page_failed,
                                 cb_kwargs={"entry_id": entry.id, "entry_hash": entry_hash})

    def parse_document(self, response: Any, entry_id: str, entry_hash: str):  # noqa: ANN201
        try:
            doc = parse_csaf(response.body)
        except CsafFormatError as exc:
            self.failed_pages += 1
            self.warn(f"CSAF document {response.url}: {exc}")
            return
        flags: list[str] = []
        published = dates.clamp(dates.parse_iso(doc.published), self.now, flags)
        yield Document(
            source=self.source["name"],
            kind="csaf",
            title=doc.title,
            text=doc.text,
            summary=doc.summary,
            url=response.url,
            canonical_url=self.canonical(response.url),
            guid=entry_id,
            vendor=(doc.vendors[0] if doc.vendors else "") or self.source.get("vendor", "") or doc.publisher,
            products=doc.products,
            cves=doc.cves,
            published=published,
            text_source="csaf",
            entry_hash=entry_hash,
            flags=flags,
        )



