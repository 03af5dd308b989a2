"""The time split, torch fp32 against the int8 encoder, at a fraction of a full `eval`'s encoding.

    python benchmarks/int8_check.py [--since 2015] [--head classifiers/head-timesplit] [--topics]

Exact for the headline, not an approximation: a document none of whose units names a signing artefact is
never flagged (``guard.cap_headline``), and the incident memory only learns from flags, so labelling the
artefact-naming documents alone, in publication order, gives every headline flag of the full run. Prints
P/R/F1 over all rows from ``--since`` on (the others count as not flagged) for both encoders, and the flags
that differ. With ``--topics``, also each topic's P/R/F1 from every row's lead (title + first sentences: all the
topic heads read, so exact too) under both encoders.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEV = ROOT.parent / "shared" / "eval" / "dev.jsonl"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--since", default="2015")
    ap.add_argument("--head", default=str(ROOT / "classifiers" / "head-timesplit"))
    ap.add_argument("--topics", action="store_true")
    ap.add_argument("--no-headline", action="store_true")
    args = ap.parse_args()
    from supplywatch.classifiers import HEADLINE, Head
    from supplywatch.classifiers.encoder import Encoder
    from supplywatch.classifiers.evaluate import _prf, label_rows, read_jsonl
    from supplywatch.classifiers.features import MAX_UNITS, Featurizer, select_units
    from supplywatch.classifiers.passages import document_units

    rows = read_jsonl(DEV, since=args.since)
    head = Head.load(args.head)
    cand = [r for r in rows
            if (lambda us: select_units(us) is us)(document_units(r["title"], r["text"], limit=MAX_UNITS))]
    gold_all = sum(HEADLINE in (r.get("labels") or []) for r in rows)
    print(f"rows since {args.since}: {len(rows)}, positives {gold_all}; naming an artefact: {len(cand)}", flush=True)
    result = {}
    if args.topics:
        topics(rows, head)
    for backend in ("torch", "onnx-int8") if not args.no_headline else ():
        ordered, pred, _ = label_rows(cand, lambda _r: head, Featurizer(Encoder(backend=backend), select=True))
        flagged = {r["id"] for r, p in zip(ordered, pred, strict=True) if p}
        result[backend] = flagged
        preds = [r["id"] in flagged for r in rows]
        gold = [HEADLINE in (r.get("labels") or []) for r in rows]
        print(f"{backend:10s} headline {_prf(preds, gold)}", flush=True)
    if result:
        print(f"flags only fp32: {sorted(result['torch'] - result['onnx-int8'])}; "
              f"only int8: {sorted(result['onnx-int8'] - result['torch'])}")
    return 0


def topics(rows: list[dict], head) -> None:  # noqa: ANN001
    import numpy as np

    from supplywatch.classifiers import CATEGORIES
    from supplywatch.classifiers.encoder import Encoder
    from supplywatch.classifiers.evaluate import _prf
    from supplywatch.classifiers.features import LEAD_UNITS, MAX_UNITS, DocFeatures, unit_key
    from supplywatch.classifiers.lexical import sentence_cues
    from supplywatch.classifiers.passages import document_units

    leads = [document_units(r["title"], r["text"], limit=MAX_UNITS)[:LEAD_UNITS] for r in rows]
    todo = sorted({u for lead in leads for u in lead})
    flags = {}
    for backend in ("torch", "onnx-int8"):
        vec = dict(zip(map(unit_key, todo), Encoder(backend=backend).encode(todo), strict=True))
        preds = []
        for lead in leads:
            feats = DocFeatures(lead, np.stack([vec[unit_key(u)] for u in lead]),
                                np.array([sentence_cues(u) for u in lead], dtype=np.float32))
            preds.append([s >= t for (_, s, _), t in zip(head.categories(feats), head.cat_thresholds, strict=True)])
        flags[backend] = preds
        f1s = {c: _prf([p[i] for p in preds], [c in (r.get("categories") or []) for r in rows])
               for i, c in enumerate(CATEGORIES)}
        print(f"{backend:10s} topics {f1s}; macro-F1 {np.mean([v['f1'] for v in f1s.values()]):.4f}", flush=True)
    changed = sum(a != b for a, b in zip(flags["torch"], flags["onnx-int8"], strict=True))
    print(f"rows with a topic flag changed: {changed}/{len(rows)}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
