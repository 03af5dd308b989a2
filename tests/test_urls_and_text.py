"""Pure functions under the crawler: URL identity, charset choice, title hygiene, fetch safety."""

from __future__ import annotations

import pytest

from supplywatch.crawlers.safety import Allowlist, check_url, declares_entities
from supplywatch.crawlers.text import clean_line, decode
from supplywatch.crawlers.urls import absolute_http_url, canonical_url


@pytest.mark.parametrize("a,b", [
    ("HTTPS://Example.COM/news/story/", "https://example.com/news/story"),
    ("https://example.com/news/story?utm_source=rss&utm_medium=feed", "https://example.com/news/story"),
    ("https://example.com/news/story?fbclid=abc&gclid=def#comments", "https://example.com/news/story"),
    ("https://m.example.com/news/story", "https://example.com/news/story"),
    ("https://example.com/news/story/amp/", "https://example.com/news/story"),
    ("https://example.com/news/story?amp=1", "https://example.com/news/story"),
    ("https://example.com:443/news/story", "https://example.com/news/story"),
    ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
])
def test_canonical_url_folds_variants(a, b):
    assert canonical_url(a) == canonical_url(b) == b


def test_canonical_url_keeps_what_identifies():
    assert canonical_url("https://example.com/a?id=1") != canonical_url("https://example.com/a?id=2")
    assert canonical_url("https://example.com/a") != canonical_url("https://example.org/a")


def test_links_resolve_and_unsafe_schemes_are_dropped():
    assert absolute_http_url("/x/y.html", "https://e.com/feed/") == "https://e.com/x/y.html"
    assert absolute_http_url("javascript:alert(1)", "https://e.com/") is None
    assert absolute_http_url("mailto:a@b", "https://e.com/") is None


def test_decode_prefers_valid_utf8_over_wrong_declaration():
    text, enc, warning = decode("café — “quoted”".encode(), "iso-8859-1")
    assert text == "café — “quoted”" and enc == "utf-8" and "UTF-8" in warning
    text, enc, warning = decode("café “x”".encode("cp1252"), None)
    assert text == "café “x”" and enc == "cp1252" and warning


def test_clean_line_strips_controls_and_bidi():
    assert clean_line("a\u202eb\u202c\x07c\u2066d") == ("abcd", True)
    assert clean_line("  plain\n title ") == ("plain title", False)


@pytest.mark.parametrize("url,refused", [
    ("http://127.0.0.1/", "loopback"),
    ("http://10.0.0.5/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://100.64.1.1/", "non-global"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("file:///etc/passwd", "scheme"),
    ("ftp://example.com/x", "scheme"),
])
def test_refused_addresses(url, refused):
    problem = check_url(url, Allowlist())
    assert problem and refused in problem


def test_allowlist_by_host_and_cidr():
    assert check_url("http://127.0.0.1:8080/", Allowlist(["127.0.0.1"])) is None
    assert check_url("http://10.1.2.3/", Allowlist(["10.0.0.0/8"])) is None
    assert check_url("http://8.8.8.8/", Allowlist()) is None


def test_entity_declarations_are_detected_in_the_prolog_only():
    assert declares_entities(b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "b">]><rss/>')
    assert not declares_entities(b"<rss><item><description>&lt;!ENTITY x&gt;</description></item></rss>")
    assert not declares_entities(b'<!DOCTYPE html><html></html>')
