"""Fourth parties (issue 15) on a real SQLite store through the real CLI: relations from CSV, CycloneDX and CSAF,
propagation with paths, and the paths in the digest, the timeline, search, Atom, STIX and the archive.

The register (tests/fixtures/fourth_parties) is built for the two founding cases: Mimecast's stolen certificate
(Mimecast integrates_with Microsoft 365; Fabrikam Payroll uses Mimecast) and SolarWinds Orion (Acme, Initech and
Hooli use Orion in an affected, an unaffected and an unknown version; Globex uses Acme; we run Orion ourselves).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner

from supplywatch.classifiers import versions
from supplywatch.classifiers.propagation import Graph
from supplywatch.classifiers.suppliers import Matcher
from supplywatch.cli import cli
from supplywatch.reports.archive import metadata
from supplywatch.store import Document, FetchOutcome, Label, Store, vocabulary

from .conftest import shared_path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "fourth_parties"
T = "2021-01-13T06:00:00Z"
DAY = "2021-01-12"
HEADLINE = vocabulary.headline()
ORION_PATH = "Acme → uses → SolarWinds Orion 2020.2.1 (affected versions 2019.4 HF5–2020.2.1 HF1)"

DOCS = [
    Document(source="news", guid="mimecast", title="Mimecast says hackers abused its certificate to access Microsoft accounts",
             text="Mimecast said a sophisticated threat actor stole a certificate. The certificate authenticates "
                  "its products to Microsoft 365 Exchange Web Services. Customers should delete the existing "
                  "connection and re-establish it with a new certificate.",
             url="https://news.example/mimecast", published="2021-01-12T09:00:00Z"),
    Document(source="news", guid="orion", title="SolarWinds Orion backdoored in supply chain attack",
             text="Attackers inserted a backdoor into SolarWinds updates. Orion Platform versions 2019.4 HF5 through "
                  "2020.2.1 HF1 are affected. Customers should upgrade to 2020.2.1 HF2 immediately.",
             url="https://news.example/orion", published="2021-01-12T10:00:00Z"),
    Document(source="news", guid="passing", title="Ransomware gang leaks data of a regional retailer",
             text="The retailer restored its systems from backups over the weekend. It said card data was not "
                  "stored on the servers that were encrypted. Its staff use email and "
                  "calendars on Microsoft 365, like most companies of its size, and nothing suggests Microsoft "
                  "itself had any part in the incident.",
             url="https://news.example/passing", published="2021-01-12T11:00:00Z"),
]


def run(*args: str, ok: bool = True):
    result = CliRunner().invoke(cli, list(args))
    if ok:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> str:
    """The founding register with its relations, three stories of 2021-01-12 (two flagged), clustered."""
    db = str(tmp_path_factory.mktemp("fourth") / "fp.db")
    with Store.open(db) as store:
        store.sync_sources([{"name": "news", "kind": "feed", "url": "https://news.example/feed"}])
        store.save_fetch(DOCS, FetchOutcome("news", "ok", T, T))
        ids = {guid: doc_id for doc_id, guid in store.db.execute("select id, guid from documents")}
        store.save_labels([(ids["mimecast"], [(Label(HEADLINE, 0.96, "a threat actor stole a certificate"), True)]),
                           (ids["orion"], [(Label(HEADLINE, 0.93, "Attackers inserted a backdoor"), True)])], "t", T)
        for doc_id in ids.values():
            store.assign_story(doc_id)
    run("--db", db, "suppliers", "import", str(FIXTURES / "suppliers.csv"))
    run("--db", db, "suppliers", "relations", "import", str(FIXTURES / "relations.csv"))
    return db


def impacts(db: str, guid: str) -> dict[str, tuple[str, int, str]]:
    with Store.open(db) as store:
        (doc_id,) = store.db.execute("select id from documents where guid = ?", [guid]).fetchone()
        rows = store.supplier_impacts_for([doc_id]).get(doc_id, [])
    return {r["party"]: (r["status"], r["hops"], r["path"]) for r in rows}


def test_mimecast_story_affects_mimecast_and_our_tenant_through_it(built):
    found = impacts(built, "mimecast")
    assert found["Mimecast"] == ("affected", 0, "named in the title")
    assert found["Microsoft 365 (your tenant)"] == (
        "affected", 1, "Mimecast → integrates_with → Microsoft 365 (your tenant)")
    # A supplier that uses a Mimecast product the story does not name is reached, possibly: unknown is not "safe".
    assert found["Fabrikam Payroll"] == ("possibly affected", 1, "Fabrikam Payroll → uses → Mimecast Email Security "
                                                                 "(Email Security not named in the story)")
    # Named in the title too, but reached from Mimecast: not compromised itself (our tenant at it is).
    assert found["Microsoft"][0] == "mentioned"


def test_orion_story_affects_by_version(built):
    found = impacts(built, "orion")
    assert found["Acme"] == ("affected", 1, ORION_PATH)
    assert "Initech" not in found  # 2020.2.5: outside the affected versions
    status, hops, path = found["Hooli"]  # no version given: unknown, never "safe"
    assert (status, hops) == ("possibly affected", 1) and "version in use unknown" in path
    assert found["Globex"] == ("affected", 2, "Globex → uses → Acme Cloud → uses → SolarWinds Orion 2020.2.1 "
                                              "(affected versions 2019.4 HF5–2020.2.1 HF1)")
    assert found["you"][:2] == ("affected", 1)  # we run 2019.4 HF5 ourselves
    assert found["you"][2].startswith("You → we_use → SolarWinds Orion 2019.4 HF5")


def test_passing_mention_affects_nobody(built):
    found = impacts(built, "passing")
    assert {party: status for party, (status, _h, _p) in found.items()} == {"Microsoft": "mentioned"}


def test_bad_relation_rows_are_reported_by_line_and_the_rest_kept(built, tmp_path):
    db = str(tmp_path / "again.db")
    shutil.copy(built, db)
    result = run("--db", db, "suppliers", "relations", "import", str(FIXTURES / "relations.csv"))
    lines = [line for line in result.stderr.splitlines() if "(skipped)" in line]
    assert [line.split(": ", 2)[1] for line in lines] == ["line 9", "line 10", "line 11", "line 12"]
    assert "unknown relation 'hosts'" in lines[0] and "no target" in lines[1] and "2020-13-45" in lines[2]
    assert "Imported 0 relations, updated 0, skipped 4 bad rows" in result.stdout
    listed = json.loads(run("--db", db, "suppliers", "relations", "list", "--json").stdout)
    assert len(listed) == 7
    empty = tmp_path / "bad.csv"
    empty.write_text("supplier,relation,target\nAcme,owns,Globex\n", "utf-8")
    bad = run("--db", db, "suppliers", "relations", "import", str(empty), ok=False)
    assert bad.exit_code == 2 and str(empty) in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_cycles_terminate_and_two_hops_at_most():
    suppliers = [{"id": i, "name": n} for i, n in enumerate(["Alpha", "Beta", "Gamma", "Delta"], 1)]
    rel = [("Alpha", "Beta"), ("Beta", "Alpha"), ("Gamma", "Beta"), ("Delta", "Gamma"), ("Beta", "Gamma")]  # cycles
    relations = [{"supplier": s, "relation": "uses", "target": t, "product": "", "versions": "", "source": "x"}
                 for s, t in rel]
    graph = Graph(suppliers, relations)
    doc = {"title": "Beta breached", "text": "Attackers broke into Beta."}
    found = {i["party"]: (i["hops"], i["path"]) for i in graph.impacts(doc, Matcher(suppliers).match(doc))}
    assert found == {"Beta": (0, "named in the title"), "Alpha": (1, "Alpha → uses → Beta"),
                     "Gamma": (1, "Gamma → uses → Beta"), "Delta": (2, "Delta → uses → Gamma → uses → Beta")}
    doc = {"title": "Delta breached", "text": ""}  # nobody depends on Delta
    assert [i["party"] for i in graph.impacts(doc, Matcher(suppliers).match(doc))] == ["Delta"]
    chain = [{"supplier": f"Party{i + 1}", "relation": "uses", "target": f"Party{i}", "product": "", "versions": "",
              "source": "x"} for i in range(5)]  # Party5 uses Party4 ... uses Party0
    doc = {"title": "Party0 breached", "text": ""}
    reached = {i["party"]: i["hops"] for i in Graph([], chain).impacts(doc, [])}
    assert reached == {"Party1": 1, "Party2": 2}  # two hops at most


@pytest.mark.parametrize("used,verdict", [
    ("2020.2.1", True), ("2019.4 HF5", True), ("2019.4 HF 6", True), ("2019.4", False), ("2020.2.1 HF2", False),
    ("2020.2.5", False), ("", None), ("latest", None), ("2019.4 - 2020.2", None), ("2020.2; 2021.1", True)])
def test_tolerant_version_comparison(used, verdict):
    stated = versions.stated_ranges("Orion Platform versions 2019.4 HF5 through 2020.2.1 HF1 are affected.")
    assert versions.verdict(used, stated) is verdict


@pytest.mark.parametrize("spec", ["1.4", "1.5", "1.6"])
def test_cyclonedx_sbom_becomes_relations(built, tmp_path, spec):
    db = str(tmp_path / "sbom.db")
    shutil.copy(built, db)
    bom = json.loads((FIXTURES / "acme-gateway.cdx.json").read_text("utf-8"))
    bom["specVersion"] = spec
    path = tmp_path / "acme-gateway.cdx.json"
    path.write_text(json.dumps(bom), "utf-8")
    result = run("--db", db, "suppliers", "relations", "sbom", str(path), "--supplier", "acme corp")  # an alias
    assert "Imported 4 relations" in result.stdout
    unknown = run("--db", db, "suppliers", "relations", "sbom", str(path), "--supplier", "Acne", ok=False)
    assert unknown.exit_code == 2 and "did you mean Acme?" in unknown.stderr
    listed = json.loads(run("--db", db, "suppliers", "relations", "list", "--party", "Acme", "--json").stdout)
    got = {(r["relation"], r["target"], r["product"], r["versions"]): r["source"] for r in listed
           if r["supplier"] == "Acme" and r["as_of"] == "2024-03-01"}
    src = f"acme-gateway.cdx.json (CycloneDX {spec}"
    assert got == {
        ("component_of", "Apache Software Foundation", "log4j-core", "2.14.1"): f"{src}, direct)",
        ("component_of", "OpenSSL Software Foundation", "openssl", "3.0.1"): f"{src}, direct)",
        ("component_of", "zlib", "zlib", "1.2.11"): f"{src}, transitive)",
        ("uses", "Microsoft", "Microsoft 365", ""): f"{src})",
    }


@pytest.mark.parametrize("name,content,why", [
    ("broken.cdx.json", '{"bomFormat": "CycloneDX", ', "invalid JSON"),
    ("spdx.json", '{"spdxVersion": "SPDX-2.3"}', "bomFormat"),
    ("old.cdx.json", '{"bomFormat": "CycloneDX", "specVersion": "1.2"}', "specVersion '1.2'"),
    ("comps.cdx.json", '{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": {"name": "x"}}', "not a list"),
    ("noname.cdx.json", '{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{"version": "1"}]}', "no name"),
    ("bad.csaf.json", '{"document": {}, "product_tree": {"branches": {"name": "x"}}}', "not a list"),
    ("notree.csaf.json", '{"document": {"title": "x"}}', "product_tree"),
])
def test_malformed_sbom_or_csaf_is_one_line_naming_the_file(built, tmp_path, name, content, why):
    path = tmp_path / name
    path.write_text(content, "utf-8")
    args = ["csaf", str(path)] if "csaf" in name else ["sbom", str(path), "--supplier", "Acme"]
    result = run("--db", built, "suppliers", "relations", *args, ok=False)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"Error: {path}: ") and why in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_csaf_product_tree_adds_products_to_known_vendors(built, tmp_path):
    db = str(tmp_path / "csaf.db")
    shutil.copy(built, db)
    csv_path = tmp_path / "sw.csv"
    csv_path.write_text("name,aliases,domains,products,tier,owner\nSolarWinds,,,,2,ops\nCyberPower,,,,3,ops\n", "utf-8")
    run("--db", db, "suppliers", "import", str(csv_path))
    result = run("--db", db, "suppliers", "relations", "csaf", str(FIXTURES / "orion.csaf.json"))
    assert "SolarWinds: Orion Platform (2019.4 HF5, 2020.2, 2020.2.1 HF1)" in result.stdout
    real = shared_path("corpus", "feeds", "cisa_csaf", "icsa-24-123-01.json")
    result = run("--db", db, "suppliers", "relations", "csaf", str(real))
    assert "CyberPower: PowerPanel Business (<=4.9.0)" in result.stdout
    with Store.open(db) as store:
        assert "Orion Platform" in store.supplier("SolarWinds")["products"]
        assert "PowerPanel Business" in store.supplier("CyberPower")["products"]


def test_paths_everywhere_the_user_looks(built, tmp_path):
    digest = run("--db", built, "digest", "--date", DAY).stdout
    assert f"affected: Acme — {ORION_PATH}" in digest
    assert "affected: Microsoft 365 (your tenant) — Mimecast → integrates_with → Microsoft 365 (your tenant)" in digest
    assert "possibly affected: Hooli — Hooli → uses → SolarWinds Orion" in digest and "Initech" not in digest
    html_dir = tmp_path / "out"
    run("--db", built, "digest", "--date", DAY, "--out", str(html_dir))
    html = next(html_dir.glob("*.html")).read_text("utf-8")
    assert "Mimecast → integrates_with → Microsoft 365 (your tenant)" in html

    timeline = run("--db", built, "supplier", "Globex").stdout
    assert "SolarWinds Orion backdoored" in timeline and "affected: Globex → uses → Acme Cloud → uses →" in timeline
    as_json = json.loads(run("--db", built, "supplier", "Microsoft", "--json").stdout)
    assert [s["impact"] for s in as_json["stories"]][:1] == ["affected"]

    hits = run("--db", built, "search", "backdoor", "--supplier", "Acme").stdout
    assert "SolarWinds Orion backdoored" in hits and f"affected: {ORION_PATH}" in hits
    assert "No matches." in run("--db", built, "search", "backdoor", "--supplier", "Initech").stdout
    table = list(csv.DictReader(io.StringIO(run("--db", built, "search", "backdoor", "--supplier", "Acme", "--csv").stdout)))
    assert [r["impact"] for r in table if "SolarWinds Orion backdoored" in r["title"]] == [f"affected: {ORION_PATH}"]

    feed = tmp_path / "alerts.xml"
    run("--db", built, "feed", "--out", str(feed), "--supplier", "Globex")
    entries = ElementTree.parse(feed).getroot().findall("{http://www.w3.org/2005/Atom}entry")
    assert len(entries) == 1
    summary = entries[0].find("{http://www.w3.org/2005/Atom}summary").text
    assert f"Affected: Acme ({ORION_PATH})." in summary

    bundle_path = tmp_path / "bundle.json"
    run("--db", built, "stix", "--out", str(bundle_path))
    objects = {o["id"]: o for o in json.loads(bundle_path.read_text("utf-8"))["objects"]}
    names = {o["id"]: o.get("name") for o in objects.values()}
    edges = {(names[o["source_ref"]], o["relationship_type"], names[o["target_ref"]])
             for o in objects.values() if o["type"] == "relationship"}
    assert {("Acme", "uses", "SolarWinds"), ("Globex", "uses", "Acme"), ("Mimecast", "integrates-with", "Microsoft"),
            ("Our organisation", "uses", "SolarWinds")} <= edges
    reports = [o for o in objects.values() if o["type"] == "report"]
    assert all(ref in objects for r in reports for ref in r["object_refs"])
    orion = next(r for r in reports if r["name"].startswith("SolarWinds Orion"))
    assert any(objects[ref]["type"] == "relationship" for ref in orion["object_refs"])

    with Store.open(built) as store:
        meta = metadata(set(store.db.table_names()))["databases"]
    tables = next(iter(meta.values()))["tables"]
    assert "status" in tables["supplier_impacts"]["facets"]


def test_removing_a_relation_removes_its_paths(built, tmp_path):
    db = str(tmp_path / "rm.db")
    shutil.copy(built, db)
    listed = json.loads(run("--db", db, "suppliers", "relations", "list", "--party", "Acme", "--json").stdout)
    (acme_orion,) = [r["id"] for r in listed if r["supplier"] == "Acme" and r["target"] == "SolarWinds"]
    assert "Removed relation" in run("--db", db, "suppliers", "relations", "remove", str(acme_orion)).stdout
    found = impacts(db, "orion")
    assert "Acme" not in found and "Globex" not in found and "Hooli" in found
    assert run("--db", db, "suppliers", "relations", "remove", "9999", ok=False).exit_code == 2


def _graph_impacts(relations, doc, suppliers=()):
    suppliers = list(suppliers)
    rows = [{"supplier": s, "relation": r, "target": t, "product": p, "versions": v, "source": src}
            for s, r, t, p, v, src in relations]
    graph = Graph(suppliers, rows)
    return {i["party"]: (i["status"], i["path"]) for i in graph.impacts(doc, Matcher(suppliers).match(doc))}


def test_unconfirmed_relation_and_lead_only_stories_are_possibly_affected():
    rels = [("Northwind", "uses", "Contoso", "", "", ""), ("Tailspin", "subprocessor", "Contoso", "", "", "DPA")]
    found = _graph_impacts(rels, {"title": "Contoso breached", "text": ""})
    assert found["Northwind"] == ("possibly affected", "Northwind → uses → Contoso (unconfirmed relation)")
    assert found["Tailspin"] == ("affected", "Tailspin → subprocessor → Contoso")
    # The title names no party: the lead's is the compromised one, possibly.
    found = _graph_impacts(rels, {"title": "Data stolen at a cloud provider",
                                  "text": "Contoso said attackers copied customer files. More soon."})
    assert found["Tailspin"][0] == "possibly affected" and "named in the lead" in found["Tailspin"][1]
    # Named only further down: nobody is affected.
    assert _graph_impacts(rels, {"title": "Data stolen at a cloud provider",
                                 "text": "Attackers copied files. Nobody knows more. Contoso was not involved."}) == {}


def test_archive_facets_impacts_by_status_and_lists_affected_suppliers(built):
    import asyncio

    from supplywatch.reports.archive import DB_NAME, build

    async def get(path: str) -> dict:
        response = await build(built).client.get(path)
        assert response.status_code == 200, response.text
        return response.json()

    table = asyncio.run(get(f"/{DB_NAME}/supplier_impacts.json"))
    facets = {r["value"]: r["count"] for r in table["facet_results"]["status"]["results"]}
    assert facets == {"affected": 5, "possibly affected": 2, "mentioned": 2}
    rows = asyncio.run(get(f"/{DB_NAME}/affected_suppliers.json?status=possibly+affected&_shape=array"))
    assert {r["party"] for r in rows} >= {"Hooli", "Fabrikam Payroll"}
    assert all(r["status"] == "possibly affected" and r["path"] for r in rows)


def test_a_recipient_following_a_supplier_gets_the_stories_reaching_it(built):
    from supplywatch.reports import mail
    from supplywatch.reports.digest import build_digest

    with Store.open(built) as store:
        digest = build_digest(store, DAY)
    globex = mail.for_recipient(digest, mail.Recipient("g@example.com", suppliers=["Globex"]))
    assert [i.title for i in globex.suppliers.items] == ["SolarWinds Orion backdoored in supply chain attack"]
    # The Mimecast story goes back to the headline section for them, without the paths of others' suppliers.
    back = [i for i in globex.headline.items if i.title.startswith("Mimecast")]
    assert len(back) == 1 and back[0].impacts == []


def test_migration_7_rematches_an_archive_matched_before_it(built, tmp_path):
    """A store matched under schema 6 gets the new tables, and its documents are due again, so they get impacts."""
    db = str(tmp_path / "v6.db")
    shutil.copy(built, db)
    with Store.open(db) as store:  # back to what schema 6 had: no relation tables, matched at the current version
        store.db.execute("drop table supplier_relations")
        store.db.execute("drop table supplier_impacts")
        for later in ("drop trigger search_changes_i", "drop trigger search_changes_u", "drop trigger search_changes_d",
                      "drop table search_changes",  # migration 8 (the search side index's log) runs again too
                      "drop table incident_members", "drop table incidents",  # and 9 (incident records)
                      "alter table corrections drop column evidence"):
            store.db.execute(later)
        store.db.execute("PRAGMA user_version = 6")
        store.db.conn.commit()
        before = store.register_version()
    with Store.open(db) as store:
        assert store.register_version() == before + 1 and store.relations() == []
        assert store.db.execute("select count(*) from supplier_matches").fetchone()[0] > 0  # nothing lost
    run("--db", db, "suppliers", "match")
    assert impacts(db, "mimecast")["Mimecast"] == ("affected", 0, "named in the title")
