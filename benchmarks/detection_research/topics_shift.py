"""Topic tags under a drifting tag: the product's topic fit (train._fit_lr on a document vector) on the year folds
and the time split, with and without EM prior adaptation on the scored batch (Saerens et al. 2002), on the lead
vector, the mean of all sentence vectors, or both (benchmarks/QUALITY.md).
Usage: python topics_shift.py [lead] [all] [lead+all]"""
import json, sys
from pathlib import Path
import numpy as np
from supplywatch.classifiers import examples as project_examples
from supplywatch.classifiers.encoder import Encoder
from supplywatch.classifiers.evaluate import read_jsonl
from supplywatch.classifiers.features import Featurizer
from supplywatch.classifiers.train import _fit_lr
from supplywatch.store.embcache import for_encoder
from supplywatch.store import vocabulary
CATS = vocabulary.topics()
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
rows = read_jsonl(str(ROOT.parent / "shared" / "eval" / "dev.jsonl")); ex = project_examples()
enc = Encoder(); fz = Featurizer(enc, cache=for_encoder(enc.identity, 200_000))
allrows = ex + rows
feats = fz(allrows)
L = np.array([f.lead for f in feats])
A = np.array([f.emb.mean(0) / np.linalg.norm(f.emb.mean(0)) for f in feats])
nex = len(ex)
year = np.array(["ex"] * nex + [str(r.get("published"))[:4] for r in rows])
Y = {c: np.array([c in (r.get("categories") or []) for r in allrows], int) for c in CATS}

def em_prior(p, pi_tr, iters=100):
    pi = pi_tr
    for _ in range(iters):
        q = (pi / pi_tr) * p / ((pi / pi_tr) * p + ((1 - pi) / (1 - pi_tr)) * (1 - p))
        new = q.mean()
        if abs(new - pi) < 1e-6: break
        pi = new
    return pi, q

def prf(pred, gold):
    tp = int((pred & gold).sum()); fp = int((pred & ~gold).sum()); fn = int((~pred & gold).sum())
    p = tp / (tp + fp) if tp + fp else 0; r = tp / (tp + fn) if tp + fn else 0
    return 2 * p * r / (p + r) if p + r else 0

def run(X, splits, C=4.0):
    res = {m: {c: [np.zeros(0, bool), np.zeros(0, bool)] for c in CATS} for m in ("base", "em", "emcount")}
    for tr, te in splits:
        for c in CATS:
            y = Y[c]
            w, b, (a, cc), t = _fit_lr(X[tr], y[tr], C=C)
            p = 1 / (1 + np.exp(-(a * (X[te] @ w + b) + cc)))
            pi_tr = float(y[tr].mean())
            pi_te, q = em_prior(p, pi_tr)
            g = y[te].astype(bool)
            for m, pred in (("base", p >= t), ("em", q >= t), ("emcount", q >= np.sort(q)[::-1][max(0, int(round(pi_te * len(q))) - 1)])):
                res[m][c][0] = np.concatenate([res[m][c][0], pred]); res[m][c][1] = np.concatenate([res[m][c][1], g])
    out = {}
    for m in res:
        f = {c: round(prf(*res[m][c]), 3) for c in CATS}
        f["macro"] = round(float(np.mean(list(f.values()))), 3)
        out[m] = f
    return out

years = sorted(set(year) - {"ex"})
loyo = [(np.flatnonzero(year != y), np.flatnonzero(year == y)) for y in years]
ts = [(np.flatnonzero((year == "ex") | (year < "2015")), np.flatnonzero((year != "ex") & (year >= "2015")))]
which = sys.argv[1:] or ["lead"]
for feat in which:
    X = {"lead": L, "all": A, "lead+all": np.hstack([L, A])}[feat]
    print(feat, "LOYO", json.dumps(run(X, loyo)), flush=True)
    print(feat, "time", json.dumps(run(X, ts)), flush=True)
