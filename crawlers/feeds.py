"""Feed parsing: RSS 0.9x/1.0/2.0 and Atom through feedparser, JSON Feed mapped to the same shape.

``parse_feed`` takes the bytes and headers Scrapy fetched and returns entries plus a verdict on
the feed (ok / not a feed / fatal). It never raises on a bad feed: problems become warnings,
as feedparser's ``bozo`` does.
"""

from __future__ import annotations

import calendar
import html
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser

from supplywatch.store import content_hash

from .dates import clamp, parse_iso
from .safety import declares_entities
from .text import clean_line, clean_text, to_utf8_xml
from .urls import absolute_http_url

# Survivable: feedparser recovered and the entries are fine (undeclared namespace prefixes,
# a charset override). Anything else with zero entries is a fatal parse error.
_SURVIVABLE = ("CharacterEncodingOverride", "CharacterEncodingUnknown", "NonXMLContentType")


@dataclass
class Entry:
    guid: str | None
    link: str | None
    title: str
    summary: str
    content: str  # the feed's own full content as text, when it carries one
    author: str = ""
    published: str | None = None
    entry_hash: str = ""
    flags: list[str] = field(default_factory=list)


@dataclass
class FeedResult:
    entries: list[Entry] = field(default_factory=list)
    title: str = ""
    version: str = ""
    warnings: list[str] = field(default_factory=list)
    not_a_feed: str = ""  # why the bytes are not a feed at all (an HTML login page, say)
    fatal: str = ""  # why a feed could not be parsed
    total_entries: int = 0  # before the cap


def html_to_text(fragment: str) -> str:
    """Feed summaries are HTML fragments; keep their text with paragraph breaks."""
    if not fragment:
        return ""
    fragment = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", fragment)
    fragment = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</li>|</h\d>", "\n", fragment)
    return clean_text(html.unescape(re.sub(r"<[^>]+>", " ", fragment)))


def _iso(struct: Any) -> str | None:
    if not struct:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(struct), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, TypeError):
        return None


def _looks_like_json(body: bytes, content_type: str) -> bool:
    return "json" in content_type or body.lstrip()[:1] in (b"{", b"[")


def _json_feed(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body.decode("utf-8-sig", "replace"))
    except ValueError:
        return None
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith("https://jsonfeed.org/version/"):
        return None
    return data


def _json_entries(data: dict[str, Any]) -> list[dict[str, Any]]:
    """JSON Feed items in feedparser's vocabulary, so one code path builds entries."""
    out = []
    for item in data.get("items") or []:
        if not isinstance(item, dict):
            continue
        authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
        content = item.get("content_html") or html.escape(item.get("content_text") or "")
        out.append(
            {
                "id": str(item.get("id", "")) or None,
                "link": item.get("url") or item.get("external_url"),
                "title": item.get("title") or "",
                "summary": item.get("summary") or "",
                "content": [{"value": content}] if content else [],
                "author": ", ".join(a.get("name", "") for a in authors if isinstance(a, dict)),
                "_published": parse_iso(item.get("date_published")),
                "_updated": parse_iso(item.get("date_modified")),
            }
        )
    return out


def parse_feed(body: bytes, url: str, content_type: str = "", charset: str | None = None, *,
               now: str, cap: int = 200) -> FeedResult:
    """Parse one fetched feed. ``cap`` keeps the newest entries only."""
    result = FeedResult()
    if _looks_like_json(body, content_type.lower()):
        data = _json_feed(body)
        if data is None:
            result.not_a_feed = f"not a feed: JSON without a JSON Feed version ({content_type or 'no type'})"
            return result
        raw_entries = _json_entries(data)
        result.title = clean_line(data.get("title"))[0]
        result.version = "json" + str(data.get("version", "")).rsplit("/", 1)[-1]
    else:
        utf8, warning = to_utf8_xml(body, charset)
        if declares_entities(utf8.decode("utf-8")):
            result.fatal = "refused: the document declares XML entities (entity expansion attack?)"
            return result
        if warning:
            result.warnings.append(warning)
        parsed = feedparser.parse(
            utf8,
            response_headers={"content-type": "application/xml; charset=utf-8", "content-location": url},
            sanitize_html=True,
            resolve_relative_uris=True,
        )
        raw_entries = list(parsed.entries)
        result.title = clean_line(parsed.feed.get("title"))[0]
        result.version = parsed.get("version") or ""
        if parsed.bozo:
            exc = parsed.get("bozo_exception")
            name = type(exc).__name__
            text = f"{name}: {exc}" if name not in _SURVIVABLE else str(exc)
            if not raw_entries and not result.version:
                head = body[:4096].lower()
                if b"<html" in head or b"<!doctype html" in head:
                    title = re.search(rb"<title[^>]*>(.*?)</title>", body[:65536], re.I | re.S)
                    shown = clean_line(title.group(1).decode("utf-8", "replace"))[0][:80] if title else ""
                    result.not_a_feed = "not a feed: got an HTML page" + (f" ({shown!r})" if shown else "")
                else:
                    result.fatal = f"feed could not be parsed: {text}"
                return result
            if not raw_entries and name not in _SURVIVABLE and "unbound prefix" not in text:
                result.fatal = f"feed could not be parsed: {text}"
                return result
            result.warnings.append(f"survivable: {text}")
        if not result.version and not raw_entries:
            result.not_a_feed = "not a feed: no RSS, Atom or JSON Feed structure found"
            return result

    result.total_entries = len(raw_entries)
    entries: list[Entry] = []
    seen: set[str] = set()
    duplicates = 0
    for raw in raw_entries:
        entry = _entry(raw, url, now)
        key = entry.guid or entry.link or entry.entry_hash
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        entries.append(entry)
    if duplicates:
        result.warnings.append(f"{duplicates} duplicate entries (same GUID or link) ignored")
    # Newest first, so the cap keeps what a reader of the feed would see first.
    entries.sort(key=lambda e: e.published or "", reverse=True)
    if len(entries) > cap:
        result.warnings.append(f"{len(entries)} entries, kept the newest {cap}")
        entries = entries[:cap]
    result.entries = entries
    return result


def _entry(entry: dict[str, Any], base: str, now: str) -> Entry:
    # dict.get, not FeedParserDict.get: the latter maps missing keys to others with a warning.
    raw = dict(entry)
    flags: list[str] = []
    title, dirty = clean_line(html.unescape(raw.get("title") or ""))
    if dirty:
        flags.append("sanitized_title")
    summary = html_to_text(raw.get("summary") or "")
    content = ""
    for part in raw.get("content") or []:
        value = part.get("value") if isinstance(part, dict) else None
        if value:
            content = html_to_text(value)
            break
    if content == summary:
        content = ""
    link = absolute_http_url(raw.get("link"), base)
    if raw.get("link") and not link:
        flags.append("unsafe_link")
    guid = (raw.get("id") or "").strip() or None
    if not link and guid:
        link = absolute_http_url(guid, base) if guid.startswith(("http://", "https://")) else None
    published = raw.get("_published") or _iso(raw.get("published_parsed")) or _iso(raw.get("updated_parsed"))
    updated = raw.get("_updated") or _iso(raw.get("updated_parsed"))
    # Hash the entry as published (before clamping), so an undated entry hashes the same each run.
    entry_hash = content_hash(guid, link, title, summary, content, updated or published)
    published = clamp(published, now, flags)
    author = clean_line(raw.get("author") or "")[0]
    if not guid and not link:
        # Nothing to recognise it by next time but its words.
        guid = "hash:" + content_hash(title, summary, content)
    if not title:
        title = (summary or content)[:120] or "(untitled)"
        flags.append("no_title")
    return Entry(guid=guid, link=link, title=title, summary=summary, content=content, author=author,
                 published=published, entry_hash=entry_hash, flags=flags)
