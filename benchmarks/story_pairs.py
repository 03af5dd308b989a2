"""Measure story clustering: precision and recall of "same story" on hand-judged pairs, and on the demo site.

1. News pairs: benchmarks/story-pairs.tsv holds pairs of items of
   ../shared/corpus/news-metadata/cybersecurity-news-en-title-3000.csv (referenced by id, not copied)
   judged by hand: same incident or event (follow-ups within 14 days included) or not. The pairs were
   sampled by cosine band, so besides the plain figures on the sample this prints band-weighted
   figures: each judged pair stands for its band's share of all cross-item pairs within 14 days
   (an estimate of precision/recall over the whole feed, not just the sample).
   Then the whole feed is clustered by the real ``cluster``: the pairs scored by the stories
   they land in, which is where single-link chaining shows.
2. Demo site: the real clustering (``supplywatch cluster``) on a database made by ``supplywatch demo``,
   scored pairwise against the stories written into supplywatch/demo_site/expected.json.

Usage:
    python benchmarks/story_pairs.py [--demo-db demo-output/supplywatch-demo.db] [--grid]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sqlite3
import sys
import time
from collections import Counter
from datetime import datetime
from itertools import combinations
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from supplywatch.classifiers.stories import DEFAULTS, StoryIndex, cluster, lead_text, same_story, title_overlap, title_words  # noqa: E402

NEWS = ROOT.parent / "shared" / "corpus" / "news-metadata" / "cybersecurity-news-en-title-3000.csv"
PAIRS = ROOT / "benchmarks" / "story-pairs.tsv"
BANDS = [(0.45, 0.55), (0.55, 0.65), (0.65, 0.75), (0.75, 0.85), (0.85, 1.01)]
PER_BAND = 26  # judged pairs drawn per band (the first 130 rows); the rest were drawn for high title overlap


def scores(pred: np.ndarray, truth: np.ndarray, weight: np.ndarray | None = None) -> dict[str, float]:
    w = np.ones(len(truth)) if weight is None else weight
    tp = float((w * (pred & truth)).sum())
    fp = float((w * (pred & ~truth)).sum())
    fn = float((w * (~pred & truth)).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(2 * p * r / (p + r), 3) if p + r else 0.0}


def news_pairs(encoder, grid: bool) -> None:
    rows = list(csv.DictReader(NEWS.open(encoding="utf-8")))
    by_id = {r["id"]: r for r in rows}
    pairs = [line.rstrip("\n").split("\t") for line in PAIRS.read_text("utf-8").splitlines()
             if line and not line.startswith(("#", "set\t"))]
    truth = np.array([p[3] == "1" for p in pairs])
    ids = sorted({i for p in pairs for i in p[1:3]})
    started = time.perf_counter()
    vecs = dict(zip(ids, encoder.encode([lead_text({"title": by_id[i]["title"], "summary": by_id[i]["description"]})
                                         for i in ids]), strict=True))
    print(f"embedded {len(ids)} items in {time.perf_counter() - started:.1f} s")
    sims = np.array([float(vecs[a] @ vecs[b]) for _, a, b, _ in pairs])
    overlaps = np.array([title_overlap(title_words(by_id[a]["title"]), title_words(by_id[b]["title"]))
                         for _, a, b, _ in pairs])

    # Band populations: every cross-item pair within 14 days, from all 3,000 items.
    all_vecs = encoder.encode([lead_text({"title": r["title"], "summary": r["description"]}) for r in rows])
    when = np.array([datetime.fromisoformat(r["pub_date"][:19]).timestamp() / 86400 for r in rows])
    sim_all = all_vecs @ all_vecs.T
    near = np.abs(when[:, None] - when[None, :]) <= 14
    upper = np.triu(np.ones_like(near), 1).astype(bool)
    population = [int(((sim_all >= lo) & (sim_all < hi) & near & upper).sum()) for lo, hi in BANDS]
    weight = np.zeros(len(pairs))
    for k in range(min(len(pairs), PER_BAND * len(BANDS))):
        weight[k] = population[k // PER_BAND] / PER_BAND

    def verdicts(params: dict[str, float]) -> np.ndarray:
        return np.array([same_story(s, o, params) is not None for s, o in zip(sims, overlaps, strict=True)])

    print(f"\nnews pairs: {len(pairs)} judged ({int(truth.sum())} same, {int((~truth).sum())} different); "
          f"band populations {dict(zip([f'{lo:.2f}' for lo, _ in BANDS], population, strict=True))}")
    for name, params in [("shipped rule", DEFAULTS),
                         ("embedding only >= 0.60", {**DEFAULTS, "embedding_with_title": 2.0}),
                         ("embedding only >= 0.75", {**DEFAULTS, "embedding": 0.75, "embedding_with_title": 2.0}),
                         ("title overlap >= 0.5 only", {**DEFAULTS, "embedding": 2.0, "embedding_with_title": -1.0,
                                                        "title_overlap": 0.5})]:
        pred = verdicts(params)
        print(f"  {name:28s} sample {scores(pred, truth)}  band-weighted {scores(pred, truth, weight)}")
    feed_clusters(rows, all_vecs, pairs, truth, weight)
    if grid:
        best = []
        for e in np.arange(0.50, 0.91, 0.05):
            for el in np.arange(0.30, 0.71, 0.05):
                for t in (0.2, 0.3, 0.4, 0.5):
                    params = {**DEFAULTS, "embedding": e, "embedding_with_title": el, "title_overlap": t}
                    best.append((scores(verdicts(params), truth, weight)["f1"], round(float(e), 2), round(float(el), 2), t))
        print("  grid (band-weighted F1, embedding, embedding_with_title, title_overlap), best 5:",
              sorted(best, reverse=True)[:5])


def feed_clusters(rows: list[dict[str, str]], vecs: np.ndarray, pairs: list[list[str]], truth: np.ndarray,
                  weight: np.ndarray) -> None:
    """The whole feed clustered in publication order by the real ``cluster``: a judged pair counts as "same" when
    both land in one story, so chaining (two events joined through articles between them) shows, as pairs
    alone cannot; and the largest stories, where chaining makes giants."""
    order = sorted(range(len(rows)), key=lambda i: (rows[i]["pub_date"], rows[i]["id"]))
    docs = [{"id": i, "title": rows[i]["title"], "summary": rows[i]["description"],
             "published": rows[i]["pub_date"][:19] + "Z"} for i in order]
    pos = {r["id"]: i for i, r in enumerate(rows)}
    print("\nwhole feed clustered (a judged pair is 'same' when both land in one story):")
    for name, params in [("shipped rule", DEFAULTS),
                         ("single link (no founder check)", {**DEFAULTS, "founder_embedding": -1.0})]:
        story = {d.document_id: f"new:{d.document_id}" if d.story is None else d.story
                 for d in cluster(docs, vecs[order], StoryIndex(params))}
        pred = np.array([story[pos[a]] == story[pos[b]] for _, a, b, _ in pairs])
        sizes = sorted(Counter(story.values()).values(), reverse=True)
        print(f"  {name:32s} sample {scores(pred, truth)}  band-weighted {scores(pred, truth, weight)}  "
              f"{len(sizes)} stories, largest {sizes[:6]}")


def demo_site(db: Path) -> None:
    expected = json.loads((ROOT / "supplywatch" / "demo_site" / "expected.json").read_text("utf-8"))
    story_of = {a["title"]: a["story"] for a in expected["articles"]}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    got = {title: sid for title, sid in conn.execute(
        "select d.title, m.story_id from documents d join story_documents m on m.document_id = d.id")}
    titles = [t for t in story_of if t in got]
    truth = np.array([story_of[a] == story_of[b] for a, b in combinations(titles, 2)])
    pred = np.array([got[a] == got[b] for a, b in combinations(titles, 2)])
    print(f"\ndemo site: {len(titles)} of {len(story_of)} articles clustered, {len(set(story_of.values()))} true stories, "
          f"{len({got[t] for t in titles})} found; pairwise {scores(pred, truth)} over {len(truth)} pairs "
          f"({int(truth.sum())} same)")
    for a, b in combinations(titles, 2):
        if (story_of[a] == story_of[b]) != (got[a] == got[b]):
            kind = "split" if story_of[a] == story_of[b] else "merged"
            print(f"    {kind}: {a[:60]!r} / {b[:60]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-db", type=Path, help="a database written by `supplywatch demo`")
    parser.add_argument("--grid", action="store_true", help="also search the thresholds (band-weighted F1)")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} cores, "
          f"Python {platform.python_version()}; rule {DEFAULTS}")
    if NEWS.exists():
        from supplywatch.classifiers.encoder import Encoder

        news_pairs(Encoder(max_length=128), args.grid)
    else:
        print(f"\n{NEWS} not found: news pairs skipped (they need ../shared beside the project)")
    if args.demo_db:
        demo_site(args.demo_db)


if __name__ == "__main__":
    main()
