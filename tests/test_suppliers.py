"""The supplier register on a real SQLite store: CSV import, matching, re-matching, timeline, digest section, CLI.

Documents are stored with ``save_fetch`` and labels with ``save_labels`` (no classifier model needed).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from supplywatch import config as configuration
from supplywatch.classifiers.register import parse_csv
from supplywatch.classifiers.suppliers import Matcher, hosts, lead_length, normalize_domain
from supplywatch.cli import cli, exit_code
from supplywatch.pipeline import make_pipeline
from supplywatch.reports import mail
from supplywatch.reports.digest import SUPPLIERS, build_digest
from supplywatch.reports.render import render_digest
from supplywatch.reports.timeline import build_timeline, render_timeline_html
from supplywatch.store import Document, FetchOutcome, InputError, Label, StorageError, Store

T = "2021-01-13T06:00:00Z"


def import_suppliers(db: str, path: str, **kw):
    with make_pipeline(lambda: configuration.load(None, env={}), db, create=False) as pipeline:
        return pipeline.import_suppliers(path, **kw)


def match_suppliers(db: str) -> dict:
    with make_pipeline(lambda: configuration.load(None, env={}), db, create=False) as pipeline:
        return pipeline.match_suppliers().as_dict()

DAY = "2021-01-12"
HEADER = "name,aliases,domains,products,tier,owner\n"
REGISTER = HEADER + (
    "Acme,Acme Corp,acme.example,Gateway Pro,1,alice\n"
    "Quillmail,Quill Mail,quillmail.example,,1,bob\n"
    "Kestrel Plastics,,,,3,\n"
)


def run_cli(*args: str):
    return CliRunner().invoke(cli, list(args))


def _doc(guid: str, title: str, text: str = "", *, url: str = "", published: str = "2021-01-12T10:00:00Z",
         source: str = "news") -> Document:
    return Document(source=source, guid=guid, title=title, text=text,
                    url=url or f"https://news.example/{guid}", published=published)


DOCS = [
    _doc("q1", "Quillmail certificate stolen", "Attackers stole the certificate. Customers must act now.",
         published="2021-01-12T14:00:00Z"),
    _doc("q2", "Certificate theft at an archiving vendor",
         "Quill Mail’s customers are told to re-create the connection. It happened on Monday. "
         "Acme said it was not affected.", published="2021-01-12T15:00:00Z"),
    _doc("v1", "Acmeville council budget", "The town of Acmeville approved road repairs.",
         published="2021-01-12T08:00:00Z"),
    _doc("a1", "Remote code execution in a gateway appliance",
         "A flaw was fixed. Details follow. " + "Filler sentence here. " * 20 + "The vendor's Gateway Pro is affected.",
         published="2021-01-11T09:00:00Z"),
    _doc("l1", "Status page outage", "See https://status.acme.example/incidents/1 for details.",
         published="2021-01-12T12:00:00Z"),
    _doc("n1", "Unrelated news", "Nothing about anyone. Visit https://notacme.example/.", published="2021-01-12T11:00:00Z"),
]


def seed(db: str, docs: list[Document] = DOCS) -> dict[str, int]:
    with Store.open(db) as store:
        store.sync_sources([{"name": "news", "kind": "feed", "url": "https://news.example/rss"}])
        store.save_fetch(docs, FetchOutcome("news", "ok", T, T))
        return {guid: i for i, guid in store.db.execute("select id, guid from documents")}


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "s.db")
    seed(path)
    return path


@pytest.fixture
def register(tmp_path: Path) -> Path:
    path = tmp_path / "suppliers.csv"
    path.write_text(REGISTER, "utf-8")
    return path


def matches(db: str) -> dict[tuple[str, str], tuple[str, str, str]]:
    with Store.open(db) as store:
        rows = store.db.execute(
            "select d.guid, s.name, m.role, m.field, m.term from supplier_matches m "
            "join documents d on d.id = m.document_id join suppliers s on s.id = m.supplier_id").fetchall()
    return {(g, n): (r, f, t) for g, n, r, f, t in rows}


# -- schema ----------------------------------------------------------------------------------


def test_schema_v4_tables_and_index(tmp_path):
    with Store.open(tmp_path / "x.db") as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] >= 4  # v5, v6 came later
        assert {"suppliers", "supplier_matches", "supplier_register", "supplier_match_state"} <= set(store.db.table_names())
        assert store.db["supplier_matches"].pks == ["document_id", "supplier_id"]
        assert any(i.columns == ["supplier_id"] for i in store.db["supplier_matches"].indexes)
        assert store.register_version() == 0


def test_a_v3_database_migrates_and_its_documents_get_matched(tmp_path, register):
    import sqlite_utils

    from supplywatch.store import schema

    path = tmp_path / "v3.db"
    old = sqlite_utils.Database(str(path))
    for version, migration in enumerate(schema.MIGRATIONS[:3], start=1):
        migration(old)
        old.execute(f"PRAGMA user_version = {version}")
    old.close()
    seed(str(path))  # opening migrates to v4
    import_suppliers(str(path), str(register))
    assert ("q1", "Quillmail") in matches(str(path))


# -- CSV import -------------------------------------------------------------------------------


def test_csv_bad_rows_are_reported_by_line_and_the_rest_imported(tmp_path, db):
    path = tmp_path / "r.csv"
    path.write_bytes((HEADER + "Acme,,acme.example,,1,alice\n"
                      ",orphan alias,,,,\n"
                      "Short,row\n"
                      "   ,,,,,\n").encode() + b"Bad\xff,,,,,\n" + b"Good,,good.example,,2,\n"
                     + b"Nodomain,,not a domain!,,,\n")
    parsed = parse_csv(path)
    assert [r["name"] for r in parsed.rows] == ["Acme", "Good"]
    assert parsed.problems == ["line 3: no name", "line 4: 2 columns, expected 6", "line 5: no name",
                               "line 6: not valid UTF-8", "line 8: not a domain name: not a domain!"]
    result = run_cli("--db", db, "suppliers", "import", str(path))
    assert result.exit_code == 0, result.output
    assert f"{path}: line 6: not valid UTF-8 (skipped)" in result.stderr
    assert "Imported 2 suppliers, merged 0 into existing ones, skipped 5 bad rows" in result.stdout


@pytest.mark.parametrize("content,why", [
    (b"Acme,acme.example\n", "bad header"),
    (b"", "no header"),
    (b"\xff\xfe,\n", "no header"),
    (HEADER.encode() + b",x,,,,\nonly,two\n", "no valid supplier rows (2 bad rows, first: line 2: no name)"),
    (HEADER.encode(), "no valid supplier rows"),
])
def test_csv_without_header_or_valid_row_is_one_line_exit_2(tmp_path, db, content, why):
    path = tmp_path / "r.csv"
    path.write_bytes(content)
    result = run_cli("--db", db, "suppliers", "import", str(path))
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: ") and why in result.output
    assert result.stderr.count("\n") == 1 or "line 3" in result.stderr  # the bad rows, then one error line
    assert result.stderr.strip().splitlines()[-1].startswith("Error: ")


def test_missing_csv_is_exit_2(tmp_path, db):
    result = run_cli("--db", db, "suppliers", "import", str(tmp_path / "nope.csv"))
    assert result.exit_code == 2 and "cannot read" in result.output and result.output.count("\n") == 1


def test_duplicates_are_merged_case_insensitively(tmp_path, db):
    path = tmp_path / "r.csv"
    path.write_text(HEADER + "Acme,Acme Corp,acme.example,Gateway,1,alice\n"
                             "ACME,acme corp;AcmeCo,https://www.acme-cdn.example/x,Widget,2,\n", "utf-8")
    assert import_suppliers(db, str(path))["imported"] == 1
    again = tmp_path / "r2.csv"
    again.write_text(HEADER + "acme,,acme.example,,,carol\n", "utf-8")
    counts = import_suppliers(db, str(again))
    assert (counts["imported"], counts["merged"], counts["changed"]) == (0, 1, 1)
    with Store.open(db) as store:
        (acme,) = store.suppliers()
    assert acme["name"] == "Acme"  # the first spelling stays
    assert acme["aliases"] == ["Acme Corp", "AcmeCo"]
    assert acme["domains"] == ["acme.example", "acme-cdn.example"]
    assert acme["products"] == ["Gateway", "Widget"]
    assert (acme["tier"], acme["owner"]) == ("2", "carol")  # later tier and owner win; empty ones do not erase


def test_import_of_nothing_new_keeps_the_register_version(db, register):
    import_suppliers(db, str(register))
    with Store.open(db) as store:
        version = store.register_version()
    assert import_suppliers(db, str(register))["matched"]["documents"] == 0
    with Store.open(db) as store:
        assert store.register_version() == version


def test_empty_name_is_refused_by_the_store(db):
    with Store.open(db) as store, pytest.raises(InputError, match="needs a name"):
        store.import_suppliers([{"name": "  "}])


# -- matching ---------------------------------------------------------------------------------


def _matcher(*suppliers: dict) -> Matcher:
    return Matcher([{"id": i + 1, "aliases": [], "domains": [], "products": [], **s} for i, s in enumerate(suppliers)])


def test_whole_words_case_and_possessives():
    m = _matcher({"name": "Acme"}, {"name": "Mimecast"}, {"name": "Palo Alto Networks"}, {"name": "AT&T"})

    def found(title: str) -> list[int]:
        return [x.supplier_id for x in m.match({"title": title})]

    assert found("Acmeville council") == [] and found("AcmeCorp hit") == [] and found("TheAcme") == []
    assert found("ACME hit by ransomware") == [1] and found("acme.") == [1] and found("(Acme)") == [1]
    assert found("Mimecast's certificate") == [2] and found("Mimecast’s certificate") == [2]
    assert found("MIMECASTS certificate") == []
    assert found("Palo  Alto\nNetworks patches") == [3] and found("Palo Alto") == []
    assert found("AT&T outage") == [4] and found("BAT&T") == []
    moodys = _matcher({"name": "Moody’s"}, {"name": "O'Reilly Media"})
    assert [x.term for x in moodys.match({"title": "Moody's and O’Reilly  media hit"})] == ["Moody’s", "O'Reilly Media"]


def test_fields_and_roles():
    m = _matcher({"name": "Acme", "products": ["Gateway Pro"]}, {"name": "Quillmail", "aliases": ["Quill Mail"]},
                 {"name": "Kestrel", "domains": ["kestrel.example"]})
    text = "Quill Mail said so. Second sentence. Third names Acme. " + "Filler. " * 50 + "Gateway Pro too."
    got = {x.supplier_id: x for x in m.match({"title": "Nothing here", "text": text})}
    assert (got[2].role, got[2].field, got[2].term) == ("subject", "lead", "Quill Mail")
    assert (got[1].role, got[1].field, got[1].term) == ("mentioned", "text", "Acme")
    assert 3 not in got
    got = {x.supplier_id: x for x in m.match({"title": "Acme Gateway Pro flaw", "text": "Gateway Pro is bad.",
                                               "url": "https://kestrel.example/advisory"})}
    assert (got[1].role, got[1].field, got[1].term) == ("subject", "title", "Acme")
    assert (got[3].role, got[3].field, got[3].term) == ("mentioned", "link", "kestrel.example")


def test_lead_is_two_sentences_at_most_300_characters():
    assert lead_length("one. two. three.") == len("one. two. ")
    assert lead_length("x" * 1000) == 300
    assert lead_length("short") == 5


def test_domains_match_host_and_subdomains_only():
    m = _matcher({"name": "Zz Corp", "domains": ["acme.example"]})
    for url, hit in [("https://acme.example/x", True), ("https://status.acme.example/", True),
                     ("https://ACME.example./", True), ("https://notacme.example/", False),
                     ("https://acme.example.evil.test/", False), ("https://user@acme.example:8443/", True)]:
        assert bool(m.match({"title": "t", "url": url})) is hit, url
    assert m.match({"title": "t", "text": "read http://www.acme.example/blog now"})[0].field == "link"
    assert m.match({"title": "t", "canonical_url": "https://docs.acme.example/a"})
    assert hosts({"url": "http://[::1", "text": "https://a.example/x"}) == ["a.example"]
    assert normalize_domain("https://www.Acme.example/path") == "acme.example"
    assert normalize_domain("not a domain!") == "" and normalize_domain("localhost") == ""


def test_store_matching_end_to_end(db, register):
    result = run_cli("--db", db, "suppliers", "import", str(register))
    assert result.exit_code == 0, result.output
    assert "Imported 3 suppliers, merged 0 into existing ones; matched 6 documents" in result.output
    got = matches(db)
    assert got[("q1", "Quillmail")] == ("subject", "title", "Quillmail")
    assert got[("q2", "Quillmail")] == ("subject", "lead", "Quill Mail")
    assert got[("q2", "Acme")] == ("mentioned", "text", "Acme")
    assert got[("a1", "Acme")] == ("mentioned", "text", "Gateway Pro")
    assert got[("l1", "Acme")] == ("mentioned", "link", "acme.example")
    assert not any(g in ("v1", "n1") for g, _ in got)  # Acmeville; notacme.example
    assert not any(n == "Kestrel Plastics" for _, n in got)


def test_new_and_edited_documents_and_register_changes_are_matched(db, register):
    import_suppliers(db, str(register))
    assert match_suppliers(db)["documents"] == 0  # nothing is due: nothing is matched twice
    seed(db, [_doc("k1", "Kestrel Plastics halts production")])
    result = run_cli("--db", db, "suppliers", "match")
    assert result.stdout == "Matched 1 documents against 3 suppliers: 1 matches.\n"
    assert match_suppliers(db)["documents"] == 0
    assert ("k1", "Kestrel Plastics") in matches(db)
    # An edited document is matched again.
    with Store.open(db) as store:
        store.save_fetch([_doc("k1", "Production halted at a plastics maker")], FetchOutcome("news", "ok", T, T))
    assert match_suppliers(db)["documents"] == 1
    assert ("k1", "Kestrel Plastics") not in matches(db)
    # A new alias in the register: every document is matched again, and the alias is found.
    extra = register.parent / "more.csv"
    extra.write_text(HEADER + "Kestrel Plastics,plastics maker,,,,\n", "utf-8")
    result = import_suppliers(db, str(extra))
    assert result["merged"] == 1 and result["matched"]["documents"] == len(DOCS) + 1
    assert matches(db)[("k1", "Kestrel Plastics")] == ("subject", "title", "plastics maker")


def test_remove_deletes_the_supplier_and_its_matches_only(db, register):
    import_suppliers(db, str(register))
    result = run_cli("--db", db, "suppliers", "remove", "ACME")
    assert result.exit_code == 0 and result.output == "Removed Acme and its 3 matches.\n"
    got = matches(db)
    assert not any(n == "Acme" for _, n in got) and ("q1", "Quillmail") in got
    listed = json.loads(run_cli("--db", db, "suppliers", "list", "--json").output)
    assert [s["name"] for s in listed] == ["Kestrel Plastics", "Quillmail"]
    assert [s["documents"] for s in listed] == [0, 2]
    unknown = run_cli("--db", db, "suppliers", "remove", "Acme")
    assert unknown.exit_code == 2 and unknown.output.count("\n") == 1 and "no supplier 'Acme'" in unknown.output


def test_matches_of_a_supplier_removed_meanwhile_are_dropped(db, register):
    import_suppliers(db, str(register))
    with Store.open(db) as store:
        ids = {s["name"]: s["id"] for s in store.suppliers()}
        doc = store.db.execute("select id, content_hash from documents").fetchone()
        store.remove_supplier("Acme")
        store.save_supplier_matches([(doc[0], doc[1], [{"supplier_id": ids["Acme"], "role": "subject",
                                                         "field": "title", "term": "Acme"}])], store.register_version())
        assert store.db.execute("select count(*) from supplier_matches where supplier_id = ?",
                                [ids["Acme"]]).fetchone()[0] == 0


# -- timeline ---------------------------------------------------------------------------------


@pytest.fixture
def storied(db, register) -> str:
    import_suppliers(db, str(register))
    with Store.open(db) as store:
        ids = {guid: i for i, guid in store.db.execute("select id, guid from documents")}
        sid = store.assign_story(ids["q1"])
        store.assign_story(ids["q2"], sid, similarity=0.9, reason="embedding")
        store.save_labels([(ids["q1"], [(Label("supply_chain_cert_compromise", 0.97, "Attackers stole the certificate."),
                                         True), (Label("malware", 0.1, ""), False)]),
                           (ids["q2"], [(Label("supply_chain_cert_compromise", 0.91, "told to re-create"), True),
                                        (Label("data_breach", 0.6, "customers"), True)])], "test-v1", T)
    return db


def test_timeline_groups_a_story_with_labels_scores_evidence_sources(storied):
    result = run_cli("--db", storied, "supplier", "quillMAIL", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["supplier"]["name"] == "Quillmail" and data["documents"] == 2
    (story,) = data["stories"]
    assert story["title"] == "Quillmail certificate stolen" and story["role"] == "subject"
    assert story["labels"] == [{"label": "supply_chain_cert_compromise", "score": 0.97,
                                "evidence": "Attackers stole the certificate.", "follow_up": ""},
                               {"label": "data_breach", "score": 0.6, "evidence": "customers", "follow_up": ""}]
    assert [d["field"] for d in story["documents"]] == ["title", "lead"]
    assert story["sources"] == ["news"] and story["documents"][0]["url"] == "https://news.example/q1"
    # By alias, and Acme's timeline: one entry per unclustered document, oldest first, --since filters.
    assert run_cli("--db", storied, "supplier", "quill mail", "--json").exit_code == 0
    acme = json.loads(run_cli("--db", storied, "supplier", "Acme", "--json").output)
    assert [s["documents"][0]["title"][:12] for s in acme["stories"]] == ["Remote code ", "Status page ", "Certificate "]
    assert acme["stories"][0]["story_id"] is None
    since = json.loads(run_cli("--db", storied, "supplier", "Acme", "--since", DAY, "--json").output)
    assert len(since["stories"]) == 2
    text = run_cli("--db", storied, "supplier", "Quillmail").output
    assert "Quillmail: 1 story, 2 documents" in text and "supply_chain_cert_compromise 0.97" in text


def test_timeline_html_is_escaped(tmp_path, register):
    db = str(tmp_path / "h.db")
    seed(db, [_doc("x1", "<script>alert(1)</script> Acme breach", "Acme <b>bold</b>.",
                   url="javascript:alert(1)")])
    import_suppliers(db, str(register))
    out = tmp_path / "acme.html"
    result = run_cli("--db", db, "supplier", "acme", "--html", str(out))
    assert result.exit_code == 0 and result.output == f"{out}\n"
    html = out.read_text("utf-8")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; Acme breach" in html
    assert "javascript:" not in html and "<b>" not in html
    with Store.open(db) as store:
        assert "&lt;script&gt;" in render_timeline_html(build_timeline(store, "Acme"))


@pytest.mark.parametrize("args,code,message", [
    (["supplier", "Acmee"], 2, "no supplier 'Acmee'; did you mean Acme?"),
    (["supplier", "Zzzz"], 2, "no supplier 'Zzzz' (supplywatch suppliers list shows the register)"),
    (["supplier", "Acme", "--since", "2021-13-01"], 2, "--since: '2021-13-01' is not a date (YYYY, YYYY-MM or YYYY-MM-DD"),
    (["supplier", "Acme", "--since", "yesterday"], 2, "--since: 'yesterday' is not a date"),
    (["supplier", "Acme", "--json", "--html", "x.html"], 2, "cannot be used together"),
])
def test_timeline_errors_are_one_line(db, register, args, code, message):
    import_suppliers(db, str(register))
    result = run_cli("--db", db, *args)
    assert result.exit_code == code, result.output
    assert result.output.startswith("Error: ") and message in result.output and result.output.count("\n") == 1


def test_empty_register_says_how_to_fill_it(db):
    result = run_cli("--db", db, "supplier", "Acme")
    assert result.exit_code == 2 and "register is empty" in result.output
    assert run_cli("--db", db, "suppliers", "list").output.startswith("No suppliers yet")


# -- bad databases ----------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["suppliers", "list"], ["suppliers", "remove", "Acme"], ["supplier", "Acme"],
                                  ["suppliers", "import", "REGISTER"], ["suppliers", "match"]])
def test_missing_database_is_exit_3(tmp_path, register, args):
    args = [str(register) if a == "REGISTER" else a for a in args]
    result = run_cli("--db", str(tmp_path / "nope.db"), *args)
    assert result.exit_code == 3 and "no such database" in result.output and result.output.count("\n") == 1
    assert not (tmp_path / "nope.db").exists()


def test_locked_database_is_exit_3(db, register, monkeypatch):
    import supplywatch.store.core

    monkeypatch.setattr(supplywatch.store.core, "BUSY_TIMEOUT_S", 0.2)
    locker = sqlite3.connect(db)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        result = run_cli("--db", db, "suppliers", "import", str(register))
        assert result.exit_code == 3, result.output
        assert "locked" in result.output and result.output.count("\n") == 1
        # Readers are not blocked by a writer (WAL): the register can still be listed.
        assert run_cli("--db", db, "suppliers", "list").exit_code == 0
    finally:
        locker.rollback()
        locker.close()


def test_read_only_database_is_exit_3(db, register):
    import_suppliers(db, str(register))
    new = register.parent / "new.csv"
    new.write_text(HEADER + "Brightmart,,,,,\n", "utf-8")
    # The pipeline handed a real store opened read-only, as a read-only file or mount would give it.
    with make_pipeline(lambda: configuration.load(None, env={}), db, store=Store.open(db, readonly=True)) as pipeline:
        for attempt in (lambda: pipeline.import_suppliers(str(new)), lambda: pipeline.store.remove_supplier("Acme")):
            with pytest.raises(StorageError, match="read-only") as err:
                attempt()
            assert exit_code(err.value) == 3 and "\n" not in str(err.value)
    with Store.open(db, readonly=True) as store, pytest.raises(StorageError, match="read-only"):
        store.import_suppliers([{"name": "Zed"}])


# -- the digest -------------------------------------------------------------------------------


def test_digest_has_no_suppliers_section_without_a_register(db):
    with Store.open(db) as store:
        digest = build_digest(store, DAY)
    assert digest.suppliers is None and "Your suppliers" not in render_digest(digest).text


def test_digest_suppliers_section_and_per_recipient_filter(storied):
    with Store.open(storied) as store:
        digest = build_digest(store, DAY, topic_limit=mail.UNCUT)
    section = digest.suppliers
    assert digest.sections[0] is section and section.label == SUPPLIERS and section.title == "Your suppliers"
    titles = {i.title: i for i in section.items}
    # The Quillmail story (flagged) leads; Acme's unflagged status page story is there too, without a score.
    assert section.items[0].title == "Quillmail certificate stolen" and section.items[0].score == 0.97
    assert section.items[0].suppliers == ["Quillmail", "Acme"]  # named in the title or lead first
    assert titles["Status page outage"].label == "" and titles["Status page outage"].suppliers == ["Acme"]
    assert "Acmeville council budget" not in titles
    text = render_digest(digest).text
    assert "YOUR SUPPLIERS (2)" in text and "suppliers Quillmail, Acme | supply_chain_cert_compromise 0.97" in text
    assert "  2021-01-12 | news | supplier Acme\n" in text
    html = render_digest(digest).html
    assert "Your suppliers (2)" in html and "supplier Acme</div>" in html
    # A recipient naming suppliers sees only theirs; labels and min_score do not cut this section.
    only_acme = mail.for_recipient(digest, mail.Recipient("a@example.com", ["malware"], 0.99, ["ACME"]))
    assert [i.title for i in only_acme.suppliers.items] == ["Quillmail certificate stolen", "Status page outage"]
    kestrel = mail.for_recipient(digest, mail.Recipient("k@example.com", suppliers=["Kestrel Plastics"]))
    assert kestrel.suppliers.items == [] and kestrel.sections[0].label != SUPPLIERS
    # Each story is shown once; for a recipient who does not follow Quillmail it is back in the headline section.
    assert [i.title for i in kestrel.headline.items] == ["Quillmail certificate stolen"]
    everyone = mail.for_recipient(digest, mail.Recipient("e@example.com"))
    assert len(everyone.suppliers.items) == 2


class FakeClassifier:
    """Labels nothing and encodes every document alike: this test is about the order of run's steps."""

    version = "fake"

    def __init__(self, calls: list[str]):
        self.calls = calls
        self.encoder = self

    name, dim = "fake-encoder", 2

    def label(self, docs, memory=None):
        self.calls.append("label")
        return [[] for _ in docs]

    def encode(self, texts):
        import numpy as np

        self.calls.append("encode")
        return np.ones((len(texts), 2), dtype=np.float32)


def test_run_clusters_before_classify_and_matches_suppliers_last(db, register):
    """Clustering first: a document clustered into an incident member's story follows it when labelled."""
    import_suppliers(db, str(register), match=False)
    calls: list[str] = []
    with make_pipeline(configuration.load(None, env={}), db, classifier=FakeClassifier(calls)) as pipeline:
        done = pipeline.run(crawl_sources=False, report=lambda step, result: calls.append(step))
    assert [c for c in calls if c != "label"][:4] == ["encode", "cluster", "classify", "suppliers"]
    assert done["classify"]["documents"] == len(DOCS) and done["cluster"]["documents"] == len(DOCS)
    assert done["suppliers"]["documents"] == len(DOCS) and ("q1", "Quillmail") in matches(db)


def test_supplier_commands_load_nothing_heavy(db, register, tmp_path):
    from tests.test_lazy_imports import _loaded

    import_suppliers(db, str(register))
    assert _loaded(["--db", db, "suppliers", "import", str(register)]) == ""
    assert _loaded(["--db", db, "suppliers", "list"]) == ""
    assert _loaded(["--db", db, "supplier", "Acme", "--html", str(tmp_path / "a.html")]) == ""


def test_the_classifier_takes_over_the_encoder_clustering_loaded(db):
    """`run` clusters, then classifies: the model is loaded once a round, not once a step."""
    with make_pipeline(configuration.load(None, env={}), db) as pipeline:
        encoder = pipeline.encoder()
        assert pipeline.encoder() is encoder
        assert pipeline.classifier.encoder is encoder
