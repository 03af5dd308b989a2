"""Plain data passed between the layers and the store: documents and fetch outcomes.

No behaviour beyond small derived values; the store persists these, crawlers produce them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_PERIOD = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
# The one wording of a bad date option, whichever command it belongs to.
DATE_FORMS = "YYYY, YYYY-MM or YYYY-MM-DD, for example 2021, 2021-01 or 2021-01-12"


def utcnow() -> str:
    """Now, UTC, to the second, as the store writes every timestamp."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_day(value: object) -> bool:
    """Whether ``value`` is a real calendar day written ``YYYY-MM-DD`` (not ``2021-1-5``, not ``2021-02-30``).

    The one check behind every date option and day argument; each caller words its own error.
    """
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def date_range(value: object) -> tuple[date, date] | None:
    """The first and last day of a year (``2021``), a month (``2021-01``) or a day (``2021-01-12``); None if ``value``
    is none of these (``2021-1``, ``2021-02-30``, ``yesterday``). Behind every date option but ``digest --date``."""
    match = _PERIOD.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    year, month, day = (int(g) if g else None for g in match.groups())
    try:
        if day is not None:
            first = last = date(year, month, day)  # type: ignore[arg-type]
        elif month is not None:
            first = date(year, month, 1)  # type: ignore[arg-type]
            last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1))  # type: ignore[arg-type]
        else:
            first, last = date(year, 1, 1), date(year, 12, 31)  # type: ignore[arg-type]
    except ValueError:
        return None
    return first, last


def content_hash(*parts: str | None) -> str:
    """A stable hash of text parts, used to tell an edited article from an unchanged one."""
    h = hashlib.sha256()
    for part in parts:
        h.update((part or "").encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()[:32]


@dataclass
class Document:
    """One article, advisory or CSAF document as it will be stored."""

    source: str
    title: str
    text: str
    url: str | None = None
    canonical_url: str | None = None
    guid: str | None = None
    kind: str = "article"  # article | advisory | csaf
    summary: str = ""
    author: str = ""
    vendor: str = ""
    products: list[str] = field(default_factory=list)
    cves: list[str] = field(default_factory=list)
    published: str | None = None  # ISO 8601, UTC, "Z"
    text_source: str = "page"  # page | feed | csaf
    entry_hash: str = ""
    flags: list[str] = field(default_factory=list)

    @property
    def content_hash(self) -> str:
        return content_hash(self.title, self.text, self.summary)


# Source statuses, in the words the health table shows.
OK = "ok"
NOT_MODIFIED = "not_modified"
NOT_A_FEED = "not_a_feed"
PARSE_ERROR = "parse_error"
BLOCKED = "blocked"  # 401, 403, 451: the site refuses us
GONE = "gone"  # 404, 410: the URL no longer exists
HTTP_ERROR = "http_error"  # other 4xx / 5xx
RATE_LIMITED = "rate_limited"
REFUSED = "refused"  # private address, bad scheme, robots.txt: we refused to fetch
NETWORK_ERROR = "network_error"  # DNS, connection, timeout, too large, redirect loop
SKIPPED = "skipped"  # not attempted (Retry-After still running)
STORE_ERROR = "store_error"  # fetched, but the database could not take it (disk full, read-only): nothing kept

FAILURES = {NOT_A_FEED, PARSE_ERROR, BLOCKED, GONE, HTTP_ERROR, RATE_LIMITED, REFUSED, NETWORK_ERROR, STORE_ERROR}


@dataclass
class FetchOutcome:
    """What one crawl of one source came to; saved with its documents in one transaction."""

    source: str
    status: str
    started_at: str
    finished_at: str
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    error: str = ""
    warnings: list[str] = field(default_factory=list)
    retry_after: str | None = None
    failed_pages: int = 0

    @property
    def failed(self) -> bool:
        return self.status in FAILURES


@dataclass
class SaveResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0


class Batches:
    """Batches of rows read on demand from a list of ids chosen up front; ``total`` is how many ids there are,
    so a caller can show how far it has got (``len()`` works too)."""

    def __init__(self, ids: list[int], batch: int, fetch: Callable[[list[int]], list[dict[str, Any]]]):
        self.ids, self.batch, self.fetch = ids, batch, fetch

    @property
    def total(self) -> int:
        return len(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        for start in range(0, len(self.ids), self.batch):
            yield self.fetch(self.ids[start:start + self.batch])
