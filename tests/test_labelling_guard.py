"""The headline flag decision in ``classifiers.labelling``: the cap (issue 16) and the guard (issue 11), on real
SQLite stores. The head is a stand-in (a fixed score per document: no model to load); the labelling, the
guard, the incident book, the store and ``eval`` are the real ones."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from supplywatch.classifiers.evaluate import evaluate
from supplywatch.classifiers.incidents import IncidentBook
from supplywatch.classifiers.labelling import CAPPED, classify_archive, label_documents
from supplywatch.classifiers.passages import document_units
from supplywatch.store import Document, FetchOutcome, Label, Store, utcnow, vocabulary

HEADLINE = vocabulary.headline()
TOPICS = vocabulary.topics()
T = "2021-01-12T00:00:00Z"


class ScoreHead:
    """A head that gives each document the headline score written in its ``score`` field (0.99 by default)."""

    version = "stand-in-1"
    threshold = 0.5
    cat_thresholds = np.full(len(TOPICS), 0.5)

    def labels(self, feats):
        evidence = feats.units[-1]
        return [(Label(HEADLINE, feats.score, evidence), feats.score >= self.threshold)] + [
            (Label(t, 0.1, feats.units[0]), False) for t in TOPICS]


def featurizer(docs):
    return [SimpleNamespace(units=document_units(d.get("title") or "", d.get("text") or "", limit=40),
                            score=float(d.get("score", 0.99))) for d in docs]


class StandInClassifier:
    version = ScoreHead.version

    def __init__(self):
        self.head = ScoreHead()

    def label(self, docs, memory=None):
        return label_documents(docs, self.head, featurizer, memory)


def headline_of(doc, memory=None):
    ((lab, flagged), *_) = label_documents([doc], ScoreHead(), featurizer, memory)[0]
    return lab, flagged


def test_a_negated_statement_above_the_threshold_is_not_flagged_and_says_why():
    lab, flagged = headline_of({"title": "Games maker says leaked source code held no keys",
                                "text": "The leaked source code contained no signing keys, the company said. "
                                        "Its investigation into the intrusion continues with outside experts."})
    assert not flagged and lab.score >= ScoreHead.threshold
    assert "negated" in lab.reason


def test_an_evidence_free_short_document_is_capped_below_the_threshold():
    lab, flagged = headline_of({"title": "SoundCloud confirms breach after member data stolen",
                                "text": "Attackers accessed a database of member e-mail addresses."})
    assert not flagged and lab.score < ScoreHead.threshold and lab.reason == CAPPED


def test_a_stated_compromise_is_flagged_with_the_guards_sentence_as_evidence():
    lab, flagged = headline_of({"title": "Quillmail certificate compromised",
                                "text": "Quillmail said attackers stole the certificate its application uses to "
                                        "authenticate to tenants. | Severity | High (CVSS 8.1) |"})
    assert flagged and ScoreHead.threshold < lab.score < 0.99  # two sentences: tempered (see below)
    assert lab.evidence.startswith("Quillmail said attackers stole the certificate")
    assert "compromise" in lab.reason


def test_a_follow_up_naming_the_incidents_party_inherits_the_label_unless_it_negates_the_artefact():
    memory = IncidentBook()
    first, ok = headline_of({"id": 1, "title": "Quillmail certificate stolen", "published": "2021-01-12",
                             "text": "Attackers stole the Quillmail certificate used to connect to Microsoft 365. "
                                     "Quillmail asked customers to replace it."}, memory)
    assert ok and memory.incidents[0].party == "Quillmail"
    follow = {"id": 2, "title": "Quillmail shares slide as investigation widens", "published": "2021-01-14",
              "score": 0.01, "text": "Customers are replacing the certificate in their tenants this week, the company said."}
    lab, flagged = headline_of(follow, memory)
    assert flagged and "certificate" in lab.evidence and lab.score >= ScoreHead.threshold
    assert lab.reason == "follow-up of: Quillmail certificate compromise, first reported 2021-01-12"
    denial = {**follow, "id": 3, "text": "Quillmail said no certificate of its partners was compromised."}
    lab, flagged = headline_of(denial, memory)
    assert not flagged and lab.score < ScoreHead.threshold


def store_with(db: str, docs: list[Document], when: str = T) -> None:
    with Store.open(db) as store:
        store.sync_sources([{"name": "feedonly", "kind": "feed", "url": "https://feedonly.example/rss"}])
        store.save_fetch(docs, FetchOutcome("feedonly", "ok", when, when))


ROWS = [
    {"title": "Vendor says leaked code held no keys", "published": "2021-01-10T00:00:00Z",
     "text": "The leaked source code contained no signing keys, the company said.", "labels": []},
    {"title": "Record DDoS hits a bank", "published": "2021-01-11T00:00:00Z",
     "text": "Traffic peaked at five terabits per second on Tuesday.", "labels": []},
    {"title": "Acme signing key stolen", "published": "2021-01-12T00:00:00Z",
     "text": "Attackers stole the private signing key from Acme's build server in March.", "labels": [HEADLINE]},
]


def test_eval_and_classify_agree(tmp_path):
    db = str(tmp_path / "x.db")
    store_with(db, [Document(source="feedonly", guid=str(i), title=r["title"], text=r["text"],
                             url=f"https://feedonly.example/{i}", published=r["published"]) for i, r in enumerate(ROWS)])
    with Store.open(db) as store:
        result = classify_archive(store, StandInClassifier())
        stored = dict(store.db.execute("select d.title, l.flagged from labels l join documents d on d.id = l.document_id "
                                       "where l.label = ?", [HEADLINE]).fetchall())
        reasons = [r for (r,) in store.db.execute("select reason from labels where label = ? order by document_id",
                                                   [HEADLINE])]
    assert result.flagged == {HEADLINE: 1}
    figures = evaluate(ROWS, ScoreHead(), featurizer)["labels"][HEADLINE]
    assert figures["precision"] == 1.0 and figures["recall"] == 1.0
    assert stored == {r["title"]: int(HEADLINE in r["labels"]) for r in ROWS}
    assert "negated" in reasons[0] and reasons[1] == CAPPED and "compromise" in reasons[2]


def test_a_feed_only_document_is_marked_and_relabelled_when_its_page_arrives(tmp_path):
    db = str(tmp_path / "x.db")
    feed = Document(source="feedonly", guid="g1", title="Acme confirms incident", text="Acme confirms an incident.",
                    url="https://feedonly.example/1", published=T, text_source="feed", flags=["feed_content_only"])
    store_with(db, [feed], utcnow())  # fetched just now: its page is tried again for two days
    with Store.open(db) as store:
        classify_archive(store, StandInClassifier())
        assert store.db.execute("select flagged from labels where label = ?", [HEADLINE]).fetchone()[0] == 0
        assert list(store.documents_to_label(StandInClassifier.version)) == []
        assert store.search("incident")[0]["feed_only"] == 1
        assert "guid:g1" not in store.known_entries("feedonly")  # the next crawl tries the page again
    page = Document(source="feedonly", guid="g1", title="Acme confirms incident", url="https://feedonly.example/1",
                    published=T, text="Acme said an attacker stole the private key it uses to sign firmware updates.")
    store_with(db, [page])
    with Store.open(db) as store:
        again = [d["id"] for batch in store.documents_to_label(StandInClassifier.version) for d in batch]
        assert len(again) == 1
        classify_archive(store, StandInClassifier())
        assert store.db.execute("select flagged from labels where label = ?", [HEADLINE]).fetchone()[0] == 1
        assert store.search("incident")[0]["feed_only"] == 0


def test_confidence_is_tempered_by_how_much_text_was_seen():
    """A line of text at the same raw score shows less confidence than a full article, and stays flagged: the
    calibration moves what a reader sees and the ranking, never the flag (that is the cap's and the guard's)."""
    stated = "Attackers stole the code-signing certificate of Acme and signed malware with it."
    body = " ".join(f"Paragraph {i} of the investigation describes how the intruders moved through the network."
                    for i in range(20))
    short = {"title": "Acme's signing certificate stolen", "text": stated, "score": 0.95}
    full = {"title": "Acme's signing certificate stolen", "text": stated + " " + body, "score": 0.95}
    # below the threshold, and no explicit statement of a compromise (which would flag it: classifiers.explicit)
    below = {"title": "How Acme keeps its signing certificate",
             "text": "Acme described how its code-signing certificate is kept in a hardware module.", "score": 0.15}
    (s, sf), (f, ff), (b, bf) = [labels[0] for labels in label_documents([short, full, below], ScoreHead(), featurizer)]
    assert sf and ff and not bf
    assert f.score == 0.95  # a full article keeps the head's score
    assert ScoreHead.threshold <= s.score < 0.7  # a title and one sentence: flagged, but not "95 %"
    assert b.score == 0.15  # at or below the threshold nothing is tempered: no flag can appear or vanish here
