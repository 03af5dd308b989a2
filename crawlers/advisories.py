"""Vendor advisory pages: title, date, vendor, affected products, CVE ids and main text.

Works on the page's HTML with parsel (the selector library inside Scrapy) and trafilatura; the
heuristics prefer explicit markup (a products list, a published-time meta) over guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from parsel import Selector

from .extract import extract
from .text import clean_line

CVE = re.compile(r"\bCVE-\d{4}-\d{4,7}\b", re.I)
_AFFECTED = re.compile(r"affected\s+(products?|versions?|software|components?|platforms?)|^products?$", re.I)
_DATE_XPATHS = (
    "//meta[@property='article:published_time' or @name='article:published_time']/@content",
    "//meta[@name='date' or @name='dcterms.date' or @name='DC.date.issued' or @itemprop='datePublished']/@content",
    "//time/@datetime",
)


@dataclass
class Advisory:
    title: str
    text: str
    published: str | None = None  # ISO date or datetime as the page states it
    products: list[str] = field(default_factory=list)
    cves: list[str] = field(default_factory=list)
    vendor: str = ""


def find_cves(text: str) -> list[str]:
    return sorted({m.upper() for m in CVE.findall(text)})


def _products(sel: Selector) -> list[str]:
    names: list[str] = []
    for text in sel.css("ul.products li, ol.products li, .affected-products li, [class*='product'] li").xpath(
        "normalize-space(.)"
    ).getall():
        names.append(text)
    if not names:
        for heading in sel.xpath("//h1|//h2|//h3|//h4|//strong|//th|//dt"):
            label = heading.xpath("normalize-space(.)").get() or ""
            if not _AFFECTED.search(label) or len(label) > 60:
                continue
            following = heading.xpath("following::*[self::ul or self::ol or self::table][1]")
            if following.xpath("self::table"):
                cells = following.xpath(".//tr[position()>1]/td[1]")
            else:
                cells = following.xpath("./li")
            names.extend(c.xpath("normalize-space(.)").get() or "" for c in cells)
            if names:
                break
    out: list[str] = []
    for name in names:
        name = clean_line(name)[0][:200]
        if name and name not in out:
            out.append(name)
    return out[:50]


def parse_advisory(html: str, url: str, vendor: str = "") -> Advisory:
    """Parse one advisory page. Never raises on odd markup; fields it cannot find stay empty."""
    sel = Selector(text=html or "<html></html>")
    extracted = extract(html, url)
    title = clean_line(sel.xpath("normalize-space(//h1)").get() or "")[0] or extracted.title
    if not title:
        title = clean_line(sel.xpath("normalize-space(//title)").get() or "")[0]
    published = None
    for xpath in _DATE_XPATHS:
        value = sel.xpath(xpath).get()
        if value and re.match(r"\d{4}-\d{2}-\d{2}", value.strip()):
            published = value.strip()
            break
    published = published or extracted.date
    page_text = " ".join(sel.xpath("//body//text()").getall()) if html else ""
    return Advisory(
        title=title or url,
        text=extracted.text,
        published=published,
        products=_products(sel),
        cves=find_cves(page_text or extracted.text),
        vendor=vendor or extracted.sitename,
    )
