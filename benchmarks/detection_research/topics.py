"""Topic tags (publisher's categories): year-fold measurement of topic heads, and a tag-agreement check.

Year folds: each year's rows are tagged by a head fitted on project examples + dev rows of the other years;
thresholds from 5-fold out-of-fold predictions on the training side (classifiers.train._fit_lr).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from folds import CATEGORIES, prf  # noqa: E402


def lead(f, n=8):
    v = f.emb[:n].mean(0)
    return v / (np.linalg.norm(v) or 1)


def all_mean(f):
    v = f.emb.mean(0)
    return v / (np.linalg.norm(v) or 1)


FEATURES = {
    "lead8": lambda f: lead(f, 8),
    "lead3": lambda f: lead(f, 3),
    "all": all_mean,
    "lead8+title+all": lambda f: np.concatenate([lead(f, 8), f.emb[0], all_mean(f)]),
}


def year_folds(dev, examples, featurize, feature="lead8", C=4.0):
    from supplywatch.classifiers.train import _fit_lr
    allrows = examples + dev
    X = np.array([FEATURES[feature](f) for f in featurize(allrows)])
    nex = len(examples)
    years = np.array(["ex"] * nex + [str(r.get("published"))[:4] for r in dev])
    pred = {c: np.zeros(len(dev), bool) for c in CATEGORIES}
    for y in sorted(set(years) - {"ex"}):
        tr, te = years != y, np.where(years[nex:] == y)[0]
        for c in CATEGORIES:
            yc = np.array([c in (r.get("categories") or []) for r in allrows], int)
            if yc[tr].sum() < 2:
                continue
            w, b, (a, cc), t = _fit_lr(X[tr], yc[tr], C=C)
            p = 1 / (1 + np.exp(-(a * (X[nex:][te] @ w + b) + cc)))
            pred[c][te] = p >= t
    out = {}
    for c in CATEGORIES:
        out[c] = prf(pred[c], [c in (r.get("categories") or []) for r in dev])
    out["macro_f1"] = round(float(np.mean([out[c]["f1"] for c in CATEGORIES])), 3)
    return out


def agreement(dev, featurize, sim=0.9):
    """For near-duplicate pairs (lead-embedding cosine >= sim), how often do the publisher's tags agree?"""
    L = np.array([lead(f) for f in featurize(dev)])
    S = L @ L.T
    np.fill_diagonal(S, 0)
    i, j = np.where(np.triu(S >= sim))
    res = {"pairs": int(len(i))}
    for c in CATEGORIES:
        t = np.array([c in (r.get("categories") or []) for r in dev])
        both_any = (t[i] | t[j])
        res[c] = {"pairs_with_tag": int(both_any.sum()),
                  "agree_given_one": round(float((t[i] & t[j]).sum() / max(1, both_any.sum())), 3)}
    return res, list(zip(i.tolist(), j.tolist()))


if __name__ == "__main__":
    import json
    import supplywatch.classifiers as classifiers
    from folds import load_dev, make_featurize
    dev, ex, fz = load_dev(()), classifiers.examples(), make_featurize()
    res = {"agreement": agreement(dev, fz)[0]}
    for feat in sys.argv[1:] or ["lead8"]:
        name, _, C = feat.partition("@")
        res[feat] = year_folds(dev, ex, fz, name, float(C or 4.0))
        print(feat, json.dumps(res[feat]), flush=True)
    print(json.dumps(res["agreement"], indent=1))
