"""`supplywatch search` end to end on a real SQLite file: ranking, snippets, filters, --raw, output formats, errors."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3

import pytest
import sqlite_utils
from click.testing import CliRunner

from supplywatch.cli import cli
from supplywatch.store import Document, Label, StorageError, Store, utcnow

FILLER = "The company said its teams were reviewing the situation with partners and regulators this week."

DOCS = [
    # 1: the word once, in the title; 2: twice in the text (similar lengths). Equal weights would rank 2 first.
    dict(source="alpha", title="Certificate stolen from vendor", text=FILLER,
         published="2026-01-05T10:00:00Z"),
    dict(source="beta", title="Quarterly update", text="A signing key was stolen, and the stolen key signed malware.",
         published="2026-02-10T23:59:59Z"),
    dict(source="beta", title="Ransomware gang hits hospital", text="The ransomware encrypted patient systems. " + FILLER,
         published="2026-03-01T00:00:00Z"),
    dict(source="gamma", title="Key rotation guide", text="Rotate the key before signing anything. " + FILLER,
         published="2026-01-31T12:00:00Z"),
    dict(source="gamma", title="Undated note about a stolen laptop", text=FILLER, published=None),
] + [dict(source="gamma", title=f"Weekly roundup {i}", text=FILLER, published="2025-12-01T00:00:00Z") for i in range(20)]
# (the roundups give bm25 a corpus: FTS5 counts a word found in over half the documents as worthless)


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def db(tmp_path) -> str:
    path = str(tmp_path / "sw.db")
    with Store.open(path) as store:
        store.sync_sources([{"name": n, "kind": "feed", "url": f"https://{n}.example/feed"}
                            for n in ("alpha", "beta", "gamma")])
        store.insert_documents([Document(canonical_url=f"https://e.example/{i}", guid=f"g{i}", url=f"https://e.example/{i}",
                                         **d) for i, d in enumerate(DOCS, 1)], utcnow())
    return path


def hits(db: str, *args: str) -> list[dict]:
    result = invoke("--db", db, "search", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def ids(db: str, *args: str) -> list[int]:
    return [h["id"] for h in hits(db, *args)]


def one_line_error(result, code: int, text: str) -> None:
    assert result.exit_code == code, result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1, result.output
    assert text in result.output and "Traceback" not in result.output


# -- ranking and snippets ----------------------------------------------------------------------


def test_title_hit_ranks_above_text_hits(db):
    found = ids(db, "stolen")
    assert found.index(1) < found.index(2)  # title weighted 5x: one title hit beats two in a short text


def test_snippet_highlights_matches_in_text(db):
    (hit,) = [h for h in hits(db, "stolen") if h["id"] == 2]
    assert hit["snippet"] == "A signing key was [stolen], and the [stolen] key signed malware."
    assert set(hit) == {"id", "source", "title", "url", "published", "feed_only", "snippet", "follow_up", "rank"}
    assert hit["follow_up"] is None  # not an incident's follow-up
    table = invoke("--db", db, "search", "ransomware").output
    assert table.splitlines()[0] == "#3  2026-03-01  [beta]  Ransomware gang hits hospital"
    assert "The [ransomware] encrypted" in table


def test_stemming_and_no_matches(db):
    assert ids(db, "rotating") == [4]  # porter: "rotating" and "Rotate" both index as "rotat"
    assert invoke("--db", db, "search", "zeppelin").output == "No matches.\n"


# -- filters -----------------------------------------------------------------------------------


def test_source_filter_is_exact(db):
    assert sorted(ids(db, "stolen", "--source", "beta")) == [2]
    # A name the archive does not know is a mistake, not "No matches." (issue 11).
    one_line_error(invoke("--db", db, "search", "stolen", "--source", "bet"), 2,
                   "no source named 'bet' (sources: alpha, beta, gamma)")
    one_line_error(invoke("--db", db, "search", "stolen", "--source", "BETA"), 2, "no source named 'BETA'")
    with Store.open(db) as store:  # a source no longer configured still names its documents
        store.sync_sources([])
    assert sorted(ids(db, "stolen", "--source", "beta")) == [2]


def test_since_until_include_both_days(db):
    assert sorted(ids(db, "stolen OR key", "--raw", "--since", "2026-01-31")) == [2, 4]
    assert sorted(ids(db, "stolen OR key", "--raw", "--until", "2026-02-10")) == [1, 2, 4]
    assert sorted(ids(db, "stolen OR key", "--raw", "--since", "2026-02-01", "--until", "2026-02-10")) == [2]
    assert ids(db, "stolen OR key", "--raw", "--since", "2026-02-11", "--until", "2026-02-11") == []
    assert 5 in ids(db, "stolen") and 5 not in ids(db, "stolen", "--since", "2000-01-01")  # undated: no date filter hit


def test_since_until_take_a_year_a_month_or_a_day(db):
    # One parser for every date option: --since from the first day, --until through the last one.
    assert sorted(ids(db, "stolen OR key", "--raw", "--since", "2026")) == [1, 2, 4]
    assert sorted(ids(db, "stolen OR key", "--raw", "--since", "2026-02")) == [2]
    assert sorted(ids(db, "stolen OR key", "--raw", "--until", "2026-01")) == [1, 4]
    assert sorted(ids(db, "stolen OR key", "--raw", "--since", "2026-01", "--until", "2026-01")) == [1, 4]
    assert ids(db, "stolen OR key", "--raw", "--until", "2025") == []


@pytest.mark.parametrize("args,text", [
    (["--since", "2026-13-01"], "--since: '2026-13-01' is not a date"),
    (["--until", "yesterday"], "--until: 'yesterday' is not a date"),
    (["--since", "2026-1-5"], "is not a date (YYYY, YYYY-MM or YYYY-MM-DD, for example 2021, 2021-01 or 2021-01-12)"),
    (["--since", "2026-13"], "--since: '2026-13' is not a date"),
    (["--since", "2026-02-30"], "is not a date"),
    (["--since", "2026-03-01", "--until", "2026-02-01"], "--since 2026-03-01 is after --until 2026-02-01"),
])
def test_bad_dates_are_one_line_errors(db, args, text):
    one_line_error(invoke("--db", db, "search", "stolen", *args), 2, text)


def test_label_and_min_score(db):
    with Store.open(db) as store:
        store.save_labels([(2, [(Label("supply_chain_cert_compromise", 0.9), True)]),
                           (1, [(Label("supply_chain_cert_compromise", 0.4), True)]),
                           (5, [(Label("supply_chain_cert_compromise", 0.95), False)])], "v1", utcnow())
    assert ids(db, "stolen", "--label", "supply_chain_cert_compromise") == [1, 2]  # 5: scored, not flagged
    assert ids(db, "stolen", "--label", "supply_chain_cert_compromise", "--min-score", "0.5") == [2]
    assert ids(db, "stolen", "--label", "malware") == []


def fake_register(db: str, suppliers: dict[str, list[int]], aliases: dict[str, list[str]] | None = None) -> None:
    """The supplier register (`suppliers`, `supplier_matches`) written directly with sqlite-utils.

    REGISTER: stand-in for the register's own import and matching (schema _v4, another change);
    when that is committed, replace the body with ``store.import_suppliers`` + matching.
    Creates the tables as described for _v4 when the file lacks them.
    """
    sdb = sqlite_utils.Database(db)
    if not sdb["suppliers"].exists():
        sdb["suppliers"].create({"id": int, "name": str, "aliases": str, "domains": str, "products": str, "tier": str,
                                 "owner": str, "created_at": str, "updated_at": str}, pk="id")
    if not sdb["supplier_matches"].exists():
        sdb["supplier_matches"].create({"document_id": int, "supplier_id": int, "role": str, "field": str, "term": str})
    extra = {"name_key": None} if "name_key" in sdb["suppliers"].columns_dict else {}
    for sid, (name, doc_ids) in enumerate(suppliers.items(), 1):
        sdb["suppliers"].insert({"id": sid, "name": name, "aliases": json.dumps((aliases or {}).get(name, [])),
                                 "domains": "[]", "products": "[]",
                                 "tier": "", "owner": "", "created_at": utcnow(), "updated_at": utcnow(),
                                 **{k: name.casefold() for k in extra}})
        sdb["supplier_matches"].insert_all([{"document_id": d, "supplier_id": sid, "role": "subject", "field": "title",
                                             "term": name} for d in doc_ids])
    sdb.close()


def test_supplier_filter(db):
    fake_register(db, {"Ärzte Soft GmbH": [2, 4], "Acme": [1]}, aliases={"Acme": ["ACME Corporation", "ÄrzteSoft"]})
    assert ids(db, "stolen OR key", "--raw", "--supplier", "ärzte  soft gmbh") == [2, 4]
    assert ids(db, "stolen OR key", "--raw", "--supplier", "acme corporation") == [1]  # an alias
    assert ids(db, "stolen OR key", "--raw", "--supplier", "ärztesoft") == [1]
    assert ids(db, "stolen", "--supplier", "ACME") == [1]
    assert ids(db, "ransomware", "--supplier", "Acme") == []
    one_line_error(invoke("--db", db, "search", "stolen", "--supplier", "Nobody Inc"), 2,
                   "no supplier named 'Nobody Inc' in the register")


def test_supplier_filter_without_register(db):
    sdb = sqlite_utils.Database(db)
    for table in ("supplier_matches", "suppliers"):
        if sdb[table].exists():
            sdb[table].drop()
    sdb.close()
    one_line_error(invoke("--db", db, "search", "stolen", "--supplier", "Acme"), 2,
                   "no supplier register yet: run supplywatch suppliers import")


# -- --raw -------------------------------------------------------------------------------------


def test_raw_fts5_syntax(db):
    assert ids(db, '"signing key"', "--raw") == [2]  # phrase: doc 4 has "key before signing"
    assert sorted(ids(db, "signing key", "--raw")) == [2, 4]  # implicit AND
    assert ids(db, "NEAR(rotate signing, 3)", "--raw") == [4]
    assert ids(db, "NEAR(rotate signing, 1)", "--raw") == []
    assert ids(db, "ransom*", "--raw") == [3]
    assert ids(db, "ransom*") == []  # without --raw, * is not an operator
    assert sorted(ids(db, "ransomware OR laptop", "--raw")) == [3, 5]
    assert sorted(ids(db, "stolen NOT key", "--raw")) == [1, 5]
    assert ids(db, "title:key", "--raw") == [4]
    assert ids(db, "title:key") == []  # quoted: searched as the words "title" and "key"


@pytest.mark.parametrize("query", ['"unbalanced', "NEAR(", "a:b", "stolen AND", "*", "NOT stolen", "NEAR(a b, x)"])
def test_raw_syntax_errors_are_one_line(db, query):
    one_line_error(invoke("--db", db, "search", query, "--raw"), 2, "invalid search syntax")
    assert invoke("--db", db, "search", query).exit_code == 0  # the same text without --raw is searched as words


@pytest.mark.parametrize("query", ['"', '""', '"  "', "   "])
def test_nothing_to_search_for_is_one_line(db, query):
    one_line_error(invoke("--db", db, "search", query), 2, "search")


def test_quoted_words_keep_phrases_and_drop_control_characters(db):
    assert ids(db, '"signing key"') == [2]  # a quoted phrase stays a phrase without --raw
    assert ids(db, "\x00ransomware\x00") == [3]
    assert ids(db, 'NEAR("ransomware"') == []  # searched as the words "NEAR(" and "ransomware": no error


def test_huge_query_is_refused_in_one_line(db):
    one_line_error(invoke("--db", db, "search", "stolen " * 1500), 2, "search query too long (10500 characters")
    one_line_error(invoke("--db", db, "search", "x" * 10_240, "--raw"), 2, "at most 2000")
    words = " ".join(["stolen"] + [f"w{i}" for i in range(300)])[:2000]  # at the limit: searched
    result = invoke("--db", db, "search", words, "--raw")
    assert result.exit_code == 0 and result.output == "No matches.\n"


# -- output ------------------------------------------------------------------------------------


def test_csv_has_header_and_neutralises_formulas(tmp_path):
    path = str(tmp_path / "csv.db")
    titles = ["=HYPERLINK(\"http://evil\")", "+cmd", "-2+3", "@SUM(A1)", "\tstolen tab", "\rstolen cr", "plain stolen"]
    with Store.open(path) as store:
        store.sync_sources([{"name": "-src", "kind": "feed", "url": "https://e.example/"}])
        store.insert_documents([Document(source="-src", title=f"{t}", text=f"stolen {i}", canonical_url=f"u{i}",
                                         url=f"=u{i}") for i, t in enumerate(titles)], utcnow())
    result = invoke("--db", path, "search", "stolen", "--csv", "--limit", "50")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[0] == ["id", "published", "source", "title", "url", "snippet", "rank", "follow_up"]
    body = {row[0]: row for row in rows[1:]}
    assert len(body) == len(titles)
    got = sorted(body[str(i + 1)][3] for i in range(len(titles)))
    assert got == sorted("'" + t if t != "plain stolen" else t for t in titles)
    for row in body.values():
        assert row[2] == "'-src" and row[4].startswith("'=u") and row[1] == ""
        assert float(row[6]) < 0  # numbers stay numbers
        assert not row[3].startswith(("=", "+", "-", "@", "\t", "\r"))


def test_json_and_csv_are_exclusive(db):
    one_line_error(invoke("--db", db, "search", "stolen", "--json", "--csv"), 2, "--json and --csv cannot be used together")


def test_json_is_a_list_of_objects(db):
    out = hits(db, "ransomware")
    assert isinstance(out, list) and out[0]["title"] == "Ransomware gang hits hospital" and out[0]["rank"] < 0


# -- the database file -------------------------------------------------------------------------


def test_search_opens_read_only_and_works_on_a_read_only_file(db, monkeypatch):
    uris = []
    real = sqlite3.connect

    def spy(database, *args, **kwargs):
        uris.append(str(database))
        return real(database, *args, **kwargs)

    monkeypatch.setattr("supplywatch.store.core.sqlite3.connect", spy)
    before = os.stat(db)
    os.chmod(db, 0o444)
    try:
        assert ids(db, "ransomware") == [3]
    finally:
        os.chmod(db, 0o644)
    assert uris and all("mode=ro" in uri for uri in uris)  # root ignores file modes: check how it was opened
    assert os.stat(db).st_mtime_ns == before.st_mtime_ns


def test_optimize_merges_the_index_and_keeps_results(db):
    with Store.open(db) as store:
        for i in range(3):  # one FTS5 segment per transaction
            store.insert_documents([Document(source="alpha", title=f"Stolen badge {i}", text=FILLER,
                                             canonical_url=f"https://e.example/extra{i}")], utcnow())
        segments = "select count(distinct segid) from documents_fts_idx"
        before = store.db.execute(segments).fetchone()[0]
        found = store.search("stolen OR ransomware", raw=True)
        store.optimize_search()
        assert before >= 3 and store.db.execute(segments).fetchone()[0] == 1
        assert store.search("stolen OR ransomware", raw=True) == found


def test_missing_and_corrupt_databases(tmp_path):
    missing = tmp_path / "nope.db"
    one_line_error(invoke("--db", str(missing), "search", "x"), 3, "no such database")
    assert not missing.exists()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite at all " * 200)
    one_line_error(invoke("--db", str(junk), "search", "x"), 3, "not a usable supplywatch database")


def test_search_migrates_an_older_archive_once_then_reads_it_read_only(tmp_path):
    from supplywatch.store import schema

    db = tmp_path / "old.db"
    old = sqlite_utils.Database(db)
    for version, migration in enumerate(schema.MIGRATIONS[:3], 1):  # as written before the supplier register
        migration(old)
        old.execute(f"PRAGMA user_version = {version}")
    old.close()
    with pytest.raises(StorageError, match="open it once without read-only"):
        Store.open(db, readonly=True)
    result = CliRunner().invoke(cli, ["--db", str(db), "search", "anything"])
    assert result.exit_code == 0, result.output
    with Store.open(db, readonly=True):  # migrated once, then read read-only
        pass
