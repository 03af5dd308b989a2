"""`supplywatch demo` end to end: the embedded site served locally, crawled, checked against expected.json."""

from __future__ import annotations

import json
import sqlite3

from click.testing import CliRunner

from supplywatch.cli import cli
from supplywatch.demo import demo_site_root

BOILERPLATE = ("Share on Twitter", "Get The Patch Report in your inbox", "Leave a Reply", "Related articles",
               "Privacy policy", "We use cookies", "sysadmin_dave")


def test_demo_crawls_every_source_cleanly(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Second crawl: 0 new documents (statuses: not_modified)" in result.output
    # The demo classifies what it crawled: the founding example's story is flagged with its evidence.
    flagged = result.output.split("Flagged as supply-chain", 1)[1]
    assert "Quillmail says attackers compromised certificate" in flagged and "evidence:" in flagged
    assert "Expired certificate knocks Brightlane" not in flagged
    digest = (tmp_path / "digest-2021-01-12.txt").read_text("utf-8")
    assert "Quillmail" in digest.split("VULNERABILITIES")[0]  # in the headline section
    assert "re-establish" in digest  # the action asked of customers, extracted from the article
    assert (tmp_path / "digest-2021-01-12.html").exists()

    expected = json.loads((demo_site_root() / "expected.json").read_text("utf-8"))
    conn = sqlite3.connect(tmp_path / "supplywatch-demo.db")
    conn.row_factory = sqlite3.Row
    docs = [dict(r) for r in conn.execute("select * from documents")]
    by_path = {d["url"].split("/", 3)[3]: d for d in docs}

    for article in expected["articles"]:
        doc = by_path[article["url_path"].lstrip("/")]
        assert doc["title"] == article["title"]
        assert doc["published"] == article["published"]
        assert doc["text_source"] == "page", article["url_path"]
        assert len(doc["text"]) > 1500
        for junk in BOILERPLATE:
            assert junk not in doc["text"], (article["url_path"], junk)

    for advisory in expected["advisories"]:
        doc = by_path[advisory["url_path"].lstrip("/")]
        assert doc["kind"] == "advisory" and doc["title"] == advisory["title"]
        assert json.loads(doc["cves"]) == sorted(advisory["cves"])
        assert json.loads(doc["products"]) == advisory["products"]
        assert doc["vendor"] == "Acme Networks"

    csaf = {d["guid"]: d for d in docs if d["kind"] == "csaf"}
    for item in expected["csaf"]:
        doc = csaf[item["id"]]
        assert doc["title"] == item["title"] and doc["vendor"] == item["vendor"]
        assert json.loads(doc["cves"]) == item["cves"]

    assert len(docs) == len(expected["articles"]) + len(expected["advisories"]) + len(expected["csaf"])
    # Stories: the articles are grouped exactly as the site's author grouped them (one story per event,
    # across outlets and follow-ups), and the founding example is one item with three outlets.
    story_of = dict(conn.execute("select document_id, story_id from story_documents").fetchall())
    assert set(story_of) == {d["id"] for d in docs}
    truth: dict[str, set[int]] = {}
    for article in expected["articles"]:
        truth.setdefault(article["story"], set()).add(story_of[by_path[article["url_path"].lstrip("/")]["id"]])
    assert all(len(ids) == 1 for ids in truth.values()), truth  # no story split
    assert len({next(iter(ids)) for ids in truth.values()}) == len(truth)  # no two stories merged
    assert "3 sources: " in digest.split("VULNERABILITIES")[0]
    health = {r["name"]: dict(r) for r in conn.execute("select * from sources")}
    assert {h["last_status"] for h in health.values()} == {"not_modified"}
    assert all(h["consecutive_failures"] == 0 for h in health.values())
    # The RSS 2.0 outlet uses dc:creator without declaring it, like real feeds: a survivable warning.
    (warnings,) = conn.execute("select warnings from fetches where source = 'patchreport' order by id limit 1").fetchone()
    assert "unbound prefix" in warnings
