"""Stories: the store's bookkeeping, the clustering rule, and the digest showing one story per event.

The clustering rule is tested with hand-made unit vectors (no model); the real encoder on the demo
site is tested in tests/test_demo.py, and measured on labelled pairs by benchmarks/story_pairs.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from supplywatch.classifiers.stories import DEFAULTS, StoryIndex, cluster, lead_text, same_story, title_overlap, title_words
from supplywatch.reports.digest import HEADLINE, build_digest
from supplywatch.reports.render import render_digest
from supplywatch.store import Document, FetchOutcome, InputError, Store
from tests.test_digest import T, _lab, _with_rest


def _unit(*xs: float) -> np.ndarray:
    v = np.zeros(8, dtype=np.float32)
    v[: len(xs)] = xs
    return v / np.linalg.norm(v)


# -- the rule ----------------------------------------------------------------------------------


def test_title_words_keep_names_and_drop_the_trades_vocabulary():
    words = title_words("Hackers stole Mimecast’s certificate in a cyber attack on 365 connectors")
    assert words == {"mimecast", "365", "connectors"}  # possessive cut, curly apostrophe handled
    # The headline label's own vocabulary would glue every certificate story together.
    assert not title_words("Stolen code-signing certificate revoked, researchers say")


def test_title_overlap_is_shared_over_the_smaller_title():
    a = title_words("Mimecast connector")
    b = title_words("Mimecast says hackers stole certificate used by Microsoft 365 connector")
    assert title_overlap(a, b) == 1.0
    assert title_overlap(a, title_words("Acme patches router flaw")) == 0.0
    assert title_overlap(set(), b) == 0.0


def test_same_story_needs_very_close_vectors_or_close_vectors_and_shared_names():
    assert same_story(DEFAULTS["embedding"], 0.0) == "embedding"
    assert same_story(DEFAULTS["embedding_with_title"], DEFAULTS["title_overlap"]) == "title"
    assert same_story(DEFAULTS["embedding_with_title"], 0.0) is None
    assert same_story(DEFAULTS["embedding_with_title"] - 0.01, 1.0) is None


def test_lead_text_is_title_and_start_of_summary_or_text():
    assert lead_text({"title": "T", "summary": "", "text": "Body " * 200}).startswith("T. Body Body")
    assert len(lead_text({"title": "T", "text": "x" * 5000})) < 320
    assert lead_text({"title": " A  title ", "summary": None, "text": None}) == "A title"


def test_cluster_groups_outlets_and_follow_ups_and_keeps_other_events_apart():
    quill = _unit(1, 0.1)
    docs = [
        {"id": 1, "title": "Quillmail certificate stolen", "published": "2021-01-12T09:00:00Z"},
        {"id": 2, "title": "Acme patches router flaw", "published": "2021-01-12T10:00:00Z"},
        {"id": 3, "title": "Quillmail tells customers to re-create connection", "published": "2021-01-12T11:00:00Z"},
        {"id": 4, "title": "Quillmail names the attackers", "published": "2021-01-20T11:00:00Z"},  # follow-up
        {"id": 5, "title": "Quillmail certificate stolen, again", "published": "2021-03-01T11:00:00Z"},  # out of window
    ]
    vectors = np.stack([quill, _unit(0, 1), _unit(1, 0.3), _unit(1, 0, 1.5), quill])
    decisions = cluster(docs, vectors, StoryIndex())
    assert [d.story for d in decisions] == [None, None, "new:1", "new:1", None]
    assert [d.reason for d in decisions] == ["first", "first", "embedding", "title", "first"]
    # cos(quill, follow-up) is below the embedding threshold; the shared name carries it.
    assert DEFAULTS["embedding_with_title"] <= decisions[3].similarity < DEFAULTS["embedding"]


def test_an_unrelated_article_with_similar_wording_but_no_shared_name_stays_apart():
    index = StoryIndex()
    index.add("quill", "Quillmail certificate stolen", _unit(1, 0.1), "2021-01-12T09:00:00Z")
    story, similarity, why = index.best("Brightmart payment keys leaked", _unit(1, 2), "2021-01-12T10:00:00Z")
    assert DEFAULTS["embedding_with_title"] <= similarity < DEFAULTS["embedding"]  # close, but no shared name
    assert (story, why) == (None, "first")
    assert index.best("Quillmail payment keys leaked", _unit(1, 2), "2021-01-12T10:00:00Z")[::2] == ("quill", "title")


def test_a_chain_of_each_like_the_last_does_not_drift_into_another_event():
    """Single link chained: B is like A, C like B but not A, so C joined A's story. C must still relate to the
    story's first report: close to it, or sharing a name with its title."""
    a, b, c = _unit(1, 0), _unit(1, 1.1), _unit(0.1, 1)  # cos(a, b) 0.67, cos(b, c) 0.80, cos(a, c) 0.10
    docs = [
        {"id": 1, "title": "Carmaker halts production after cyber attack", "published": "2025-09-02T09:00:00Z"},
        {"id": 2, "title": "Factories idle as attack drags on", "published": "2025-09-05T09:00:00Z"},
        {"id": 3, "title": "Brewer hit by ransomware gang", "published": "2025-09-08T09:00:00Z"},
    ]
    assert [d.story for d in cluster(docs, np.stack([a, b, c]), StoryIndex())] == [None, "new:1", None]
    # The same chain, but the third names the first report's victim: a saga stays one story.
    saga = [*docs[:2], {"id": 3, "title": "Carmaker extends shutdown", "published": "2025-09-08T09:00:00Z"}]
    c_saga = _unit(0.5, 1)  # cos(a, c) 0.45: below the founder's embedding floor, above its floor with a name
    assert DEFAULTS["founder_with_title"] <= float(a @ c_saga) < DEFAULTS["founder_embedding"]
    assert [d.story for d in cluster(saga, np.stack([a, b, c_saga]), StoryIndex())] == [None, "new:1", "new:1"]


def test_the_founder_is_the_first_member_added():
    index = StoryIndex()
    index.add(7, "First report", _unit(1, 0), "2025-09-02T09:00:00Z")
    index.add(7, "Second report", _unit(1, 1.1), "2025-09-05T09:00:00Z")
    index.add(8, "Other", _unit(0, 0, 1), "2025-09-05T09:00:00Z")
    assert index.founders == {7: 0, 8: 2}


def test_the_index_compares_with_every_member_added_as_its_buffer_grows_and_widens_to_float64():
    # The members' vectors live in a buffer that doubles (64, 128, 256 rows): each best() must still see exactly
    # the members added so far, and a float64 vector widens it rather than being rounded to float32.
    rng = np.random.default_rng(3)
    index = StoryIndex()
    vectors = []
    for i in range(300):
        v = rng.standard_normal(8)
        v = (v / np.linalg.norm(v)).astype(np.float64 if i == 150 else np.float32)
        probe = _unit(*rng.standard_normal(8))
        if vectors:
            _, best_sim, _ = index.best("Probe", probe, "2025-09-02T09:00:00Z")
            assert best_sim == pytest.approx(float((np.stack(vectors) @ probe).max()), abs=1e-6)
        index.add(i, f"Story {i}", v, "2025-09-02T09:00:00Z")
        vectors.append(v)
    assert index._matrix is not None and index._matrix.dtype == np.float64
    assert np.array_equal(index._matrix[150], vectors[150])


# -- the store ---------------------------------------------------------------------------------


def _docs(store: Store, n: int = 3) -> list[int]:
    store.sync_sources([{"name": "s", "kind": "feed", "url": "https://s.example/feed"}])
    store.save_fetch([Document(source="s", guid=f"g{i}", title=f"Doc {i}", text="x", url=f"https://s.example/{i}",
                               published=f"2021-01-1{i}T10:00:00Z") for i in range(n)], FetchOutcome("s", "ok", T, T))
    return [r[0] for r in store.db.execute("select id from documents order by id")]


def test_store_assigns_moves_and_drops_emptied_stories(tmp_path: Path):
    with Store.open(tmp_path / "s.db") as store:
        a, b, c = _docs(store)
        assert [d["id"] for d in store.documents_without_story()] == [a, b, c]
        s1 = store.assign_story(a)
        assert store.assign_stories([(b, s1, 0.8, "embedding"), (c, None, 1.0, "first")])[0] == s1
        story = store.story(s1)
        assert story["documents"] == 2 and story["title"] == "Doc 0"
        assert (story["first_published"], story["last_published"]) == ("2021-01-10T10:00:00Z", "2021-01-11T10:00:00Z")
        assert [m["reason"] for m in story["members"]] == ["first", "embedding"]
        assert store.documents_without_story() == []
        s3 = store.story_ids([c])[c]
        store.assign_story(c, s1, similarity=0.7, reason="manual")  # moved: its old story is now empty
        assert store.story(s3) is None and store.story(s1)["documents"] == 3
        assert {m["document_id"] for m in store.story_candidates("2021-01-11", "2021-01-12")} == {a, b, c}
        assert store.story_candidates("2021-02-01", "2021-02-02") == []
        assert store.reset_stories() == 1
        assert len(store.documents_without_story()) == 3


def test_documents_to_cluster_are_the_unclustered_in_order_each_batch_read_when_reached(tmp_path: Path):
    # What clustering reads: the rows of documents_without_story, but only the ids are held up front, so a
    # 100,000-document backfill does not keep every document's lead in memory (benchmarks/BACKFILL.md).
    with Store.open(tmp_path / "s.db") as store:
        a, b, c = _docs(store)
        store.assign_story(b)
        whole = store.documents_without_story()
        batches = store.documents_to_cluster(batch=1)
        assert len(batches) == 2
        seen = iter(batches)
        assert next(seen) == [whole[0]]
        # Edited after the ids were chosen, before its batch was reached: the batch reads the row as it is now.
        store.save_fetch([Document(source="s", guid="g2", title="Doc 2, updated", text="y", url="https://s.example/2",
                                   published="2021-01-12T10:00:00Z")], FetchOutcome("s", "ok", T, T))
        last = next(seen)
        assert [(d["id"], d["title"]) for d in last] == [(c, "Doc 2, updated")]
        assert set(last[0]) == set(whole[1]) and next(seen, None) is None
        assert [d["id"] for batch in store.documents_to_cluster(batch=5) for d in batch] == [a, c]


def test_store_refuses_unknown_documents_stories_and_reasons_without_writing(tmp_path: Path):
    with Store.open(tmp_path / "s.db") as store:
        a, b, _ = _docs(store)
        s1 = store.assign_story(a)
        for bad in ([(b, None, 1.0, "first"), (99999, None, 1.0, "first")], [(b, 4242, 1.0, "title")],
                    [(b, s1, 1.0, "because")]):
            with pytest.raises(InputError):
                store.assign_stories(bad)
        # The whole batch rolled back: b is in no story, and no story was made for it.
        assert b not in store.story_ids([a, b]) and store.db["stories"].count == 1


def test_clustering_from_a_stale_snapshot_keeps_what_another_process_stored(tmp_path: Path):
    # Two `cluster` processes read the same unclustered documents; whatever the other stored meanwhile wins,
    # and a story it emptied and dropped is no reason to fail the batch (new_only, what clustering passes).
    with Store.open(tmp_path / "s.db") as store:
        a, b, c = _docs(store)
        gone = store.assign_story(a)
        theirs = store.assign_story(b)
        store.assign_story(a, theirs, similarity=0.9, reason="embedding")  # `gone` emptied and dropped
        assert store.story(gone) is None
        with pytest.raises(InputError):  # without new_only a vanished story is an error, as before
            store.assign_stories([(c, gone, 0.7, "embedding")])
        ids = store.assign_stories([(b, None, 1.0, "first"), (c, gone, 0.7, "embedding"), (a, "new:b", 0.8, "title")],
                                   new_only=True)
        assert ids[0] == theirs and ids[2] == theirs  # b and a keep the story stored meanwhile
        assert ids[1] not in (gone, theirs) and store.story(ids[1])["documents"] == 1  # c starts its own
        assert store.story(ids[1])["members"][0]["reason"] == "first"
        assert store.documents_without_story() == []


def test_store_caches_vectors_per_model(tmp_path: Path):
    with Store.open(tmp_path / "s.db") as store:
        a, b, _ = _docs(store)
        store.save_vectors("m1", [(a, _unit(1).tobytes())])
        assert np.allclose(np.frombuffer(store.vectors("m1", [a, b])[a], dtype=np.float32), _unit(1))
        assert store.vectors("m2", [a]) == {}


# -- the digest --------------------------------------------------------------------------------


def test_digest_shows_one_item_per_story_with_every_outlet_and_marks_follow_ups(tmp_path: Path):
    db = tmp_path / "d.db"
    with Store.open(db) as store:
        store.sync_sources([{"name": n, "kind": "feed", "url": f"https://{n}.example/feed"}
                            for n in ("patchreport", "riskwire", "cipherdaily")])
        titles = {"patchreport": "Quillmail says hackers stole its Microsoft 365 certificate",
                  "riskwire": "Certificate theft at Quillmail: delete and re-create the connection",
                  "cipherdaily": "Quillmail names the group behind the certificate theft"}
        days = {"patchreport": "2021-01-12T09:00:00Z", "riskwire": "2021-01-12T10:00:00Z",
                "cipherdaily": "2021-01-14T08:00:00Z"}
        for name, title in titles.items():
            store.save_fetch([Document(source=name, guid="q", title=title, text="Customers should re-create it.",
                                       url=f"https://{name}.example/q", published=days[name])],
                             FetchOutcome(name, "ok", T, T))
        ids = [r[0] for r in store.db.execute("select id from documents order by id")]
        store.save_labels([(i, _with_rest([_lab(HEADLINE, 0.9 - k / 10, "stolen certificate")]))
                           for k, i in enumerate(ids)], "v1", T)
        sid = store.assign_story(ids[0])
        store.assign_stories([(ids[1], sid, 0.8, "embedding"), (ids[2], sid, 0.6, "title")])
        first = build_digest(store, "2021-01-12")
        later = build_digest(store, "2021-01-14")
    [item] = first.headline.items
    assert item.sources == ["patchreport", "riskwire"] and item.title == titles["patchreport"]
    assert item.first_reported == ""
    text = render_digest(first).text
    assert "2 sources: patchreport, riskwire" in text and text.count("Quillmail") == 1
    [follow] = later.headline.items
    assert follow.first_reported == "2021-01-12"
    assert "follow-up; first reported 2021-01-12" in render_digest(later).html


def test_digest_without_clustering_keeps_different_titles_apart(tmp_path: Path):
    # Not clustered yet: different titles stay separate items (the title fallback only merges identical ones).
    db = tmp_path / "d.db"
    with Store.open(db) as store:
        store.sync_sources([{"name": "s", "kind": "feed", "url": "https://s.example/feed"}])
        store.save_fetch([Document(source="s", guid=f"g{i}", title=t, text="x", url=f"https://s.example/{i}",
                                   published="2021-01-12T10:00:00Z")
                          for i, t in enumerate(["Quillmail cert stolen", "Quillmail certificate stolen"])],
                         FetchOutcome("s", "ok", T, T))
        store.save_labels([(i, _with_rest([_lab(HEADLINE, 0.9, "e")])) for (i,) in store.db.execute(
            "select id from documents")], "v1", T)
        assert len(build_digest(store, "2021-01-12").headline.items) == 2


def test_cluster_story_shows_members_and_an_unknown_id_is_one_line(tmp_path: Path):
    from click.testing import CliRunner

    from supplywatch.cli import cli

    db = tmp_path / "s.db"
    with Store.open(db) as store:
        a, b, _ = _docs(store)
        sid = store.assign_story(a)
        store.assign_story(b, sid, similarity=0.7133333333333334, reason="title")
    result = CliRunner().invoke(cli, ["--db", str(db), "cluster", "--story", str(sid)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Story {sid}: Doc 0  (2 documents,") and "title" in result.output
    assert " 0.713 " in result.output and "0.7133" not in result.output  # 3 decimals, not 16 digits
    as_json = CliRunner().invoke(cli, ["--db", str(db), "cluster", "--story", str(sid), "--json"])
    assert '"reason": "title"' in as_json.output and '"similarity": 0.713' in as_json.output
    missing = CliRunner().invoke(cli, ["--db", str(db), "cluster", "--story", "999"])
    assert missing.exit_code == 2 and missing.stderr == "Error: no story with id 999\n"


@pytest.mark.slow
def test_clustering_in_batches_joins_stories_made_by_earlier_batches(tmp_path: Path):
    # The real encoder, one document per batch: the second report must find the story the first batch stored.
    from supplywatch import config as configuration
    from supplywatch.pipeline import make_pipeline

    db = tmp_path / "s.db"
    with Store.open(db) as store:
        store.sync_sources([{"name": n, "kind": "feed", "url": f"https://{n}.example/feed"} for n in ("a", "b")])
        docs = {"a": [("q", "Quillmail says hackers stole its Microsoft 365 connector certificate", "2021-01-12T09:00:00Z"),
                      ("r", "Wexbridge council approves road repair budget", "2021-01-12T10:00:00Z")],
                "b": [("q", "Quillmail customers told to re-create Microsoft 365 connections after certificate theft",
                       "2021-01-12T11:00:00Z")]}
        for name, rows in docs.items():
            store.save_fetch([Document(source=name, guid=g, title=t, text=t, url=f"https://{name}.example/{g}",
                                       published=p) for g, t, p in rows], FetchOutcome(name, "ok", T, T))
    with make_pipeline(configuration.load(None, env={}), str(db)) as pipeline:
        counts = pipeline.cluster(batch=1)
        assert (counts.documents, counts.new_stories, counts.joined) == (3, 2, 1)
        # Nothing left to do, and nothing re-embedded, on the next run.
        assert pipeline.cluster().documents == 0
    with Store.open(db) as store:
        ids = dict(store.db.execute("select title, id from documents").fetchall())
        story = store.story_ids(list(ids.values()))
        assert store.vectors(next(iter(store.db.execute("select model from document_vectors")))[0], list(ids.values()))
    quill = [story[i] for t, i in ids.items() if t.startswith("Quillmail")]
    assert quill[0] == quill[1] and story[ids["Wexbridge council approves road repair budget"]] != quill[0]
