"""Exports of flagged stories: the Atom feed (`supplywatch feed`) and the STIX 2.1 bundle (`supplywatch stix`).

A real store is seeded with documents, labels, stories and a supplier register; the feed is parsed
with feedparser and xml.etree, the bundle checked against STIX 2.1's rules for ids, timestamps and refs.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
from click.testing import CliRunner

from supplywatch.cli import cli
from supplywatch.reports.exports import feed_data, stix_bundle
from supplywatch.store import Document, FetchOutcome, Label, Store

T = "2021-01-13T06:00:00Z"
HEADLINE = "supply_chain_cert_compromise"
EVIL = "<script>window.__pwned=1</script> Evil"
HOSTILE = "<script>alert(1)</script> ]]> <![CDATA[ x ]]> \x00\x01\x08\x0b\x0c\x1b\x7f\x85 \ufffe bad & worse"
ATOM = "{http://www.w3.org/2005/Atom}"
STIX_ID = re.compile(r"^[a-z][a-z0-9-]+--[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
STIX_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def seed(db: str | Path, *, suppliers: bool = True) -> dict[str, int]:
    """A store with two flagged stories (one recent, about Acme; one old and hostile) and one unflagged one.

    Returns document ids by guid, and story ids as ``story:<guid of its first document>``.
    """
    now = datetime.now(UTC)
    recent, later = _iso(now - timedelta(days=2)), _iso(now - timedelta(days=1))
    docs = [
        Document(source="wire", guid="k", title="Acme code-signing certificate stolen, malware signed with it",
                 text="Attackers stole the code-signing certificate of Acme. Customers should revoke trust in it.",
                 url="https://wire.example/acme-cert", vendor="Acme", cves=["CVE-2024-12345"], published=recent),
        Document(source="psirt", guid="k2", title="Acme revokes its stolen signing certificate",
                 text="Acme revoked the certificate and re-signed its installers.", url="https://psirt.example/acme",
                 vendor="Acme", published=later, text_source="feed"),  # its feed entry only (issue 16's marker)
        Document(source="wire", guid="evil", title=EVIL, text="A worm spreads through unpatched routers.",
                 url="javascript:window.__pwned=1", published="2021-01-12T10:00:00Z", vendor=HOSTILE),
        Document(source="wire", guid="plain", title="Quarterly results of a router maker",
                 text="Revenue grew by four percent.", url="https://wire.example/results", published="2021-01-11T10:00:00Z"),
    ]
    with Store.open(db) as store:
        store.sync_sources([{"name": "wire", "kind": "rss", "url": "https://wire.example/feed"},
                            {"name": "psirt", "kind": "rss", "url": "https://psirt.example/feed", "vendor": "Acme"}])
        store.save_fetch([d for d in docs if d.source == "wire"], FetchOutcome("wire", "ok", T, T))
        store.save_fetch([d for d in docs if d.source == "psirt"], FetchOutcome("psirt", "ok", T, T))
        ids = {guid: doc_id for doc_id, guid in store.db.execute("select id, guid from documents")}
        store.save_labels([
            (ids["k"], [(Label(HEADLINE, 0.95, "Attackers stole the code-signing certificate of Acme."), True),
                        (Label("malware", 0.71, "malware signed with it"), True)]),
            (ids["k2"], [(Label(HEADLINE, 0.88, "Acme revoked the certificate."), True)]),
            (ids["evil"], [(Label("malware", 0.8, HOSTILE), True)]),
            (ids["plain"], [(Label(HEADLINE, 0.02, ""), False)]),
        ], "test-model", T)
        ids["story:k"] = store.assign_story(ids["k"])
        store.assign_story(ids["k2"], ids["story:k"], similarity=0.9, reason="embedding")
        ids["story:evil"] = store.assign_story(ids["evil"])
        ids["story:plain"] = store.assign_story(ids["plain"])
        if suppliers:
            store.import_suppliers([{"name": "Acme Corp", "aliases": ["Acme"]}, {"name": "Globex"}])
            acme = store.supplier("Acme Corp")["id"]
            hashes = dict(store.db.execute("select id, content_hash from documents"))
            store.save_supplier_matches(
                [(ids["k"], hashes[ids["k"]], [{"supplier_id": acme, "role": "subject", "field": "title", "term": "Acme"}])],
                store.register_version())
    return ids


def _invoke(db: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", db, *args])
    assert result.exit_code == 0, result.output
    return result.output


# -- Atom -----------------------------------------------------------------------------------------


def test_feed_is_valid_atom_with_one_entry_per_flagged_story(db_path: str, tmp_path: Path) -> None:
    ids = seed(db_path)
    out = tmp_path / "alerts.xml"
    assert "2 stories" in _invoke(db_path, "feed", "--out", str(out))
    raw = out.read_bytes()
    assert raw.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    parsed = feedparser.parse(raw)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    root = ET.fromstring(raw)
    assert root.tag == f"{ATOM}feed"
    entries = parsed.entries
    assert [e.id for e in entries] == [f"tag:supplywatch,2024:story/{ids['story:k']}",
                                       f"tag:supplywatch,2024:story/{ids['story:evil']}"]
    acme = entries[0]
    # The best document is the highest-scoring one; the follow-up is a related link.
    assert acme.title == "Acme code-signing certificate stolen, malware signed with it"
    assert acme.link == "https://wire.example/acme-cert"
    assert "https://psirt.example/acme" in [link.href for link in acme.links]
    assert "Attackers stole the code-signing certificate of Acme." in acme.summary
    assert "wire, psirt" in acme.summary and "Acme Corp" in acme.summary
    assert [(t.term, t.label) for t in acme.tags] == [(HEADLINE, f"{HEADLINE} 0.95"), ("malware", "malware 0.71")]
    assert acme.updated_parsed[:3] == (datetime.now(UTC) - timedelta(days=1)).timetuple()[:3]
    # The hostile story: its title is text, its javascript: URL is no link.
    evil = entries[1]
    assert evil.title == EVIL
    assert not any(link.href.startswith("javascript") for link in evil.get("links", []))
    assert b"<script>" not in raw and b"&lt;script&gt;" in raw


def test_feed_ids_are_stable_across_exports(db_path: str, tmp_path: Path) -> None:
    seed(db_path)
    first = feedparser.parse(_invoke(db_path, "feed"))
    second = feedparser.parse(_invoke(db_path, "feed"))
    assert [e.id for e in first.entries] == [e.id for e in second.entries]
    assert [e.updated for e in first.entries] == [e.updated for e in second.entries]


def test_feed_filters(db_path: str) -> None:
    ids = seed(db_path)
    only_label = feedparser.parse(_invoke(db_path, "feed", "--label", HEADLINE))
    assert [e.id for e in only_label.entries] == [f"tag:supplywatch,2024:story/{ids['story:k']}"]
    recent = feedparser.parse(_invoke(db_path, "feed", "--days", "30"))
    assert len(recent.entries) == 1
    for name in ("Acme Corp", "acme"):  # name or alias, any case
        assert len(feedparser.parse(_invoke(db_path, "feed", "--supplier", name)).entries) == 1
    assert feedparser.parse(_invoke(db_path, "feed", "--supplier", "Globex")).entries == []
    result = CliRunner().invoke(cli, ["--db", db_path, "feed", "--supplier", "Initech"])
    assert result.exit_code != 0 and result.output.strip() == "Error: no supplier named 'Initech'"


def test_feed_supplier_without_register_is_one_line_error(db_path: str) -> None:
    seed(db_path, suppliers=False)
    result = CliRunner().invoke(cli, ["--db", db_path, "feed", "--supplier", "Acme"])
    assert result.exit_code != 0
    assert result.output.strip() == "Error: no supplier register yet"


def test_hostile_strings_make_a_well_formed_feed() -> None:
    story = {"id": 7, "title": HOSTILE, "first_published": "2021-01-12T10:00:00Z", "last_published": "2021-01-12",
             "members": [{"id": 1, "title": HOSTILE, "url": f"https://x.example/?q={HOSTILE}", "canonical_url": None,
                          "source": HOSTILE, "vendor": "", "published": None, "cves": "[]"}],
             "labels": [{"label": "malware", "score": 0.5, "evidence": HOSTILE, "document_id": 1}],
             "suppliers": [{"id": 1, "name": HOSTILE, "role": "subject"}]}
    from supplywatch.reports.render import environment

    xml = environment().get_template("alerts.atom.xml").render(feed=feed_data([story], title=HOSTILE, subtitle="s"))
    root = ET.fromstring(xml.lstrip().encode("utf-8"))
    parsed = feedparser.parse(xml.lstrip().encode("utf-8"))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    title = root.find(f"{ATOM}entry/{ATOM}title").text
    assert "<script>alert(1)</script> ]]> <![CDATA[ x ]]>" in title and "bad & worse" in title
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe]", xml)
    assert root.find(f"{ATOM}entry/{ATOM}link") is None  # the URL had whitespace and controls: no link


# -- STIX 2.1 -------------------------------------------------------------------------------------


def _check_bundle(bundle: dict) -> dict[str, dict]:
    assert bundle["type"] == "bundle" and STIX_ID.match(bundle["id"]) and bundle["id"].startswith("bundle--")
    objects = {o["id"]: o for o in bundle["objects"]}
    assert len(objects) == len(bundle["objects"]), "duplicate ids"
    for obj in bundle["objects"]:
        assert obj["spec_version"] == "2.1"
        assert STIX_ID.match(obj["id"]) and obj["id"].startswith(obj["type"] + "--"), obj["id"]
        assert STIX_TIME.match(obj["created"]) and STIX_TIME.match(obj["modified"]), obj
        assert obj["modified"] >= obj["created"]
        for ref in [*obj.get("object_refs", []), *([obj["created_by_ref"]] if "created_by_ref" in obj else [])]:
            assert ref in objects, f"{obj['id']} refers to {ref}, not in the bundle"
        if obj["type"] == "report":
            assert obj["object_refs"] and obj["name"] and STIX_TIME.match(obj["published"])
    return objects


def test_stix_bundle_structure(db_path: str, tmp_path: Path) -> None:
    seed(db_path)
    out = tmp_path / "bundle.json"
    assert "2 reports" in _invoke(db_path, "stix", "--out", str(out))
    bundle = json.loads(out.read_text("utf-8"))
    objects = _check_bundle(bundle)
    reports = [o for o in bundle["objects"] if o["type"] == "report"]
    acme = reports[0]
    assert acme["name"] == "Acme code-signing certificate stolen, malware signed with it"
    assert acme["labels"] == [HEADLINE, "malware"]
    assert "Attackers stole the code-signing certificate of Acme." in acme["description"]
    assert [r["url"] for r in acme["external_references"]] == ["https://wire.example/acme-cert", "https://psirt.example/acme"]
    referred = [objects[ref] for ref in acme["object_refs"]]
    assert [(o["type"], o["name"]) for o in referred] == [("identity", "Acme Corp"), ("vulnerability", "CVE-2024-12345")]
    # The hostile story has no supplier match: the documents' vendor field names its identity; no javascript: URL.
    evil = reports[1]
    assert evil["name"] == EVIL and evil["external_references"] == []
    assert [objects[ref]["name"] for ref in evil["object_refs"]] == [HOSTILE]


def test_stix_export_is_idempotent(db_path: str) -> None:
    seed(db_path)
    assert _invoke(db_path, "stix") == _invoke(db_path, "stix")


def test_stix_without_suppliers_uses_vendor_then_sources() -> None:
    story = {"id": 3, "title": "t", "first_published": "2021-01-12T10:00:00Z", "last_published": "2021-01-12T11:00:00Z",
             "created_at": "2021-01-13T06:00:00Z", "updated_at": "2021-01-13T07:00:00Z",
             "members": [{"id": 1, "title": "t", "url": "https://a.example/1", "canonical_url": None, "source": "wire",
                          "vendor": "", "published": None, "cves": None}],
             "labels": [], "suppliers": []}
    objects = _check_bundle(stix_bundle([story]))
    report = next(o for o in objects.values() if o["type"] == "report")
    assert [objects[r]["name"] for r in report["object_refs"]] == ["wire"]
    assert report["created"] == "2021-01-13T06:00:00Z" and report["modified"] == "2021-01-13T07:00:00Z"
