"""CSAF 2.0: ROLIE advisory feeds (JSON) and the CSAF documents they list.

Pure parsing of already-fetched bytes: the feed's entries, and per document its title,
publisher, vendors, products, CVEs, dates and notes as readable text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .text import clean_line, clean_text
from .urls import absolute_http_url


class CsafFormatError(ValueError):
    """The bytes are not a ROLIE feed / CSAF document."""


@dataclass
class RolieEntry:
    id: str
    title: str
    url: str
    published: str | None
    updated: str | None


@dataclass
class CsafDocument:
    id: str
    title: str
    publisher: str
    vendors: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    cves: list[str] = field(default_factory=list)
    published: str | None = None
    updated: str | None = None
    summary: str = ""
    text: str = ""


def _load(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CsafFormatError(f"not JSON: {exc}") from None


def parse_rolie(body: bytes, base: str) -> list[RolieEntry]:
    """Entries of a ROLIE feed, newest update first. Raises CsafFormatError if it is not one."""
    data = _load(body)
    feed = data.get("feed") if isinstance(data, dict) else None
    if not isinstance(feed, dict) or not isinstance(feed.get("entry", []), list):
        raise CsafFormatError("JSON without a ROLIE feed.entry list")
    entries = []
    for raw in feed.get("entry", []):
        if not isinstance(raw, dict):
            continue
        links = raw.get("link") or []
        href = (raw.get("content") or {}).get("src") if isinstance(raw.get("content"), dict) else None
        for link in links if isinstance(links, list) else []:
            if isinstance(link, dict) and link.get("rel") == "self" and not href:
                href = link.get("href")
        url = absolute_http_url(href, base)
        if not url:
            continue
        entries.append(
            RolieEntry(
                id=str(raw.get("id") or url),
                title=clean_line(str(raw.get("title") or ""))[0],
                url=url,
                published=raw.get("published"),
                updated=raw.get("updated") or raw.get("published"),
            )
        )
    entries.sort(key=lambda e: e.updated or "", reverse=True)
    return entries


def _walk_branches(branches: Any, vendors: list[str], products: list[str]) -> None:
    for branch in branches if isinstance(branches, list) else []:
        if not isinstance(branch, dict):
            continue
        category, name = branch.get("category"), clean_line(str(branch.get("name") or ""))[0]
        if category == "vendor" and name and name not in vendors:
            vendors.append(name)
        if category in ("product_name", "product_family") and name and name not in products:
            products.append(name)
        _walk_branches(branch.get("branches"), vendors, products)


def parse_csaf(body: bytes) -> CsafDocument:
    """One CSAF 2.0 document. Raises CsafFormatError when it has no ``document`` section."""
    data = _load(body)
    doc = data.get("document") if isinstance(data, dict) else None
    if not isinstance(doc, dict) or not doc.get("title"):
        raise CsafFormatError("JSON without a CSAF document.title")
    tracking = doc.get("tracking") or {}
    publisher = clean_line(str((doc.get("publisher") or {}).get("name") or ""))[0]
    vendors: list[str] = []
    products: list[str] = []
    _walk_branches((data.get("product_tree") or {}).get("branches"), vendors, products)

    sections: list[str] = []
    summary = ""
    for note in doc.get("notes") or []:
        if not isinstance(note, dict) or note.get("category") == "legal_disclaimer":
            continue
        text = clean_text(str(note.get("text") or ""))
        if note.get("category") == "summary" and not summary:
            summary = text
        if text:
            sections.append(f"{note.get('title') or note.get('category', '').title()}\n{text}")
    cves: list[str] = []
    for vuln in data.get("vulnerabilities") or []:
        if not isinstance(vuln, dict):
            continue
        cve = vuln.get("cve")
        if cve and cve not in cves:
            cves.append(cve)
        lines = [cve or vuln.get("title") or "Vulnerability"]
        for note in vuln.get("notes") or []:
            if isinstance(note, dict) and note.get("text"):
                lines.append(clean_text(str(note["text"])))
        for rem in vuln.get("remediations") or []:
            if isinstance(rem, dict) and rem.get("details"):
                lines.append(f"Remediation ({rem.get('category', '')}): {clean_text(str(rem['details']))}")
        sections.append("\n".join(lines))
    title = clean_line(str(doc["title"]))[0]
    return CsafDocument(
        id=str(tracking.get("id") or title),
        title=title,
        publisher=publisher,
        vendors=vendors,
        products=products,
        cves=cves,
        published=tracking.get("initial_release_date"),
        updated=tracking.get("current_release_date"),
        summary=summary,
        text="\n\n".join([title, *sections]),
    )
