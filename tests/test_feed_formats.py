"""Every feed format supplywatch reads, parsed from bytes as Scrapy hands them over."""

from __future__ import annotations

import json

import pytest

from supplywatch.crawlers.feeds import parse_feed

NOW = "2026-01-01T00:00:00Z"

RSS091 = b"""<?xml version="1.0"?><rss version="0.91"><channel><title>Old</title><link>https://o.example/</link>
<description>d</description><item><title>Old-style item</title><link>https://o.example/1</link>
<description>Plain summary</description></item></channel></rss>"""

RSS10 = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://r.example/"><title>RDF</title><link>https://r.example/</link><description>d</description></channel>
<item rdf:about="https://r.example/1"><title>RDF item</title><link>https://r.example/1</link>
<dc:date>2021-01-12T10:00:00Z</dc:date><dc:creator>Ann</dc:creator>
<description>&lt;p&gt;Summary &lt;b&gt;bold&lt;/b&gt;&lt;/p&gt;</description></item>
</rdf:RDF>"""

RSS20 = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Two</title><link>https://t.example/</link>
<item><title>Second</title><link>https://t.example/2</link><guid isPermaLink="false">g-2</guid>
<pubDate>Wed, 13 Jan 2021 09:00:00 +0100</pubDate><description>B</description></item>
<item><title>First</title><link>https://t.example/1</link><guid isPermaLink="false">g-1</guid>
<pubDate>Tue, 12 Jan 2021 09:00:00 GMT</pubDate><description>A</description></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Atom</title>
<id>tag:a.example,2021:feed</id><updated>2021-01-12T10:00:00Z</updated>
<entry><title type="html">Atom &amp;amp; entry</title><id>tag:a.example,2021:1</id>
<link rel="alternate" href="/news/1.html"/><published>2021-01-12T05:00:00-05:00</published>
<updated>2021-01-12T11:00:00Z</updated><author><name>Bo</name></author>
<summary>Short</summary><content type="html">&lt;p&gt;Full content of the entry.&lt;/p&gt;</content></entry></feed>"""

JSONFEED = json.dumps({
    "version": "https://jsonfeed.org/version/1.1", "title": "JSON",
    "items": [{"id": "j1", "url": "https://j.example/1", "title": "JSON item", "content_text": "Body text",
               "summary": "Sum", "date_published": "2021-01-12T10:00:00+01:00", "authors": [{"name": "Cy"}]}],
}).encode()


@pytest.mark.parametrize("body,url,version,title,link,published", [
    (RSS091, "https://o.example/rss", "rss091u", "Old-style item", "https://o.example/1", NOW),
    (RSS10, "https://r.example/rss", "rss10", "RDF item", "https://r.example/1", "2021-01-12T10:00:00Z"),
    (RSS20, "https://t.example/rss", "rss20", "Second", "https://t.example/2", "2021-01-13T08:00:00Z"),
    (ATOM, "https://a.example/feed", "atom10", "Atom & entry", "https://a.example/news/1.html", "2021-01-12T10:00:00Z"),
    (JSONFEED, "https://j.example/feed.json", "json1.1", "JSON item", "https://j.example/1", "2021-01-12T09:00:00Z"),
])
def test_formats(body, url, version, title, link, published):
    result = parse_feed(body, url, "", None, now=NOW)
    assert result.version.startswith(version[:5]) and not result.not_a_feed and not result.fatal
    entry = result.entries[0]
    assert (entry.title, entry.link, entry.published) == (title, link, published)
    assert entry.entry_hash


def test_details_survive():
    rdf = parse_feed(RSS10, "https://r.example/rss", now=NOW).entries[0]
    assert rdf.author == "Ann" and rdf.summary == "Summary bold"
    atom = parse_feed(ATOM, "https://a.example/feed", now=NOW).entries[0]
    assert atom.guid == "tag:a.example,2021:1" and atom.content == "Full content of the entry."
    js = parse_feed(JSONFEED, "https://j.example/feed.json", "application/feed+json", now=NOW).entries[0]
    assert js.author == "Cy" and js.content == "Body text" and js.guid == "j1"


def test_newest_first_and_cap():
    result = parse_feed(RSS20, "https://t.example/rss", now=NOW, cap=1)
    assert [e.guid for e in result.entries] == ["g-2"]
    assert any("kept the newest 1" in w for w in result.warnings)


def test_json_that_is_not_a_feed():
    result = parse_feed(b'{"hello": "world"}', "https://x.example/", "application/json", now=NOW)
    assert result.not_a_feed and not result.entries


def test_undated_entry_hashes_stably():
    body = RSS091
    a = parse_feed(body, "https://o.example/rss", now="2026-01-01T00:00:00Z").entries[0]
    b = parse_feed(body, "https://o.example/rss", now="2026-02-01T00:00:00Z").entries[0]
    assert a.entry_hash == b.entry_hash and "no_date" in a.flags
