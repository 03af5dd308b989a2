"""The search side index (tantivy) on a real SQLite file: the same top 20 as FTS5 ranking every match, kept in
step with inserts, edits and deletes, rebuilt when stale or foreign, and FTS5 alone when it cannot be used."""

from __future__ import annotations

import json
import random
import shutil

import pytest

from supplywatch.store import Document, InputError, Label, Store, fts5query, utcnow
from supplywatch.store.search_index import index_dir

pytest.importorskip("tantivy")

WORDS = ("attack breach certificate stolen signing key ransomware vendor patch exploit update server cloud "
         "credentials malware leak supply chain root revoked").split()
FILLER = [f"w{i}" for i in range(400)]
SOURCES = ("alpha", "beta", "gamma")


def _docs(n: int, seed: int = 3, start: int = 0) -> list[Document]:
    rng = random.Random(seed)
    docs = []
    for i in range(start, start + n):
        title = " ".join(rng.choices(WORDS, k=rng.randint(2, 5)) + rng.choices(FILLER, k=3))
        words = rng.choices(FILLER, weights=[1 / (r + 3) for r in range(len(FILLER))], k=rng.randint(20, 60))
        for word in rng.sample(WORDS, rng.randint(1, 5)):
            for _ in range(rng.randint(1, 3)):
                words.insert(rng.randrange(len(words)), word)
        published = f"202{rng.randint(0, 6)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T12:00:00Z"
        docs.append(Document(source=SOURCES[i % 3], title=title, text=" ".join(words), url=f"https://e.example/{i}",
                             canonical_url=f"https://e.example/{i}", guid=str(i), published=published))
    return docs


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("side") / "sw.db")
    with Store.open(path) as store:
        store.sync_sources([{"name": n, "kind": "feed", "url": f"https://{n}.example/feed"} for n in SOURCES])
        store.insert_documents(_docs(3000), utcnow())
        rng = random.Random(5)
        store.save_labels([(i, [(Label("malware", round(rng.random(), 3), "e"), rng.random() < 0.3)])
                           for i in range(1, 3001) if rng.random() < 0.3], "test-v1", utcnow())
    return path


def _pair(path: str) -> tuple[Store, Store]:
    side = Store.open(path, readonly=True)
    side.side_index_min_docs = 0
    full = Store.open(path, readonly=True)
    full.side_index_min_docs = 10**12
    return side, full


QUERIES = [
    ("ransomware", {}),
    ("certificate stolen", {}),
    ('"signing key"', {}),
    ("signing key", {"raw": True}),
    ('"signing key"', {"raw": True}),
    ("NEAR(stolen certificate, 5) OR revoked", {"raw": True}),
    ("title: ransomware AND leak", {"raw": True}),
    ("attack NOT cloud", {"raw": True}),
    ("ransomware", {"source": "beta"}),
    ("certificate stolen", {"since": "2024-01-01", "until": "2025-06-30"}),
    ("breach", {"source": "gamma", "since": "2025-01-01"}),
    ("ransomware", {"label": "malware"}),
    ("attack", {"label": "malware", "min_score": 0.8}),
    ("w7", {}),
]


@pytest.mark.parametrize("query,options", QUERIES)
def test_same_top_20_as_fts5_ranking_every_match(archive, query, options):
    side, full = _pair(archive)
    with side, full:
        got = side.search(query, limit=20, **options)
        assert side.search_plan == "side index"
        want = full.search(query, limit=20, **options)
        assert full.search_plan == "fts5"
    assert len(want) >= 10  # the query matches enough for the ranking to mean something
    assert [r["id"] for r in got] == [r["id"] for r in want]
    assert [r["snippet"] for r in got] == [r["snippet"] for r in want]


def test_prefix_queries_and_syntax_errors_go_to_fts5(archive):
    side, full = _pair(archive)
    with side, full:
        assert [r["id"] for r in side.search("ransom*", raw=True)] == [r["id"] for r in full.search("ransom*", raw=True)]
        assert side.search_plan == "fts5"
        for bad in ("NEAR(", 'stolen"', "nosuchcolumn: key", "AND"):
            with pytest.raises(InputError) as err:
                side.search(bad, raw=True)
            assert "\n" not in str(err.value)


def _copy(archive: str, tmp_path) -> str:
    path = str(tmp_path / "copy.db")
    shutil.copy(archive, path)
    return path


def test_inserts_edits_and_deletes_reach_the_index(archive, tmp_path):
    path = _copy(archive, tmp_path)
    side, full = _pair(path)
    with side, full:
        assert side.search("quillwort") == []
        with Store.open(path) as writer:
            writer.insert_documents([Document(source="alpha", title="Quillwort ransomware", text="quillwort " * 3,
                                              url="https://n.example/1", canonical_url="https://n.example/1", guid="n1")],
                                    utcnow())
            new_id = writer.db.execute("select max(id) from documents").fetchone()[0]
            writer.db["documents"].update(7, {"title": "Zymurgy notice"})
            writer.db.execute("delete from labels where document_id = 8")
            writer.db["documents"].delete(8)
            writer.db.conn.commit()
        assert [r["id"] for r in side.search("quillwort")] == [new_id]
        assert side.search_plan == "side index"
        assert [r["id"] for r in side.search("zymurgy")] == [7]
        for query in ("ransomware", "stolen", "attack"):
            got = [r["id"] for r in side.search(query)]
            assert got == [r["id"] for r in full.search(query)] and 8 not in got
        # The index itself dropped the deleted document and the edited title's old words.
        found, _ = side.update_search_index().candidates(("phrase", ["zymurgy"]), k=10)
        assert [doc_id for doc_id, _ in found] == [7]


def test_rebuilt_when_missing_corrupt_or_from_another_file(archive, tmp_path):
    path = _copy(archive, tmp_path)
    side, full = _pair(path)
    want = [r["id"] for r in full.search("certificate stolen")]
    assert [r["id"] for r in side.search("certificate stolen")] == want
    state = index_dir(path) / "state.json"
    saved = json.loads(state.read_text())
    for damage in ("corrupt", "foreign", "missing"):
        side.close()
        side, _ = _pair(path)
        if damage == "corrupt":
            state.write_text("{not json")
        elif damage == "foreign":  # says it applied a change this file never had
            state.write_text(json.dumps({**saved, "seq": 999_999, "document_id": 5}))
        else:
            shutil.rmtree(index_dir(path))
        assert [r["id"] for r in side.search("certificate stolen")] == want
        assert side.search_plan == "side index"
        assert json.loads(state.read_text())["seq"] == saved["seq"]
    side.close()
    full.close()


def test_fts5_answers_when_the_index_cannot_be_used(archive, tmp_path):
    path = _copy(archive, tmp_path)
    side, full = _pair(path)
    with side, full:
        want = [r["id"] for r in full.search("breach")]
        index_dir(path).write_text("not a folder")  # e.g. a read-only place or a clash: never an error
        assert [r["id"] for r in side.search("breach")] == want and side.search_plan == "fts5"
        index_dir(path).unlink()
        assert [r["id"] for r in side.search("breach")] == want and side.search_plan == "side index"
        # Another process holds the index's writer lock while changes wait: this search uses FTS5.
        with Store.open(path) as writer:
            writer.insert_documents(_docs(5, seed=9, start=5000), utcnow())
        lock = side.update_search_index.__self__.__dict__["_side"].index.writer()
        try:
            assert [r["id"] for r in side.search("breach")] == [r["id"] for r in full.search("breach")]
            assert side.search_plan == "fts5"
        finally:
            del lock


def test_the_change_log_records_every_change(tmp_path):
    with Store.open(tmp_path / "s.db") as store:
        store.sync_sources([{"name": "alpha", "kind": "feed", "url": "https://a.example/feed"}])
        store.insert_documents(_docs(3)[:1] + _docs(3)[3:], utcnow())
        store.db["documents"].update(1, {"text": "changed"})
        store.db["documents"].update(1, {"fetched_at": "now"})  # not a searched column: no change logged
        store.db["documents"].delete(1)
        store.db.conn.commit()
        assert store.db.execute("select seq, document_id from search_changes").fetchall() == [(1, 1), (2, 1), (3, 1)]


@pytest.mark.parametrize("match,tree", [
    ('"a" "b c"', ("and", [("phrase", ["a"]), ("phrase", ["b c"])])),
    ("NEAR(x y, 5) OR z", ("or", [("and", [("phrase", ["x"]), ("phrase", ["y"])]), ("phrase", ["z"])])),
    ("title: a NOT b", ("phrase", ["a"])),
    ("{title text}: a + b", ("phrase", ["a", "b"])),
    ("(a OR b) AND ^c", ("and", [("or", [("phrase", ["a"]), ("phrase", ["b"])]), ("phrase", ["c"])])),
])
def test_fts5_queries_are_read_as_a_superset(match, tree):
    assert fts5query.parse(match) == tree


@pytest.mark.parametrize("match", ["abc*", "NEAR(", '"open', "a.b", "- : x", "AND"])
def test_what_cannot_be_widened_is_unsupported(match):
    with pytest.raises(fts5query.Unsupported):
        fts5query.parse(match)


@pytest.mark.parametrize("query,options", QUERIES)
def test_on_very_common_words_the_index_ranks_and_fts5_confirms(archive, query, options):
    """Past fts5_ranks_max matches (50,000 by default) the side index's bm25 orders; every result is still an
    FTS5 match passing the filters, with FTS5's snippet, and the top 20 largely FTS5's own."""
    side, full = _pair(archive)
    with side, full:
        side.fts5_ranks_max = 0
        got = side.search(query, limit=20, **options)
        assert side.search_plan == "side index"
        every = {r["id"]: r for r in full.search(query, limit=5000, **options)}
        want = [r["id"] for r in full.search(query, limit=20, **options)]
    assert len(got) == len(want)
    assert all(r["id"] in every and r["snippet"] == every[r["id"]]["snippet"] for r in got)
    # the same columns as the FTS5 path (follow-up reason, supplier impact), whichever path answered
    assert all(set(r) == set(every[r["id"]]) for r in got)
    assert [r["rank"] for r in got] == sorted(r["rank"] for r in got)
    assert len({r["id"] for r in got} & set(want)) >= len(want) // 2


@pytest.fixture(scope="module")
def tied(tmp_path_factory) -> str:
    """900 documents with one hit each of "zebra" and lengths 102-109 words, the longer ones stored first: the
    side index's one-byte lengths put them all in one band (with the title, 112-119 tokens), while FTS5 orders by
    exact length, then id."""
    path = str(tmp_path_factory.mktemp("tied") / "sw.db")
    rng = random.Random(11)
    lengths = sorted((rng.randint(102, 109) for _ in range(900)), reverse=True)
    docs = [Document(source="alpha", title=f"report {i}", text=" ".join(["zebra"] + rng.choices(FILLER, k=n - 1)),
                     url=f"https://t.example/{i}", canonical_url=f"https://t.example/{i}", guid=str(i),
                     published="2025-01-01T12:00:00Z") for i, n in enumerate(lengths)]
    with Store.open(path) as store:
        store.sync_sources([{"name": "alpha", "kind": "feed", "url": "https://alpha.example/feed"}])
        store.insert_documents(docs, utcnow())
    return path


@pytest.mark.parametrize("tie_max,plan", [(None, "side index"), (250, "fts5")])
def test_a_tie_longer_than_the_candidates_is_taken_whole(tied, monkeypatch, tie_max, plan):
    """The band of tied scores runs far past the 200 candidates: the band is taken whole, so the top 20 are
    still FTS5's own (the shortest documents, stored last). A band past what one index search fetches
    (``TIE_MAX`` lowered under the band's hundreds of documents) goes to FTS5 over every match."""
    from supplywatch.store import search_side

    if tie_max is not None:
        monkeypatch.setattr(search_side, "TIE_MAX", tie_max)
    side, full = _pair(tied)
    with side, full:
        got = side.search("zebra", limit=20)
        assert side.search_plan == plan
        want = full.search("zebra", limit=20)
    assert [r["id"] for r in got] == [r["id"] for r in want]
