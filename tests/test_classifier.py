"""The classifier on real text: the packaged head, bad input, the CLI's classify/label/search/train/eval."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from supplywatch.classifiers import HEADLINE, Classifier, Head
from supplywatch.cli import cli
from supplywatch.demo import demo_site_root
from supplywatch.store import Document, FetchOutcome, Store, utcnow


@pytest.fixture(scope="module")
def clf():
    return Classifier()


def _demo_article(path: str) -> dict:
    """An article of the embedded demo site, reduced to text the way the crawler would."""
    from supplywatch.crawlers.extract import extract

    html = (demo_site_root() / path).read_text("utf-8")
    got = extract(html)
    return {"title": got.title, "text": got.text}


def test_founding_example_is_flagged_and_near_misses_are_not(clf):
    quill = _demo_article("patchreport/2021/01/quillmail-microsoft-365-certificate-compromised/index.html")
    expiry = _demo_article("patchreport/2021/01/brightlane-expired-certificate-mobile-outage/index.html")
    ransomware = _demo_article("patchreport/2021/01/kestrel-plastics-ransomware-production-halt/index.html")
    results = clf.label([quill, expiry, ransomware])
    head = {i: dict((lab.label, (lab, flagged)) for lab, flagged in labels)[HEADLINE]
            for i, labels in enumerate(results)}
    assert head[0][1] and head[0][0].score > 0.9
    assert head[0][0].evidence in quill["text"] or head[0][0].evidence == quill["title"]
    assert "certificate" in head[0][0].evidence.lower()
    assert not head[1][1] and not head[2][1]
    assert head[1][0].score < 0.1 and head[2][0].score < 0.1


@pytest.mark.parametrize("doc", [
    {"title": "", "text": ""},
    {"title": "Only a title about a stolen signing key", "text": ""},
    {"title": "Huge", "text": "A sentence about nothing in particular. " * 25_000},  # ~1 MB
    {"title": "Zertifikat gestohlen", "text": "Angreifer haben das Code-Signing-Zertifikat des Herstellers gestohlen."},
    {"title": "<b>HTML</b> leftovers", "text": "<div class='x'>Text <script>alert(1)</script> &amp; more</div>"},
])
def test_bad_input_gets_a_defined_result(clf, doc):
    (labels,) = clf.label([doc])
    assert [lab.label for lab, _ in labels][0] == HEADLINE and len(labels) == 5
    assert all(0.0 <= lab.score <= 1.0 for lab, _ in labels)


def test_missing_or_bogus_model_folder_is_a_one_line_error(tmp_path):
    cfg, data = tmp_path / "c.toml", tmp_path / "one.jsonl"
    data.write_text(json.dumps({"title": "t", "text": "x", "labels": [], "categories": []}) + "\n")
    bogus = tmp_path / "bogus"
    bogus.mkdir()
    (bogus / "config.json").write_text("{not json")
    for folder, why in ((tmp_path / "nope", "does not exist"), (tmp_path, "no config.json"), (bogus, "not a usable model")):
        cfg.write_text(f'[classifier]\nmodel = "{folder}"\n')
        result = CliRunner().invoke(cli, ["--config", str(cfg), "--db", str(tmp_path / "x.db"), "eval", str(data)])
        assert result.exit_code == 2 and result.output.startswith("Error: "), result.output
        assert why in result.output and result.output.count("\n") == 1


def _seed(db: str) -> None:
    with Store.open(db) as store:
        store.sync_sources([{"name": "demo", "kind": "feed", "url": "https://demo.example/feed"}])
        docs = []
        for i, path in enumerate(["patchreport/2021/01/quillmail-microsoft-365-certificate-compromised/index.html",
                                  "patchreport/2021/01/brightlane-expired-certificate-mobile-outage/index.html"]):
            art = _demo_article(path)
            docs.append(Document(source="demo", title=art["title"], text=art["text"], guid=f"g{i}",
                                 published=f"2021-01-1{i}T00:00:00Z"))
        now = utcnow()
        store.save_fetch(docs, FetchOutcome("demo", "ok", now, now))


def test_classify_label_search_round_trip(tmp_path):
    db = str(tmp_path / "sw.db")
    _seed(db)
    run = CliRunner().invoke(cli, ["--db", db, "classify"], catch_exceptions=False)
    assert run.exit_code == 0 and "Labelled 2 documents" in run.output and "supply_chain_cert_compromise 1" in run.output
    again = CliRunner().invoke(cli, ["--db", db, "classify"], catch_exceptions=False)
    assert "Labelled 0 documents" in again.output  # same model version: nothing to do

    hits = json.loads(CliRunner().invoke(cli, ["--db", db, "search", "certificate", "--json",
                                               "--label", HEADLINE, "--min-score", "0.5"]).output)
    assert [h["title"][:9] for h in hits] == ["Quillmail"]
    conn = sqlite3.connect(db)
    assert conn.execute("select count(*) from labels").fetchone()[0] == 10  # 2 documents x 5 labels
    evidence = conn.execute("select evidence from labels where label = ? and flagged = 1", [HEADLINE]).fetchone()[0]
    assert "certificate" in evidence.lower()

    fix = CliRunner().invoke(cli, ["--db", db, "label", "2", HEADLINE, "--yes", "--note", "test"])
    assert fix.exit_code == 0
    assert conn.execute("select value, note from corrections").fetchall() == [(1, "test")]
    missing = CliRunner().invoke(cli, ["--db", db, "label", "99", HEADLINE, "--no"])
    assert missing.exit_code == 2 and "no document with id 99" in missing.output


@pytest.mark.slow
def test_train_writes_a_new_version_that_classify_uses(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = str(tmp_path / "sw.db")
    _seed(db)
    CliRunner().invoke(cli, ["--db", db, "classify"], catch_exceptions=False)
    CliRunner().invoke(cli, ["--db", db, "label", "2", HEADLINE, "--no"], catch_exceptions=False)
    trained = CliRunner().invoke(cli, ["--db", db, "train"], catch_exceptions=False)
    assert trained.exit_code == 0 and "Wrote head" in trained.output
    manifest = json.loads((tmp_path / "supplywatch-head" / "head.json").read_text())["manifest"]
    assert manifest["sources"]["analyst corrections"] == 1 and manifest["positives"] >= 100
    relabel = CliRunner().invoke(cli, ["--db", db, "classify"], catch_exceptions=False)
    assert "Labelled 2 documents" in relabel.output  # a new model version relabels everything
    # the experimental whose-key features: fitted with the head, saved beside it, loaded back
    keyed = CliRunner().invoke(cli, ["--db", db, "train", "--whose-key", "--out", "keyed"], catch_exceptions=False)
    assert keyed.exit_code == 0, keyed.output
    head = Head.load(tmp_path / "keyed")
    assert head.own is not None and "whose-key" in head.manifest["method"] and len(head.w) == len(head.features)


def _jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    return str(path)


@pytest.mark.slow
def test_training_on_too_little_says_what_is_missing_in_one_line(tmp_path):
    pos = {"labels": [HEADLINE], "categories": ["malware"]}
    neg = {"labels": [], "categories": ["vulnerability"]}
    # negatives that never name a signing artefact: no near misses to measure a compromise against
    no_near_miss = _jsonl(tmp_path / "a.jsonl", [
        {"title": "Alpha code-signing certificate stolen", "text": "Attackers stole the certificate.", **pos},
        {"title": "Bravo signing key stolen", "text": "Thieves took the signing key of Bravo.", **pos},
        {"title": "Charlie patches a parser bug", "text": "The update fixes a crash.", **neg},
        {"title": "Delta patches a router flaw", "text": "The firmware update fixes it.", **neg}])
    # every word in one article or in all of them: no topic vocabulary survives
    no_words = _jsonl(tmp_path / "b.jsonl", [
        {"title": "Alpha certificate stolen", "text": "Attackers stole Alpha's certificate.", **pos},
        {"title": "Bravo certificate theft", "text": "Thieves took Bravo's certificate.", **pos},
        {"title": "Charlie certificate expired", "text": "Charlie's certificate lapsed.", **neg},
        {"title": "Delta certificate purchased", "text": "Crooks bought Delta's certificate.", **neg}])
    db = str(tmp_path / "sw.db")
    for data, why in ((no_near_miss, "no near misses: none of the 2 negative examples"),
                      (no_words, "no topic words: of 4 examples")):
        out = tmp_path / "head"
        result = CliRunner().invoke(cli, ["--db", db, "-q", "train", "--no-examples", "--data", data, "--out", str(out)])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"Error: cannot train: {why}"), result.output
        assert not out.exists()  # nothing half-written
