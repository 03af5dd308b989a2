"""How far to trust the leave-one-incident-out headline figure: a bootstrap over incidents (each resampled with all
its articles) and over negative articles, from `eval --json` output (its per-incident catches and its false
positives). Usage:
    supplywatch eval ../shared/eval/dev.jsonl --folds incident --errors --json > loio.json
    .venv/bin/python benchmarks/detection_research/headline_ci.py loio.json
"""
import json
import sys

import numpy as np

d = json.load(open(sys.argv[1]))
inc = d["incidents"]
caught = np.array([v["caught"] for v in inc.values()]); of = np.array([v["of"] for v in inc.values()])
fp = sum(1 for e in d["errors"] if e["error"] == "false positive")
negatives = d["n"] - int(of.sum())
rng = np.random.default_rng(13)
f1s, ps = [], []
for _ in range(20_000):
    pick = rng.integers(0, len(inc), len(inc))
    tp, pos = caught[pick].sum(), of[pick].sum()
    f = rng.binomial(negatives, fp / negatives)  # the negatives resampled: false positives among them
    p = tp / (tp + f) if tp + f else 0.0; r = tp / pos
    f1s.append(2 * p * r / (p + r) if p + r else 0.0); ps.append(p)
f1s, ps = np.array(f1s), np.array(ps)
print(f"incidents {len(inc)}, positives {of.sum()}, caught {caught.sum()}, false positives {fp} of {negatives}")
print(f"F1 {d['labels']['supply_chain_cert_compromise']['f1']}: bootstrap 90% interval "
      f"{np.percentile(f1s, 5):.3f}-{np.percentile(f1s, 95):.3f}; share of resamples >= 0.80: {(f1s >= 0.8).mean():.2f}")
print(f"precision {d['labels']['supply_chain_cert_compromise']['precision']}: 90% interval "
      f"{np.percentile(ps, 5):.3f}-{np.percentile(ps, 95):.3f}; share >= 0.80: {(ps >= 0.8).mean():.2f}")
