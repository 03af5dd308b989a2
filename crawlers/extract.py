"""Main-text extraction from article and advisory pages, through trafilatura.

Drops navigation, share bars, newsletter boxes and comment sections; returns plain text with
paragraphs and the page's own metadata (title, date, author, canonical URL) where it has them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import trafilatura

from .text import clean_line, clean_text

# trafilatura logs every page it finds too short at WARNING; that is a result, not a problem.
logging.getLogger("trafilatura").setLevel(logging.ERROR)
logging.getLogger("htmldate").setLevel(logging.ERROR)


@dataclass
class Extracted:
    text: str
    title: str = ""
    date: str | None = None  # YYYY-MM-DD as the page states it
    author: str = ""
    canonical_url: str | None = None
    sitename: str = ""


def extract(html: str, url: str | None = None) -> Extracted:
    """The main text and metadata of an HTML page; ``text`` is empty when none was found."""
    if not html or not html.strip():
        return Extracted(text="")
    try:
        doc = trafilatura.bare_extraction(
            html,
            url=url,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            favor_precision=True,
            deduplicate=False,
        )
    except Exception:  # noqa: BLE001 - trafilatura raises assorted lxml errors on hostile markup
        doc = None
    if doc is None:
        return Extracted(text="")
    data = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    return Extracted(
        text=clean_text(data.get("text") or ""),
        title=clean_line(data.get("title") or "")[0],
        date=data.get("date") or None,
        author=clean_line(data.get("author") or "")[0],
        canonical_url=data.get("url") or None,
        sitename=clean_line(data.get("sitename") or "")[0],
    )
