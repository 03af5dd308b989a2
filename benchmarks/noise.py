"""Noise budget (issue 16): headline flags per 1,000 items through the labelling path `classify` uses.

    python benchmarks/noise.py [--head classifiers/head] [--memory] [--since 2015] [--cache FILE.npz] [--json out.json]

Labels, with ``supplywatch.classifiers.labelling.label_documents`` (the head, the incident memory when
--memory, the evidence cap and the headline guard: exactly what ``supplywatch classify`` and ``eval`` do):

- the 3,000 modern feed items of ../shared/corpus/news-metadata/cybersecurity-news-en-title-3000.csv
  (2025-2026; title and one-line description, no page text: what a feed-only source gives);
- ../shared/eval/dev.jsonl (full text; --since keeps rows published on or after a year, for a held-out head).

Prints the sizes, the machine, flags per 1,000 on the feed items and on the dev negatives (before the cap and
guard: the head's raw score at its threshold; after: what classify flags), every feed item above the
threshold with what happened to it, dev positives the cap or guard vetoes, and the score distribution of short
(feed) versus full-text documents.

--cache: an optional speed-up, an .npz of unit embeddings (``keys``: blake2b(unit.encode("utf-8", "replace"),
digest_size=16).digest() as S16; ``emb``: float32, one row per key). Units not in it are encoded with the
packaged model, so the figures do not depend on it. Measurement only: no dev.jsonl text is written anywhere.
"""

from __future__ import annotations

import argparse
import collections
import csv
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's own layers, whatever the editable install points at

from supplywatch.classifiers import PACKAGED_HEAD, Head  # noqa: E402
from supplywatch.classifiers.features import MAX_UNITS, Featurizer  # noqa: E402
from supplywatch.classifiers.guard import headline_guard  # noqa: E402
from supplywatch.classifiers.incidents import IncidentBook  # noqa: E402
from supplywatch.classifiers.labelling import CAPPED, label_documents  # noqa: E402
from supplywatch.classifiers.passages import document_units  # noqa: E402
from supplywatch.store import vocabulary  # noqa: E402

SHARED = ROOT.parent / "shared"
NEWS = SHARED / "corpus" / "news-metadata" / "cybersecurity-news-en-title-3000.csv"
DEV = SHARED / "eval" / "dev.jsonl"
BATCH = 64
FEED_CHARS = 300  # body characters of a feed entry's summary (the feed items: 420 with the title)


def _key(unit: str) -> bytes:
    return hashlib.blake2b(unit.encode("utf-8", "replace"), digest_size=16).digest()


class CachedEncoder:
    """The packaged encoder behind an optional table of unit embeddings: only units missing from it are encoded."""

    def __init__(self, cache: str | None):
        self.table: dict[bytes, np.ndarray] = {}
        if cache:
            with np.load(cache) as z:
                self.table = dict(zip(z["keys"].tolist(), z["emb"].astype(np.float32), strict=True))
        self._encoder: Any = None
        self.missed = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        keys = [_key(t) for t in texts]
        todo = [t for t, k in zip(texts, keys, strict=True) if k not in self.table]
        if todo:
            if self._encoder is None:
                from supplywatch.classifiers.encoder import Encoder
                self._encoder = Encoder()
            self.missed += len(todo)
            for t, v in zip(todo, self._encoder.encode(todo), strict=True):
                self.table[_key(t)] = np.asarray(v, dtype=np.float32)
        return np.stack([self.table[k] for k in keys])


class RawScores:
    """The head, unchanged, remembering each document's raw headline score before memory, cap and guard."""

    def __init__(self, head: Head):
        self.head = head
        self.threshold = head.threshold
        self.raw: list[float] = []

    def labels(self, feats: Any) -> Any:
        out = self.head.labels(feats)
        self.raw.append(next(lab.score for lab, _ in out if lab.label == vocabulary.headline()))
        return out


def label(rows: list[dict[str, Any]], head: Head, featurize: Featurizer, memory: bool) -> list[dict[str, Any]]:
    """Each row (in publication order, as classify does) with raw score, final score, flag, reason, evidence."""
    headline = vocabulary.headline()
    mem = IncidentBook() if memory else None
    order = sorted(range(len(rows)), key=lambda i: str(rows[i].get("published") or ""))
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(order), BATCH):
        idx = order[start:start + BATCH]
        recorder = RawScores(head)
        labelled = label_documents([rows[i] for i in idx], recorder, featurize, mem)
        for i, raw, labels in zip(idx, recorder.raw, labelled, strict=True):
            lab, flagged = next((lab, f) for lab, f in labels if lab.label == headline)
            out[i] = {**rows[i], "raw": raw, "score": lab.score, "flagged": flagged, "reason": lab.reason or "",
                      "evidence": lab.evidence or ""}
    return [out[i] for i in range(len(rows))]


def per_1000(n: int, total: int) -> float:
    return round(1000 * n / total, 2) if total else 0.0


def above(r: dict[str, Any], thr: float) -> bool:
    """At the threshold before the cap and guard (the memory's lift included): the score is still there, or the
    cap took it away."""
    return r["score"] >= thr or r["reason"] == CAPPED or r["raw"] >= thr


def report(rows: list[dict[str, Any]], thr: float, name: str) -> dict[str, Any]:
    before = [r for r in rows if above(r, thr)]
    capped = [r for r in before if r["reason"] == CAPPED]
    after = [r for r in rows if r["flagged"]]
    print(f"{name}: n={len(rows)}  at threshold before cap+guard {len(before)} ({per_1000(len(before), len(rows))}"
          f"/1000)  capped {len(capped)}  vetoed by guard {len(before) - len(capped) - len(after)}  "
          f"flagged {len(after)} ({per_1000(len(after), len(rows))}/1000)")
    return {"n": len(rows), "before": len(before), "capped": len(capped), "flagged": len(after),
            "per_1000_before": per_1000(len(before), len(rows)), "per_1000_flagged": per_1000(len(after), len(rows))}


def quantiles(xs: list[float]) -> dict[str, float]:
    q = np.quantile(np.array(xs), [0.5, 0.9, 0.99, 1.0]) if xs else np.zeros(4)
    return {"median": round(float(q[0]), 3), "p90": round(float(q[1]), 3), "p99": round(float(q[2]), 3),
            "max": round(float(q[3]), 3)}


def as_feed_entry(row: dict[str, Any], chars: int = FEED_CHARS) -> dict[str, Any]:
    """The row as a feed entry would carry it: the title and the first whole body sentences up to ``chars``
    (the 3,000 feed items average 420 characters with their titles). Whole units, so they are the same
    sentences the full text has (and the cache has)."""
    units = document_units(row.get("title") or "", row.get("text") or "", limit=MAX_UNITS)
    lead: list[str] = []
    for unit in units[1:]:
        if lead and sum(map(len, lead)) + len(unit) > chars:
            break
        lead.append(unit)
    return {**row, "text": " ".join(lead)}


def feed_like(dev: list[dict[str, Any]], full: list[dict[str, Any]], head: Head, featurize: Featurizer,
              thr: float) -> dict[str, Any]:
    """The same dev articles seen as feed entries (title + lead), memory off: what a flag on a line of text is
    worth against a flag on the full article, and the confidence each shows (tempered by
    ``classifiers.calibration``)."""
    short = label([as_feed_entry(r) for r in dev], head, featurize, False)
    print("\nthe same dev articles as feed entries (title + lead, ~" f"{FEED_CHARS} chars), memory off, vs full text:")
    result: dict[str, Any] = {}
    for name, rows in (("full text", full), ("feed-like", short)):
        flagged = [r for r in rows if r["flagged"]]
        tp = sum(bool(r["labels"]) for r in flagged)
        pos = sum(bool(r["labels"]) for r in rows)
        raw_q, shown_q = quantiles([r["raw"] for r in flagged]), quantiles([r["score"] for r in flagged])
        prec = round(tp / len(flagged), 3) if flagged else None
        print(f"  {name:10s} flagged {len(flagged)}: {tp} positives, {len(flagged) - tp} negatives; precision {prec}; "
              f"recall {tp}/{pos}\n             raw scores of flags {raw_q}\n             shown (tempered) {shown_q}")
        result[name] = {"flagged": len(flagged), "true": tp, "positives": pos, "precision": prec,
                        "raw_of_flags": raw_q, "shown_of_flags": shown_q}
    return result


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--head", default=str(PACKAGED_HEAD), help="a fitted head folder (default: the shipped head)")
    ap.add_argument("--cache", default=None, help="optional .npz of unit embeddings (keys S16 blake2b-16, emb float32)")
    ap.add_argument("--memory", action="store_true", help="the incident book (follow-ups), in publication order (as classify)")
    ap.add_argument("--since", default=None, help="dev rows published on or after this year (for a held-out head)")
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args()
    missing = [p for p in (NEWS, DEV) if not p.is_file()]
    if missing:
        print("error: not found: " + ", ".join(map(str, missing)) + " (the benchmark reads ../shared beside the"
              " checkout: the modern feed items and dev.jsonl)", file=sys.stderr)
        return 2
    if args.cache and not Path(args.cache).is_file():
        print(f"error: --cache {args.cache}: no such file (leave it out to encode every unit)", file=sys.stderr)
        return 2

    started = time.monotonic()
    head = Head.load(args.head)
    enc = CachedEncoder(args.cache)
    featurize = Featurizer(enc)
    thr = head.threshold
    with NEWS.open(encoding="utf-8") as f:
        news = [{"title": r["title"], "text": r.get("description") or "", "published": r.get("pub_date") or "",
                 "source": r.get("source_title") or ""} for r in csv.DictReader(f)]
    with DEV.open(encoding="utf-8") as f:
        dev = [json.loads(line) for line in f if line.strip()]
    if args.since:
        dev = [r for r in dev if str(r.get("published") or "") >= args.since]
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}; python {platform.python_version()}")
    print(f"head {head.version} ({args.head})  threshold {thr:.3f}  "
          f"memory {'on' if args.memory else 'off'}  cache {args.cache or 'none'}")
    print(f"sizes: {len(news)} feed items ({NEWS.name}); dev.jsonl {len(dev)} rows"
          f"{' since ' + args.since if args.since else ''} ({sum(bool(r['labels']) for r in dev)} positive)")

    ns = label(news, head, featurize, args.memory)
    ds = label(dev, head, featurize, args.memory)
    neg = [r for r in ds if not r["labels"]]
    pos = [r for r in ds if r["labels"]]
    out: dict[str, Any] = {"head": args.head, "threshold": thr, "memory": args.memory, "since": args.since,
                           "machine": {"cores": os.cpu_count(), "cpu": cpu_model()}}
    print()
    out["feed"] = report(ns, thr, "feed items (title + description)")
    out["dev_negatives"] = report(neg, thr, "dev negatives (full text)")
    out["dev_positives"] = report(pos, thr, "dev positives (full text)")

    print("\nfeed items at the threshold before cap+guard (raw -> final, outcome [reason]):")
    for r in sorted((r for r in ns if above(r, thr)), key=lambda r: -r["raw"]):
        outcome = "FLAG" if r["flagged"] else ("capped" if r["reason"] == CAPPED else "vetoed")
        print(f"  {r['raw']:.2f} -> {r['score']:.2f} {outcome:6s} {r['title'][:90]}  [{r['reason']}]")
    print("feed items flagged, with their evidence:")
    for r in sorted((r for r in ns if r["flagged"]), key=lambda r: -r["score"]):
        print(f"  {r['score']:.2f}  {r['title'][:100]}\n        evidence: {r['evidence'][:200]}")
    # What a better model could flag: the guard alone (no cap, no threshold), as tests/test_noise_pin.py pins it.
    passing = [r for r in ns if headline_guard(document_units(r["title"], r["text"], limit=MAX_UNITS)).passes]
    print(f"feed items the guard lets through at any score: {len(passing)}")
    for r in sorted(passing, key=lambda r: -r["raw"]):
        print(f"  raw {r['raw']:.2f}  {r['title'][:100]}")
    out["feed_guard_passing"] = [{"title": r["title"], "raw": round(r["raw"], 3)} for r in passing]
    out["feed_flags"] = [{"title": r["title"], "score": round(r["score"], 3), "evidence": r["evidence"]}
                         for r in ns if r["flagged"]]

    by: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0])  # positives, above thr, flagged
    for r in pos:
        b = by[r.get("incident") or "?"]
        b[0] += 1
        b[1] += above(r, thr)
        b[2] += r["flagged"]
    print("\ndev positives by incident (positives / at threshold before cap+guard / flagged):")
    for inc, (n, a, f) in sorted(by.items()):
        print(f"  {inc:26s} {n} / {a} / {f}")
    vetoed = [r for r in pos if above(r, thr) and not r["flagged"]]
    for r in vetoed:
        print(f"  VETOED {r.get('incident')} {r['id']} raw {r['raw']:.2f} [{r['reason']}]")
    out["dev_vetoed_positives"] = [{"id": r["id"], "incident": r.get("incident"), "raw": round(r["raw"], 3),
                                    "reason": r["reason"]} for r in vetoed]
    fps = [r for r in neg if above(r, thr)]
    print(f"\ndev negatives at the threshold: {len(fps)} before cap+guard, {sum(r['flagged'] for r in fps)} flagged")
    for r in fps:  # ids only: dev.jsonl text stays out of reports
        print(f"  {'kept   ' if r['flagged'] else 'removed'} {r['id']} raw {r['raw']:.2f} [{r['reason']}]")
    out["dev_negatives_flagged_ids"] = [r["id"] for r in fps if r["flagged"]]

    print("\nscore distribution (headline, raw: before memory, cap and guard):")
    for name, rows in (("feed items, title + description", ns), ("dev negatives, full text", neg)):
        xs = [r["raw"] for r in rows]
        q = quantiles(xs)
        chars = np.mean([len(r.get("title") or "") + len(r.get("text") or "") for r in rows])
        print(f"  {name:32s} chars/doc {chars:6.0f}  {q}  raw >= thr {per_1000(sum(x >= thr for x in xs), len(xs))}"
              f"/1000")
        out.setdefault("distribution", {})[name] = {**q, "chars_per_doc": round(float(chars))}
    out["feed_like_dev"] = feed_like(dev, ds, head, featurize, thr)
    print(f"\nunits encoded outside the cache: {enc.missed}; wall {time.monotonic() - started:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
