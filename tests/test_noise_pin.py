"""Issue 16's pin: whatever the model scores, a feed-only item is flagged only if it passes the guard or holds an
explicit statement of whose artefact was compromised (``classifiers.explicit``, issue 10), and of the
3,000 modern feed items (../shared) at most two do (the Coupang token-signing-key item and the PlayStation 5
ROM-key leak). Model-independent and cheap: no encoder is loaded."""

import csv

from supplywatch.classifiers.explicit import explicit_evidence
from supplywatch.classifiers.features import MAX_UNITS
from supplywatch.classifiers.guard import headline_guard
from supplywatch.classifiers.passages import document_units
from tests.conftest import shared_path

MAX_PASSING = 2  # reached 2026-11-30; lower it when the guard improves, never raise it without a judged reason


def test_at_most_two_feed_items_in_3000_could_be_flagged():
    news = shared_path("corpus", "news-metadata", "cybersecurity-news-en-title-3000.csv")
    with news.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    units = [document_units(r["title"], r.get("description") or "", limit=MAX_UNITS) for r in rows]
    passing = [r["title"] for r, u in zip(rows, units, strict=True)
               if headline_guard(u).passes or explicit_evidence(u) >= 0]
    assert len(rows) == 3000
    assert len(passing) <= MAX_PASSING, passing
