"""Each story once per digest: suppliers, then the headline, then its best topic; other labels on the item.

The store here is a stand-in for ``Store``'s three read methods (the digest is what is under test);
tests/test_digest.py and tests/test_suppliers.py cover the same through real SQLite files.
"""

from supplywatch.reports.digest import build_digest

HEADLINE = "supply_chain_cert_compromise"


def doc(i, title, labels, story=None):
    return {"id": i, "title": title, "url": f"https://example.org/{i}", "canonical_url": None, "source": f"s{i}",
            "vendor": "", "published": "2021-01-13T10:00:00Z", "kind": "article", "text": "", "summary": "",
            "story_id": story, "story_first_published": None, "story_documents": None,
            "labels": [{"label": name, "score": score, "evidence": f"{name} evidence"} for name, score in labels]}


class FakeStore:
    def __init__(self, docs, matches=None):
        self.docs, self.matches = docs, matches or {}

    def digest_documents(self, day):
        return self.docs

    def failing_sources(self):
        return []

    def supplier_matches_for(self, ids):
        return {i: m for i, m in self.matches.items() if i in ids}

    def supplier_impacts_for(self, ids):  # fourth parties (issue 15): none in these cases
        return {}


def placements(digest):
    return [(s.label, item.title) for s in digest.sections for item in s.items]


def test_a_story_with_two_topics_appears_once_under_its_best_topic_with_the_other_shown():
    store = FakeStore([doc(1, "Ransomware gang leaks data", [("malware", 0.7), ("data_breach", 0.9)]),
                       doc(2, "Ransomware gang leaks data, follow-up", [("malware", 0.95)], story=None)])
    digest = build_digest(store, "2021-01-13")
    shown = placements(digest)
    assert shown.count(("data_breach", "Ransomware gang leaks data")) == 1
    assert all(t != "Ransomware gang leaks data" for label, t in shown if label == "malware")
    item = next(i for s in digest.sections for i in s.items if i.title == "Ransomware gang leaks data")
    assert item.also == [("malware", 0.7)]


def test_headline_wins_over_topics_and_suppliers_win_over_the_headline():
    docs = [doc(1, "Quillmail certificate compromised", [(HEADLINE, 0.99), ("cyber_attack", 0.8)], story=7),
            doc(2, "Quillmail customers told to rebuild", [(HEADLINE, 0.97)], story=7),
            doc(3, "Orbitline update backdoored", [(HEADLINE, 0.9), ("malware", 0.95)], story=8)]
    without = placements(build_digest(FakeStore(docs), "2021-01-13"))
    assert [label for label, _ in without] == [HEADLINE, HEADLINE]
    matches = {1: [{"supplier": "Quillmail", "role": "subject"}]}
    with_register = build_digest(FakeStore(docs, matches), "2021-01-13")
    shown = placements(with_register)
    assert shown == [("suppliers", "Quillmail certificate compromised"), (HEADLINE, "Orbitline update backdoored")]
    supplier_item = with_register.suppliers.items[0]
    assert supplier_item.label == HEADLINE and ("cyber_attack", 0.8) in supplier_item.also


def test_every_flagged_story_is_still_somewhere():
    docs = [doc(i, f"Story {i}", [("vulnerability", 0.5 + i / 100), ("malware", 0.6)]) for i in range(1, 7)]
    digest = build_digest(FakeStore(docs), "2021-01-13")
    titles = [t for _, t in placements(digest)]
    assert sorted(titles) == sorted(f"Story {i}" for i in range(1, 7)) and len(titles) == 6
