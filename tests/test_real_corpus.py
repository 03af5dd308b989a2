"""Crawl the real files in ../shared/corpus served from a local server: the issue's "done when"."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import shared_path, static

pytestmark = pytest.mark.slow


def _csaf_routes(server: Any) -> list[str]:
    """Serve CISA's IT ROLIE feed with its document links pointed at the local server.

    Only entries whose CSAF document is in the corpus are kept (the corpus holds two of four).
    """
    folder = shared_path("corpus", "feeds", "cisa_csaf")
    feed = json.loads((folder / "cisa-csaf-it-feed-tlp-white.json").read_text("utf-8"))
    kept, ids = [], []
    for entry in feed["feed"]["entry"]:
        name = entry["content"]["src"].rsplit("/", 1)[1]
        doc = folder / name
        if not doc.exists():
            continue
        local = server.url(f"/csaf/{name}")
        entry["content"]["src"] = local
        for link in entry["link"]:
            link["href"] = server.url(f"/csaf/{link['href'].rsplit('/', 1)[1]}")
        server.routes[f"/csaf/{name}"] = static(doc.read_bytes(), "application/json")
        kept.append(entry)
        ids.append(entry["id"])
    feed["feed"]["entry"] = kept
    server.routes["/csaf/feed.json"] = static(json.dumps(feed), "application/json")
    return ids


def _advisory_routes(server: Any) -> None:
    folder = shared_path("corpus", "pages", "advisory-parser")
    links = []
    for name in ("jenkins_2023-04-12.html", "flash_apsb17-21.html", "mysql_cpu-apr-2019.html"):
        server.routes[f"/advisories/{name}"] = static((folder / name).read_bytes(), "text/html; charset=utf-8")
        links.append(f'<li><a href="/advisories/{name}">{name}</a></li>')
    index = f"<html><body><nav><a href='/about'>About</a></nav><ul>{''.join(links)}</ul></body></html>"
    server.routes["/advisories/"] = static(index, "text/html; charset=utf-8")


def test_real_feeds_csaf_and_advisories_are_stored_cleanly(server, crawl):
    bc = shared_path("corpus", "feeds", "bleepingcomputer_rss_2024-03-14_from_Feeder_test.xml")
    server.routes["/bc.xml"] = static(bc.read_bytes(), "application/rss+xml; charset=utf-8", headers={"ETag": '"bc1"'})
    csaf_ids = _csaf_routes(server)
    _advisory_routes(server)
    sources = [
        {"name": "bleepingcomputer", "kind": "feed", "url": server.url("/bc.xml")},
        {"name": "cisa-csaf", "kind": "csaf", "url": server.url("/csaf/feed.json")},
        {"name": "vendors", "kind": "advisories", "url": server.url("/advisories/"),
         "follow": ["/advisories/[a-z_0-9-]+\\.html$"]},
    ]
    reports = crawl(sources)
    assert {name: r["status"] for name, r in reports.items()} == {
        "bleepingcomputer": "ok", "cisa-csaf": "ok", "vendors": "ok"}

    # The BleepingComputer snapshot lacks namespace declarations: survivable, the entry is kept.
    (bc_doc,) = crawl.documents("bleepingcomputer")
    assert bc_doc["title"].startswith("SIM swappers")
    assert bc_doc["text_source"] == "feed"  # its page is on the internet, which tests never reach
    assert "feed_content_only" in bc_doc["flags"]
    assert "<" not in bc_doc["text"] and len(bc_doc["text"]) > 100
    health = crawl.health("bleepingcomputer")
    assert "unbound prefix" in health["warnings"]
    assert health["consecutive_failures"] == 0 and health["etag"] == '"bc1"'

    csaf = {d["guid"]: d for d in crawl.documents("cisa-csaf")}
    assert set(csaf) == set(csaf_ids)
    fitness = next(d for d in csaf.values() if "Planet Fitness" in d["title"])
    assert fitness["kind"] == "csaf" and fitness["cves"] and all(c.startswith("CVE-") for c in fitness["cves"])
    assert fitness["products"] and fitness["vendor"]
    assert "Legal Notice" not in fitness["text"]  # the disclaimer is boilerplate

    advisories = {d["url"].rsplit("/", 1)[1]: d for d in crawl.documents("vendors")}
    assert set(advisories) == {"jenkins_2023-04-12.html", "flash_apsb17-21.html", "mysql_cpu-apr-2019.html"}
    jenkins = advisories["jenkins_2023-04-12.html"]
    assert "Jenkins Security Advisory 2023-04-12" in jenkins["title"]
    assert len(jenkins["cves"]) >= 5 and "CVE-2023-30513" in jenkins["cves"]
    assert len(jenkins["text"]) > 1000
    flash = advisories["flash_apsb17-21.html"]
    assert flash["cves"] == ["CVE-2017-3080", "CVE-2017-3099", "CVE-2017-3100"]
    assert "Adobe" in flash["title"] and flash["products"]

    # Second crawl: nothing new anywhere.
    again = crawl(sources)
    assert sum(r["new"] for r in again.values()) == 0
    assert again["bleepingcomputer"]["status"] == "not_modified"
    assert len(crawl.documents()) == 1 + len(csaf_ids) + 3
