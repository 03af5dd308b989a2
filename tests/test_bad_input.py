"""Hostile and broken input, end to end: a real local HTTP server, real Scrapy crawls, real SQLite.

Each test serves something bad (malformed XML, HTML at a feed URL, wrong charsets, oversized and
compressed bodies, redirect loops, error statuses, entity bombs, private addresses, broken
configuration ...) and checks what the crawl recorded: the source's status and error in the health
table, the stored documents and their flags. Where it costs nothing, a good feed is crawled in the
same call to show that one broken source never stops the others.
"""

from __future__ import annotations

import gzip
import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
import scrapy.crawler  # noqa: F401 - preloaded, see below
from click.testing import CliRunner

import supplywatch.crawlers.pipeline  # noqa: F401 - preloaded, see below
import supplywatch.crawlers.spiders  # noqa: F401 - preloaded, see below
from supplywatch.cli import cli
from supplywatch.localsite import LocalServer
from supplywatch.store import ConfigError, utcnow
from tests.conftest import static

# Each crawl forks a child that imports Scrapy, Twisted and trafilatura (~1 s). Importing them here,
# once, lets every forked child inherit them; no reactor is installed by these imports.

PAST = "Mon, 06 Jan 2025 10:00:00 GMT"
PAST_ISO = "2025-01-06T10:00:00Z"


# -- feed and page builders -------------------------------------------------------------------


def item(title: str | None = None, link: str | None = None, guid: str | None = None, pub: str | None = None,
         desc: str | None = None, *, raw: bool = False) -> str:
    """One RSS <item>; text is XML-escaped unless ``raw`` (to smuggle in broken markup)."""
    esc = (lambda s: s) if raw else escape
    parts = []
    if title is not None:
        parts.append(f"<title>{esc(title)}</title>")
    if link is not None:
        parts.append(f"<link>{esc(link)}</link>")
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{esc(guid)}</guid>')
    if pub is not None:
        parts.append(f"<pubDate>{pub}</pubDate>")
    if desc is not None:
        parts.append(f"<description>{esc(desc)}</description>")
    return "<item>" + "".join(parts) + "</item>"


def rss(items: str, title: str = "Test feed", decl: str = '<?xml version="1.0" encoding="utf-8"?>',
        rss_attrs: str = "") -> str:
    return (f'{decl}\n<rss version="2.0"{rss_attrs}><channel><title>{title}</title>'
            f"<link>http://example.invalid/</link><description>A feed</description>{items}</channel></rss>")


def add_good_feed(server: Any, name: str = "good", n: int = 2) -> dict[str, str]:
    """A well-formed RSS 2.0 feed served at /<name>.xml; its entries' pages 404 (kept with feed text)."""
    items = "".join(
        item(f"{name} story {i}", server.url(f"/{name}/story-{i}.html"), f"{name}-{i}", PAST,
             f"Summary of {name} story {i}.")
        for i in range(1, n + 1)
    )
    server.routes[f"/{name}.xml"] = static(rss(items))
    return {"name": name, "kind": "feed", "url": server.url(f"/{name}.xml")}


def assert_good(crawl: Any, reports: dict[str, dict[str, Any]], name: str = "good", n: int = 2) -> None:
    assert reports[name]["status"] == "ok", reports[name]
    assert sorted(d["title"] for d in crawl.documents(name)) == [f"{name} story {i}" for i in range(1, n + 1)]
    assert crawl.health(name)["consecutive_failures"] == 0


def warnings_of(crawl: Any, name: str) -> list[str]:
    return json.loads(crawl.health(name)["warnings"] or "[]")


def feed_source(server: Any, name: str, path: str) -> dict[str, str]:
    return {"name": name, "kind": "feed", "url": server.url(path)}


def counting(responses: list[tuple[int, dict[str, str], bytes]]) -> tuple[Any, list[int]]:
    """A route answering ``responses`` in turn (the last one repeatedly); returns it and its hit list."""
    hits: list[int] = []

    def route(handler: Any) -> tuple[int, dict[str, str], bytes]:
        hits.append(1)
        return responses[min(len(hits), len(responses)) - 1]

    return route, hits


ARTICLE_PARAGRAPHS = [
    "Acme Networks confirmed on Monday that attackers gained access to the build servers that sign "
    "firmware images for its industrial routers, and that at least two updates published in December "
    "carried a backdoor that opened a remote shell to anyone who knew a hard-coded password.",
    "The company said its incident response team first noticed unusual outbound traffic from a build "
    "host during a routine review of firewall logs, and that the attackers appear to have entered "
    "through a contractor account that was not protected by multi-factor authentication.",
    "Customers running firmware versions 4.2.1 and 4.2.2 are urged to install version 4.2.3 immediately, "
    "to rotate every credential stored on affected devices, and to review their own logs for connections "
    "to the addresses listed in the advisory published alongside the announcement.",
    "Security researchers who examined the tampered images said the implant was small and carefully "
    "hidden inside a legitimate diagnostics module, which suggests an attacker with time, patience and a "
    "detailed understanding of how the vendor assembles and tests its releases before shipping them.",
    "Acme Networks has revoked the compromised signing certificate and issued a new one, and it says that "
    "every release from now on will be built twice on independent infrastructure, with the two results "
    "compared byte for byte before anything is signed or offered to customers for download.",
    "Analysts note that the incident is the third software supply chain compromise affecting network "
    "equipment makers this year, and that buyers are increasingly asking vendors for evidence of secure "
    "build practices, software bills of materials and timely disclosure of security problems.",
    "The company has not said how many customers installed the affected updates, but it estimates that "
    "fewer than one in ten devices in the field had received either version before the updates were "
    "withdrawn from its download portal late on Friday evening, after the first reports arrived.",
]
FOOTER = "Copyright 2025 Example Media Group. All rights reserved."
NAV = "Subscribe to our weekly newsletter"


def article_page(title: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | Example News</title></head>
<body>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/news/">Latest news</a></li>
<li><a href="/about/">About us</a></li><li><a href="/newsletter/">{NAV}</a></li></ul></nav></header>
<main><article><h1>{title}</h1><p class="byline">By Jane Doe, security correspondent</p>{body}</article></main>
<aside class="sidebar"><h3>Most read</h3><ul><li><a href="/x">Ten tips for stronger passwords</a></li></ul></aside>
<footer><p>{FOOTER}</p><p><a href="/privacy">Privacy policy</a> | <a href="/terms">Terms of use</a></p></footer>
</body></html>"""


# -- 1. malformed XML ---------------------------------------------------------------------------


def test_survivable_malformed_feed_undeclared_namespace_is_stored_with_warning(server, crawl):
    items = "".join(
        item(f"Story {i}", server.url(f"/s/{i}"), f"dc-{i}", PAST, f"Text {i}.").replace(
            "</title>", "</title><dc:creator>Bob Writer</dc:creator>")
        for i in (1, 2)
    )
    server.routes["/dc.xml"] = static(rss(items))  # uses dc: without xmlns:dc
    good = add_good_feed(server)
    reports = crawl([feed_source(server, "dc", "/dc.xml"), good], fetch_pages=False)

    assert reports["dc"]["status"] == "ok", reports["dc"]
    assert sorted(d["title"] for d in crawl.documents("dc")) == ["Story 1", "Story 2"]
    health = crawl.health("dc")
    assert health["last_status"] == "ok" and health["consecutive_failures"] == 0
    assert any(w.startswith("survivable") and "prefix" in w for w in warnings_of(crawl, "dc")), warnings_of(crawl, "dc")
    assert_good(crawl, reports)


def test_fatal_malformed_feed_is_parse_error_and_failures_accumulate(server, crawl):
    server.routes["/garbage.xml"] = static(b'<?xml version="1.0" encoding="utf-8"?>\n<channel><titl\x00e>Bro\x01ken')
    good = add_good_feed(server)
    sources = [feed_source(server, "garbage", "/garbage.xml"), good]

    reports = crawl(sources, fetch_pages=False)
    assert reports["garbage"]["status"] == "parse_error", reports["garbage"]
    health = crawl.health("garbage")
    assert health["last_status"] == "parse_error"
    assert "could not be parsed" in health["last_error"]
    assert health["http_status"] == 200
    assert health["consecutive_failures"] == 1
    assert crawl.documents("garbage") == []
    assert_good(crawl, reports)

    reports = crawl(sources, fetch_pages=False)
    assert reports["garbage"]["status"] == "parse_error"
    assert crawl.health("garbage")["consecutive_failures"] == 2
    assert crawl.documents("garbage") == []
    assert reports["good"]["status"] == "ok" and crawl.health("good")["consecutive_failures"] == 0


def test_truncated_rss_with_no_entries_is_parse_error(server, crawl):
    # The connection was cut after the channel header: feedparser still recognises "rss20".
    server.routes["/truncated.xml"] = static(
        b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Broken</title><descr')
    reports = crawl([feed_source(server, "truncated", "/truncated.xml")], fetch_pages=False)
    assert crawl.documents("truncated") == []
    assert reports["truncated"]["status"] == "parse_error", reports["truncated"]
    assert crawl.health("truncated")["consecutive_failures"] == 1


# -- 2. HTML at a feed URL ---------------------------------------------------------------------

LOGIN_WALL = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Sign in</title>
<link rel="stylesheet" href="/static/app.css"></head>
<body><form method="post" action="/login"><label>Email <input type="email" name="email"></label>
<label>Password <input type="password" name="password"></label><button>Sign in</button></form></body></html>"""

CHALLENGE = """<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8"><meta http-equiv="refresh" content="390">
<script>(function(){window._cf_chl_opt={cvId: '3',cType: 'managed'}; if (1 < 2) {document.cookie = "a=b";}})();</script>
</head><body class="no-js"><div class="main-wrapper"><noscript>Enable JavaScript and cookies to continue</noscript>
<div id="challenge-stage">Checking if the site connection is secure</div></div></body></html>"""

SOFT_404 = ("<html><head><title>Page not found</title></head><body><h1>Oops!</h1>"
            "<p>The page you are looking for does not exist.</p></body></html>")


def test_html_pages_at_feed_urls_are_not_a_feed(server, crawl):
    pages = {"login": LOGIN_WALL, "challenge": CHALLENGE, "soft404": SOFT_404}
    for name, html in pages.items():
        server.routes[f"/{name}.xml"] = static(html, "text/html; charset=utf-8")
    good = add_good_feed(server)
    reports = crawl([*(feed_source(server, n, f"/{n}.xml") for n in pages), good], fetch_pages=False)

    for name in pages:
        assert reports[name]["status"] == "not_a_feed", reports[name]
        health = crawl.health(name)
        assert health["last_status"] == "not_a_feed"
        assert "not a feed" in health["last_error"]
        assert health["http_status"] == 200 and health["consecutive_failures"] == 1
        assert crawl.documents(name) == []
    assert "Sign in" in crawl.health("login")["last_error"]
    assert_good(crawl, reports)


# -- 3. charsets -------------------------------------------------------------------------------

TITLE = "Café résumé — “smart” quotes"


def test_misdeclared_and_missing_charsets_decode_correctly(server, crawl):
    # (a) UTF-8 bytes served and declared as ISO-8859-1 (the commonest mis-declaration).
    server.routes["/latin-declared.xml"] = static(
        rss(item(TITLE, server.url("/a/1"), "cs-a", PAST), decl='<?xml version="1.0" encoding="ISO-8859-1"?>'
            ).encode("utf-8"),
        "application/rss+xml; charset=iso-8859-1")
    # (b) Windows-1252 bytes, no charset anywhere.
    server.routes["/cp1252.xml"] = static(
        rss(item(TITLE, server.url("/b/1"), "cs-b", PAST), decl='<?xml version="1.0"?>').encode("cp1252"),
        "application/rss+xml")
    # (c) Windows-1252 bytes claiming to be UTF-8.
    server.routes["/fake-utf8.xml"] = static(
        rss(item(TITLE, server.url("/c/1"), "cs-c", PAST)).encode("cp1252"), "application/rss+xml; charset=utf-8")
    good = add_good_feed(server)
    names = ["latin-declared", "cp1252", "fake-utf8"]
    reports = crawl([*(feed_source(server, n, f"/{n}.xml") for n in names), good], fetch_pages=False)

    for name in names:
        assert reports[name]["status"] == "ok", reports[name]
        [doc] = crawl.documents(name)
        assert doc["title"] == TITLE, (name, doc["title"])
        assert "Ã" not in doc["title"] and "\ufffd" not in doc["title"]
    assert any("UTF-8" in w for w in warnings_of(crawl, "latin-declared"))
    assert any("Windows-1252" in w for w in warnings_of(crawl, "cp1252"))
    assert_good(crawl, reports)


# -- 4. size caps ------------------------------------------------------------------------------


def _big_feed(size: int) -> bytes:
    filler = "x" * 900
    items, i = [], 0
    while sum(map(len, items)) < size:
        i += 1
        items.append(item(f"Big {i}", f"http://127.0.0.1:9/big/{i}", f"big-{i}", PAST, filler))
    return rss("".join(items)).encode()


def _chunked(body: bytes) -> Any:
    """A route streaming ``body`` chunked, without Content-Length: the cap must apply while receiving."""

    def route(handler: Any) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        try:
            for start in range(0, len(body), 16384):
                chunk = body[start:start + 16384]
                handler.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            handler.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the crawler hung up: that is the point
        handler.close_connection = True

    return route


def test_body_larger_than_max_bytes_is_aborted(server, crawl):
    body = _big_feed(300_000)
    assert len(body) > 300_000
    server.routes["/big.xml"] = static(body)
    server.routes["/chunked.xml"] = _chunked(body)
    good = add_good_feed(server)
    reports = crawl([feed_source(server, "big", "/big.xml"), feed_source(server, "chunked", "/chunked.xml"), good],
                    max_bytes=200_000, fetch_pages=False)

    for name in ("big", "chunked"):
        assert reports[name]["status"] == "network_error", reports[name]
        health = crawl.health(name)
        assert health["last_status"] == "network_error" and health["consecutive_failures"] == 1
        assert crawl.documents(name) == []
    # With a Content-Length, Scrapy refuses before reading the body and says why.
    error = crawl.health("big")["last_error"]
    assert "larger than download max size (200000)" in error, error
    assert server.hits.count("/big.xml") == 1  # a size abort is not retried
    assert_good(crawl, reports)


def test_streamed_body_over_the_cap_is_reported_as_too_large(server, crawl):
    server.routes["/chunked.xml"] = _chunked(_big_feed(300_000))
    reports = crawl([feed_source(server, "chunked", "/chunked.xml")], max_bytes=200_000, fetch_pages=False)
    assert reports["chunked"]["status"] == "network_error"
    error = crawl.health("chunked")["last_error"]
    assert "too large" in error or "max size" in error or "200000" in error, error


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    bomb = gzip.compress(b"\0" * (50 << 20), compresslevel=9)
    assert len(bomb) < 100_000
    return bomb


def test_gzip_bomb_is_aborted_while_decompressing(server, crawl, gzip_bomb):
    # The error names the size cap hit while decompressing: aborted at 1 MiB of the 50, whatever the wall clock.
    server.routes["/bomb.xml"] = static(gzip_bomb, headers={"Content-Encoding": "gzip"})
    good = add_good_feed(server)
    reports = crawl([feed_source(server, "bomb", "/bomb.xml"), good], max_bytes=1 << 20, fetch_pages=False)

    assert reports["bomb"]["status"] == "network_error", reports["bomb"]
    error = crawl.health("bomb")["last_error"]
    assert "DOWNLOAD_MAXSIZE" in error and "decompress" in error, error
    assert crawl.documents("bomb") == []
    assert crawl.health("bomb")["consecutive_failures"] == 1
    assert_good(crawl, reports)


# -- 5. redirects ------------------------------------------------------------------------------


def _redirect(location: str) -> Any:
    return static(b"", "text/plain", 302, {"Location": location})


def test_redirect_loop_fails_and_redirect_chain_works(server, crawl):
    server.routes["/loop"] = _redirect("/loop2")
    server.routes["/loop2"] = _redirect("/loop")
    server.routes["/r1"] = _redirect("/r2")
    server.routes["/r2"] = _redirect(server.url("/r3"))
    server.routes["/r3"] = _redirect("/chain.xml")
    server.routes["/chain.xml"] = static(rss(item("Chained", server.url("/c/1"), "chain-1", PAST, "Reached.")))
    good = add_good_feed(server)
    reports = crawl([feed_source(server, "loop", "/loop"), feed_source(server, "chain", "/r1"), good],
                    fetch_pages=False)

    assert reports["loop"]["status"] == "network_error", reports["loop"]
    health = crawl.health("loop")
    assert "redirect" in health["last_error"].lower()
    assert health["consecutive_failures"] == 1
    loop_hits = [h for h in server.hits if h in ("/loop", "/loop2")]
    assert 2 <= len(loop_hits) <= 6 + 1  # bounded by max_redirects (5)

    assert reports["chain"]["status"] == "ok", reports["chain"]
    assert [d["title"] for d in crawl.documents("chain")] == ["Chained"]
    assert crawl.health("chain")["http_status"] == 200
    assert_good(crawl, reports)


# -- 6. HTTP statuses --------------------------------------------------------------------------


def test_http_error_statuses_are_classified(server, crawl):
    codes = {"e404": 404, "e410": 410, "e500": 500, "e403": 403}
    for name, code in codes.items():
        server.routes[f"/{name}.xml"] = static(f"<html><body>{code}</body></html>", "text/html", code)
    good = add_good_feed(server)
    reports = crawl([*(feed_source(server, n, f"/{n}.xml") for n in codes), good], retries=2, fetch_pages=False)

    expected = {"e404": "gone", "e410": "gone", "e500": "http_error", "e403": "blocked"}
    for name, status in expected.items():
        assert reports[name]["status"] == status, reports[name]
        health = crawl.health(name)
        assert health["last_status"] == status
        assert health["http_status"] == codes[name]
        assert str(codes[name]) in health["last_error"]
        assert health["consecutive_failures"] == 1
        assert crawl.documents(name) == []
    assert "not found" in crawl.health("e404")["last_error"]
    assert "gone" in crawl.health("e410")["last_error"]
    # 500 is retried (retries=2), then recorded; 404/403 are not retried.
    assert server.hits.count("/e500.xml") == 3
    assert server.hits.count("/e404.xml") == 1 and server.hits.count("/e403.xml") == 1
    assert_good(crawl, reports)


def _check_short_retry_after(server: Any, crawl: Any) -> None:
    route, hits = counting([
        (429, {"Content-Type": "text/plain", "Retry-After": "1"}, b"slow down"),
        (200, {"Content-Type": "application/rss+xml"}, rss(item("After wait", server.url("/w/1"), "w-1", PAST)).encode()),
    ])
    server.routes["/limited.xml"] = route
    started = time.monotonic()
    reports = crawl([feed_source(server, "limited", "/limited.xml")], fetch_pages=False)

    assert reports["limited"]["status"] == "ok", reports["limited"]
    assert len(hits) == 2
    assert time.monotonic() - started >= 1.0
    assert [d["title"] for d in crawl.documents("limited")] == ["After wait"]
    health = crawl.health("limited")
    assert health["http_status"] == 200 and not health["retry_after"]


# The forked crawl inherits pytest's filterwarnings=error: a deprecated middleware API would fail it.
def test_429_with_short_retry_after_is_waited_out(server, crawl):
    _check_short_retry_after(server, crawl)


def test_429_with_long_retry_after_is_rate_limited_then_skipped(server, crawl):
    server.routes["/limited.xml"] = static(b"go away", "text/plain", 429, {"Retry-After": "3600"})
    good = add_good_feed(server)
    sources = [feed_source(server, "limited", "/limited.xml"), good]
    before = utcnow()
    reports = crawl(sources, fetch_pages=False)

    assert reports["limited"]["status"] == "rate_limited", reports["limited"]
    health = crawl.health("limited")
    assert health["http_status"] == 429 and "Retry-After" in health["last_error"]
    retry_after = health["retry_after"]
    assert retry_after and retry_after > utcnow()
    soon = (datetime.fromisoformat(before.replace("Z", "+00:00")) + timedelta(seconds=3500)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert retry_after > soon  # about an hour from now
    assert server.hits.count("/limited.xml") == 1  # a long Retry-After is not waited for nor retried
    assert_good(crawl, reports)

    reports = crawl(sources, fetch_pages=False)
    assert reports["limited"]["status"] == "skipped", reports["limited"]
    assert server.hits.count("/limited.xml") == 1  # not asked again
    health = crawl.health("limited")
    assert health["last_status"] == "rate_limited" and health["retry_after"] == retry_after
    assert reports["good"]["status"] == "ok"


# -- 7. entity expansion -----------------------------------------------------------------------


def billion_laughs(levels: int = 9, prolog_extra: bytes = b"") -> bytes:
    ents = b'<!ENTITY lol "lol">\n' + b"".join(
        b'<!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, levels + 1))
    return (b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n' + prolog_extra + ents + b"]>\n"
            b'<rss version="2.0"><channel><title>x</title><item><title>&lol%d;</title>'
            b"<link>http://127.0.0.1:9/lol</link><guid>lol</guid></item></channel></rss>" % levels)


def test_entity_expansion_is_refused_before_expanding(server, crawl):
    # Refused on sight of the DOCTYPE's entities, never expanded (9 levels would be 3 GB): the error names them.
    # No wall-clock bound here: on a loaded 2-core CI machine a timing assert only measures the neighbours.
    server.routes["/laughs.xml"] = static(billion_laughs())
    big = (b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY big "' + b"A" * 100_000 + b'">\n]>\n'
           b'<rss version="2.0"><channel><title>x</title><item><title>t</title><guid>big</guid><description>'
           + b"&big;" * 2000 + b"</description></item></channel></rss>")
    server.routes["/bigentity.xml"] = static(big)
    good = add_good_feed(server)
    reports = crawl([feed_source(server, "laughs", "/laughs.xml"), feed_source(server, "bigentity", "/bigentity.xml"),
                     good], fetch_pages=False)

    for name in ("laughs", "bigentity"):
        assert reports[name]["status"] == "parse_error", reports[name]
        health = crawl.health(name)
        assert "entities" in health["last_error"], health["last_error"]
        assert health["consecutive_failures"] == 1
        assert crawl.documents(name) == []
    assert_good(crawl, reports)


ENTITY_BYPASSES = {
    # The prolog scan stops at the first "<letter>", which here sits inside a DTD comment.
    "comment-in-dtd": billion_laughs(levels=2, prolog_extra=b"<!-- <a href> -->\n"),
    # The DTD pattern stops at the first "]", here inside a comment.
    "bracket-in-dtd": billion_laughs(levels=2, prolog_extra=b"<!-- ] -->\n"),
    # The scan runs on raw bytes, so a UTF-16 document's DOCTYPE is never seen.
    "utf16": billion_laughs().decode("ascii").replace('<?xml version="1.0"?>',
                                                      '<?xml version="1.0" encoding="UTF-16"?>').encode("utf-16"),
}


@pytest.mark.parametrize("variant", list(ENTITY_BYPASSES))
def test_entity_declarations_are_refused_however_disguised(server, crawl, variant):
    server.routes["/sneaky.xml"] = static(ENTITY_BYPASSES[variant])
    reports = crawl([feed_source(server, "sneaky", "/sneaky.xml")], fetch_pages=False)
    assert reports["sneaky"]["status"] == "parse_error", (reports["sneaky"], crawl.documents("sneaky"))
    assert "entities" in crawl.health("sneaky")["last_error"]
    assert crawl.documents("sneaky") == []


# -- 8. duplicate GUIDs ------------------------------------------------------------------------


def test_duplicate_guids_in_one_feed_are_stored_once(server, crawl):
    items = (item("First copy", server.url("/d/1"), "dup", PAST, "one")
             + item("Unique", server.url("/d/2"), "uniq", PAST, "two")
             + item("Second copy", server.url("/d/3"), "dup", PAST, "three"))
    server.routes["/dups.xml"] = static(rss(items))
    good = add_good_feed(server)
    reports = crawl([feed_source(server, "dups", "/dups.xml"), good], fetch_pages=False)

    assert reports["dups"]["status"] == "ok", reports["dups"]
    docs = crawl.documents("dups")
    assert sorted(d["guid"] for d in docs) == ["dup", "uniq"]
    assert {d["guid"]: d["title"] for d in docs}["dup"] == "First copy"
    assert any("duplicate" in w for w in warnings_of(crawl, "dups")), warnings_of(crawl, "dups")
    assert reports["dups"]["new"] == 2
    assert_good(crawl, reports)


# -- 9. missing and future dates ---------------------------------------------------------------


def test_missing_and_future_dates_are_flagged_and_clamped(server, crawl):
    items = (item("Undated", server.url("/t/1"), "undated", None, "x")
             + item("From the future", server.url("/t/2"), "future", "Thu, 01 Jan 2099 00:00:00 GMT", "y")
             + item("Dated", server.url("/t/3"), "dated", PAST, "z"))
    server.routes["/dates.xml"] = static(rss(items))
    before = utcnow()
    reports = crawl([feed_source(server, "dates", "/dates.xml")], fetch_pages=False)
    after = utcnow()

    assert reports["dates"]["status"] == "ok", reports["dates"]
    docs = {d["guid"]: d for d in crawl.documents("dates")}
    assert "no_date" in docs["undated"]["flags"]
    assert docs["undated"]["published"] and before <= docs["undated"]["published"] <= after
    assert "future_date" in docs["future"]["flags"]
    assert docs["future"]["published"] < "2099" and docs["future"]["published"] <= after
    assert docs["dated"]["published"] == PAST_ISO
    assert not {"no_date", "future_date"} & set(docs["dated"]["flags"])


# -- 10. relative and unsafe links -------------------------------------------------------------


def test_relative_link_fetches_page_and_javascript_link_is_not_followed(server, crawl):
    items = (item("Acme firmware backdoored", "/articles/one.html", "rel-1", PAST, "Short feed summary.")
             + item("Click me", "javascript:alert(1)", "js-1", PAST, "Feed text for the js entry."))
    server.routes["/news/feed.xml"] = static(rss(items))
    server.routes["/articles/one.html"] = static(article_page("Acme firmware backdoored", ARTICLE_PARAGRAPHS),
                                                 "text/html; charset=utf-8")
    reports = crawl([feed_source(server, "rel", "/news/feed.xml")])

    assert reports["rel"]["status"] == "ok", reports["rel"]
    assert reports["rel"]["failed_pages"] == 0
    docs = {d["guid"]: d for d in crawl.documents("rel")}
    page = docs["rel-1"]
    assert page["url"] == server.url("/articles/one.html")
    assert page["canonical_url"] == server.url("/articles/one.html")
    assert page["text_source"] == "page"
    assert "contractor account that was not protected by multi-factor authentication" in page["text"]
    assert "withdrawn from its download portal" in page["text"]
    assert FOOTER not in page["text"] and "Privacy policy" not in page["text"] and NAV not in page["text"]
    assert "/articles/one.html" in server.hits

    js = docs["js-1"]
    assert "unsafe_link" in js["flags"]
    assert js["text_source"] == "feed" and js["text"] == "Feed text for the js entry."
    assert not js["url"] and not js["canonical_url"]
    assert not any("javascript" in h or "alert" in h for h in server.hits)
    assert not any("javascript" in w for w in warnings_of(crawl, "rel"))


# -- 11. control and bidi characters -----------------------------------------------------------


def test_control_and_bidi_characters_are_stripped_from_titles(server, crawl):
    titles = {"bidi": "\u202eevil\u202c", "bell": "\x07bell", "isolate": "a\u2066b", "clean": "Plain title"}
    items = "".join(item(t, server.url(f"/b/{g}"), g, PAST, "text", raw=True) for g, t in titles.items())
    server.routes["/bidi.xml"] = static(rss(items))
    good = add_good_feed(server)
    reports = crawl([feed_source(server, "bidi", "/bidi.xml"), good], fetch_pages=False)

    assert reports["bidi"]["status"] == "ok", reports["bidi"]
    docs = {d["guid"]: d for d in crawl.documents("bidi")}
    assert {g: d["title"] for g, d in docs.items()} == {"bidi": "evil", "bell": "bell", "isolate": "ab",
                                                         "clean": "Plain title"}
    for guid in ("bidi", "bell", "isolate"):
        assert "sanitized_title" in docs[guid]["flags"], docs[guid]
    assert "sanitized_title" not in docs["clean"]["flags"]
    assert_good(crawl, reports)


# -- 12. huge feeds ----------------------------------------------------------------------------


def _numbered_feed(server: Any, n: int) -> tuple[bytes, set[str]]:
    """``n`` items whose dates are a permutation of ``n`` minutes, so the newest are spread through the document."""
    base = datetime(2024, 1, 1, tzinfo=UTC)
    step = 7919  # prime, coprime with n: i -> i*step % n is a permutation
    assert n % step
    link = server.url("/huge/")
    parts = []
    newest: set[str] = set()
    for i in range(n):
        minute = i * step % n
        if minute >= n - 50:
            newest.add(f"g{i}")
        when = format_datetime(base + timedelta(minutes=minute), usegmt=True)
        parts.append(f"<item><title>Item {i}</title><link>{link}{i}</link>"
                     f"<guid isPermaLink='false'>g{i}</guid><pubDate>{when}</pubDate></item>")
    return rss("".join(parts)).encode(), newest


def _check_capped(server: Any, crawl: Any, n: int) -> None:
    body, newest = _numbered_feed(server, n)
    server.routes["/huge.xml"] = static(body)
    # ~17 MB for 100,000 items: above the 16 MiB default cap, which is not what this test is about.
    reports = crawl([feed_source(server, "huge", "/huge.xml")], fetch_pages=False, max_entries_per_source=50,
                    max_bytes=64 << 20)

    assert reports["huge"]["status"] == "ok", reports["huge"]
    docs = crawl.documents("huge")
    assert len(docs) == 50
    assert {d["guid"] for d in docs} == newest
    assert f"{n} entries, kept the newest 50" in warnings_of(crawl, "huge")
    assert not any(h.startswith("/huge/") for h in server.hits)


def test_large_feed_is_capped_to_newest_entries(server, crawl):
    _check_capped(server, crawl, 2000)


@pytest.mark.slow
def test_100k_entry_feed_is_capped_to_newest_entries(server, crawl):
    _check_capped(server, crawl, 100_000)


# -- 13. private networks ----------------------------------------------------------------------


def test_loopback_sources_are_refused_without_any_request(server, crawl):
    server.routes["/feed.xml"] = static(rss(item("Never", server.url("/n/1"), "n-1", PAST)))
    port = server.server_address[1]
    reports = crawl([feed_source(server, "loop-ip", "/feed.xml"),
                     {"name": "loop-name", "kind": "feed", "url": f"http://localhost:{port}/feed.xml"}],
                    private_allowlist=[])

    assert server.hits == []  # neither the feeds nor robots.txt
    assert reports["loop-ip"]["status"] == "refused", reports["loop-ip"]
    health = crawl.health("loop-ip")
    assert health["last_error"].startswith("refused") and "127.0.0.1 is a loopback" in health["last_error"]
    for name in ("loop-ip", "loop-name"):
        assert crawl.documents(name) == []
        assert crawl.health(name)["consecutive_failures"] == 1
        assert reports[name]["status"] in ("refused", "network_error"), reports[name]


def test_hostname_resolving_to_loopback_is_refused_after_dns(server, crawl):
    port = server.server_address[1]
    reports = crawl([{"name": "loop-name", "kind": "feed", "url": f"http://localhost:{port}/feed.xml"}],
                    private_allowlist=[], retries=0)
    assert server.hits == []
    health = crawl.health("loop-name")
    assert reports["loop-name"]["status"] == "refused", reports["loop-name"]
    assert "localhost resolves to 127.0.0.1" in health["last_error"] and "loopback" in health["last_error"]


def test_entry_pages_on_internal_addresses_are_refused(server, crawl):
    port = server.server_address[1]
    base = f"http://localhost:{port}"
    server.routes["/to-metadata"] = _redirect("http://169.254.169.254/latest/meta-data/")
    server.routes["/to-loopback"] = _redirect(f"http://127.0.0.1:{port}/secret")
    server.routes["/secret"] = static("<html><body>secret</body></html>", "text/html")
    server.routes["/mapped"] = static("<html><body>mapped</body></html>", "text/html")
    server.routes["/ok.html"] = static(article_page("Fine article", ARTICLE_PARAGRAPHS), "text/html; charset=utf-8")
    links = {
        "metadata": f"{base}/to-metadata",
        "loopback": f"{base}/to-loopback",
        "mapped": f"http://[::ffff:127.0.0.1]:{port}/mapped",
        "cgnat": "http://100.64.0.1/cgnat",
        "fine": f"{base}/ok.html",
    }
    items = "".join(item(f"Entry {g}", url, g, PAST, f"Feed text of {g}.") for g, url in links.items())
    server.routes["/feed.xml"] = static(rss(items))
    reports = crawl([{"name": "internal", "kind": "feed", "url": f"{base}/feed.xml"}], private_allowlist=["localhost"])

    assert reports["internal"]["status"] == "ok", reports["internal"]
    docs = {d["guid"]: d for d in crawl.documents("internal")}
    assert set(docs) == set(links)
    for guid in ("metadata", "loopback", "mapped", "cgnat"):
        assert docs[guid]["text_source"] == "feed" and docs[guid]["text"] == f"Feed text of {guid}."
        assert "feed_content_only" in docs[guid]["flags"], docs[guid]
    assert docs["fine"]["text_source"] == "page"
    assert reports["internal"]["failed_pages"] == 4
    warnings = warnings_of(crawl, "internal")
    for needle in ("169.254.169.254 is a link-local", "127.0.0.1 is a loopback", "::ffff:127.0.0.1", "100.64.0.1"):
        assert any(needle in w and "refused" in w for w in warnings), (needle, warnings)
    assert "/to-metadata" in server.hits and "/to-loopback" in server.hits
    assert "/secret" not in server.hits and "/mapped" not in server.hits


@pytest.fixture(scope="module")
def idle_server():
    """One server for the tests that must never reach it (shutting one down costs ~0.5 s)."""
    with LocalServer() as srv:
        yield srv
    assert srv.hits == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://ftp.example.com/feed.xml", "gopher://example.com/"])
def test_non_http_source_urls_are_configuration_errors(idle_server, crawl, db_path, url):
    server = idle_server
    with pytest.raises(ConfigError, match=r"source 'weird'.*url must be http"):
        crawl([{"name": "weird", "kind": "feed", "url": url}])
    assert not Path(db_path).exists()
    assert server.hits == []


# -- 14. configuration errors through the CLI --------------------------------------------------

CONFIG_ERRORS = {
    "invalid-toml": ('[[sources]]\nname = "broken"\nkind = "feed\nurl = "{url}"\n', ["invalid TOML"]),
    "unknown-kind": ('[[sources]]\nname = "src-kind"\nkind = "rss"\nurl = "{url}"\n', ["src-kind", "unknown kind"]),
    "duplicate-name": ('[[sources]]\nname = "twice"\nurl = "{url}"\n\n[[sources]]\nname = "twice"\nurl = "{url}"\n',
                       ["twice", "duplicate source name"]),
    "bad-regex": ('[[sources]]\nname = "src-regex"\nkind = "advisories"\nurl = "{url}"\nfollow = ["(unclosed"]\n',
                  ["src-regex", "bad regex"]),
    "bad-selector": ('[[sources]]\nname = "src-css"\nkind = "advisories"\nurl = "{url}"\nfollow = ["/adv/"]\n'
                     'next = "a[[href"\n', ["src-css", "bad CSS selector"]),
    "missing-url": ('[[sources]]\nname = "src-nourl"\nkind = "feed"\n', ["src-nourl", "missing url"]),
}


@pytest.mark.parametrize("case", list(CONFIG_ERRORS))
def test_configuration_errors_exit_2_with_one_line(idle_server, tmp_path, case):
    server = idle_server
    text, needles = CONFIG_ERRORS[case]
    config = tmp_path / f"{case}.toml"
    config.write_text('[crawl]\nprivate_allowlist = ["127.0.0.1"]\n\n' + text.format(url=server.url("/feed.xml")))
    db = tmp_path / "never.db"
    result = CliRunner().invoke(cli, ["--config", str(config), "--db", str(db), "crawl"])

    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and str(config) in lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    assert server.hits == []
    assert not db.exists()


# -- 15. conditional GET and dedup -------------------------------------------------------------


def test_etag_feed_is_not_modified_on_second_crawl(server, crawl, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "feed.xml").write_text(rss(
        item("Tagged one", "{{BASE}}/t/1", "tag-1", PAST, "One.") + item("Tagged two", "{{BASE}}/t/2", "tag-2", PAST, "Two.")))
    server.root = site
    source = feed_source(server, "tagged", "/feed.xml")

    first = crawl([source], fetch_pages=False)
    assert first["tagged"]["status"] == "ok" and first["tagged"]["new"] == 2
    etag = crawl.health("tagged")["etag"]
    assert etag

    second = crawl([source], fetch_pages=False)
    assert second["tagged"]["status"] == "not_modified", second["tagged"]
    assert second["tagged"]["new"] == 0 and second["tagged"]["updated"] == 0
    health = crawl.health("tagged")
    assert health["last_status"] == "not_modified" and health["http_status"] == 304 and health["etag"] == etag
    assert len(crawl.documents("tagged")) == 2
    assert server.hits.count("/feed.xml") == 2


def test_feed_without_etag_is_deduplicated_and_edits_update_the_row(server, crawl):
    state = {"desc": "Original summary.", "pub": PAST, "para": "The original paragraph says the patch is coming soon."}

    def feed(handler: Any) -> tuple[int, dict[str, str], bytes]:
        body = rss(item("Editable story", server.url("/articles/edit.html"), "edit-1", state["pub"], state["desc"])
                   + item("Stable story", server.url("/articles/stable.html"), "stable-1", PAST, "Stable."))
        return 200, {"Content-Type": "application/rss+xml"}, body.encode()

    def page(handler: Any) -> tuple[int, dict[str, str], bytes]:
        html = article_page("Editable story", [state["para"], *ARTICLE_PARAGRAPHS])
        return 200, {"Content-Type": "text/html; charset=utf-8"}, html.encode()

    server.routes["/edit.xml"] = feed
    server.routes["/articles/edit.html"] = page
    server.routes["/articles/stable.html"] = static(article_page("Stable story", ARTICLE_PARAGRAPHS[::-1]),
                                                    "text/html; charset=utf-8")
    source = feed_source(server, "edit", "/edit.xml")

    first = crawl([source])
    assert first["edit"]["status"] == "ok" and first["edit"]["new"] == 2, first["edit"]
    [row] = [d for d in crawl.documents("edit") if d["guid"] == "edit-1"]
    assert row["text_source"] == "page" and "patch is coming soon" in row["text"]

    second = crawl([source])
    assert second["edit"]["status"] == "ok" and second["edit"]["new"] == 0 and second["edit"]["updated"] == 0
    assert len(crawl.documents("edit")) == 2
    assert server.hits.count("/articles/edit.html") == 1  # unchanged entries' pages are not fetched again

    while utcnow() <= row["updated_at"]:  # so a new updated_at is visible at second resolution
        time.sleep(0.05)
    state.update(desc="Updated summary.", pub="Tue, 07 Jan 2025 10:00:00 GMT",
                 para="The updated paragraph says the patch shipped on Tuesday.")
    third = crawl([source])
    assert third["edit"]["status"] == "ok", third["edit"]
    assert third["edit"]["new"] == 0 and third["edit"]["updated"] == 1, third["edit"]
    docs = crawl.documents("edit")
    assert len(docs) == 2
    [edited] = [d for d in docs if d["guid"] == "edit-1"]
    assert edited["id"] == row["id"]
    assert edited["updated_at"] > row["updated_at"] and edited["fetched_at"] == row["fetched_at"]
    assert "patch shipped on Tuesday" in edited["text"] and "coming soon" not in edited["text"]
    assert edited["published"] == "2025-01-07T10:00:00Z"
    assert server.hits.count("/articles/edit.html") == 2 and server.hits.count("/articles/stable.html") == 1


def test_same_article_via_tracking_params_and_fragment_is_one_row(server, crawl):
    server.routes["/articles/shared.html"] = static(article_page("Shared story", ARTICLE_PARAGRAPHS),
                                                    "text/html; charset=utf-8")
    server.routes["/a.xml"] = static(rss(item("Shared story", server.url("/articles/shared.html?utm_source=x"),
                                              "a-1", PAST, "From feed A.")))
    server.routes["/b.xml"] = static(rss(item("Shared story", server.url("/articles/shared.html#frag"),
                                              "b-1", PAST, "From feed B.")))
    reports = crawl([feed_source(server, "feed-a", "/a.xml"), feed_source(server, "feed-b", "/b.xml")])

    assert reports["feed-a"]["status"] == "ok" and reports["feed-b"]["status"] == "ok", reports
    docs = crawl.documents()
    assert len(docs) == 1, [(d["source"], d["url"], d["canonical_url"]) for d in docs]
    assert docs[0]["canonical_url"] == server.url("/articles/shared.html")
    assert reports["feed-a"]["new"] + reports["feed-b"]["new"] == 1


# -- politeness: User-Agent and robots.txt -----------------------------------------------------


def test_user_agent_names_supplywatch(server, crawl):
    seen: dict[str, str] = {}

    def recording(body: bytes, ctype: str) -> Any:
        def route(handler: Any) -> tuple[int, dict[str, str], bytes]:
            seen[handler.path] = handler.headers.get("User-Agent", "")
            return 200, {"Content-Type": ctype}, body
        return route

    server.routes["/robots.txt"] = recording(b"User-agent: *\nAllow: /\n", "text/plain")
    server.routes["/feed.xml"] = recording(rss(item("UA", server.url("/u/1"), "ua-1", PAST)).encode(),
                                           "application/rss+xml")
    reports = crawl([feed_source(server, "ua", "/feed.xml")], fetch_pages=False)

    assert reports["ua"]["status"] == "ok"
    assert set(seen) == {"/robots.txt", "/feed.xml"}
    for path, agent in seen.items():
        assert agent.startswith("supplywatch/"), (path, agent)


def test_robots_txt_disallowing_the_feed_refuses_the_source(server, crawl):
    server.routes["/robots.txt"] = static("User-agent: *\nDisallow: /private/\n", "text/plain")
    server.routes["/private/feed.xml"] = static(rss(item("Hidden", server.url("/h/1"), "h-1", PAST)))
    good = add_good_feed(server)
    reports = crawl([feed_source(server, "private", "/private/feed.xml"), good], fetch_pages=False)

    assert reports["private"]["status"] == "refused", reports["private"]
    health = crawl.health("private")
    assert "robots.txt" in health["last_error"] and health["consecutive_failures"] == 1
    assert crawl.documents("private") == []
    assert "/private/feed.xml" not in server.hits
    assert_good(crawl, reports)
