"""Topic thresholds under a drifting tag (benchmarks/QUALITY.md, "Topic thresholds follow the latest tagging
habit"): the product's topic fit (train._fit_lr's shape, C = 4) with its Platt scaling and threshold chosen on the
training years nearest the scored ones (a window of 1-3 year distances, undated examples in or out), and with
recency sample weights (half-life in years) on the fit, on the year folds and the time split of dev.jsonl.
Usage: python benchmarks/detection_research/topics_calibration.py
import json, sys
from pathlib import Path
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
ROOT = Path(__file__).resolve().parents[2]; sys.path.insert(0, str(ROOT))
from supplywatch.classifiers import examples as project_examples
from supplywatch.classifiers.encoder import Encoder
from supplywatch.classifiers.evaluate import read_jsonl
from supplywatch.classifiers.features import Featurizer
from supplywatch.classifiers.train import _platt, _best_threshold, _fit_lr
from supplywatch.store.embcache import for_encoder
from supplywatch.store import vocabulary
CATS = vocabulary.topics()
rows = read_jsonl(str(ROOT.parent / "shared" / "eval" / "dev.jsonl")); ex = project_examples()
enc = Encoder(); fz = Featurizer(enc, cache=for_encoder(enc.identity, 200_000))
allrows = ex + rows
feats = fz(allrows)
L = np.array([f.lead for f in feats])
nex = len(ex)
year = np.array([0] * nex + [int(str(r.get("published"))[:4]) for r in rows])
Y = {c: np.array([c in (r.get("categories") or []) for r in allrows], int) for c in CATS}
print("ex cats", {c: int(Y[c][:nex].sum()) for c in CATS}, nex, flush=True)

def fit_w(X, y, w, C=4.0, thr_mask=None):
    clf = LogisticRegression(C=C, class_weight="balanced", max_iter=5000).fit(X, y, sample_weight=w)
    z = np.zeros(len(y))
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=13).split(X, y):
        z[te] = LogisticRegression(C=C, class_weight="balanced", max_iter=5000).fit(X[tr], y[tr], sample_weight=w[tr]).decision_function(X[te])
    m = thr_mask if thr_mask is not None else np.ones(len(y), bool)
    if y[m].sum() < 10 or (1 - y[m]).sum() < 10:
        m = np.ones(len(y), bool)
    a, c = _platt(z[m], y[m])
    t = _best_threshold(1 / (1 + np.exp(-(a * z[m] + c))), y[m])
    return clf.coef_[0], clf.intercept_[0], (a, c), t

def prf(pred, gold):
    tp = int((pred & gold).sum()); fp = int((pred & ~gold).sum()); fn = int((~pred & gold).sum())
    p = tp / (tp + fp) if tp + fp else 0; r = tp / (tp + fn) if tp + fn else 0
    return 2 * p * r / (p + r) if p + r else 0

def run(splits, weighting, h, ex_w, thr_recent):
    res = {c: [[], []] for c in CATS}
    for tr, te, ref in splits:
        yrs = year[tr]
        d = np.where(yrs == 0, np.nan, np.abs(ref - yrs))
        w = np.ones(len(tr)) if weighting == "none" else np.where(np.isnan(d), ex_w, 2.0 ** (-np.nan_to_num(d) / h))
        if weighting != "none":
            w = np.where(yrs == 0, ex_w, w)
        mask = None
        if thr_recent:
            dm = np.where(yrs == 0, 99 if not INC_EX else 0, np.abs(ref - yrs)); mask = dm <= np.min(dm[yrs > 0]) + thr_recent - 1
        for c in CATS:
            y = Y[c]
            wv, b, (a, cc), t = fit_w(L[tr], y[tr], w, thr_mask=mask)
            p = 1 / (1 + np.exp(-(a * (L[te] @ wv + b) + cc)))
            res[c][0].append(p >= t); res[c][1].append(y[te].astype(bool))
    f = {c: round(prf(np.concatenate(res[c][0]), np.concatenate(res[c][1])), 3) for c in CATS}
    f["macro"] = round(float(np.mean(list(f.values()))), 3)
    return f

years = sorted(set(year) - {0})
loyo = [(np.flatnonzero(year != y), np.flatnonzero(year == y), y) for y in years]
ts = [(np.flatnonzero(year < 2015), np.flatnonzero(year >= 2015), 2015)]
INC_EX = False
for win in (1, 2, 3):
    print(("win", win), "LOYO", json.dumps(run(loyo, "none", 1, 1.0, win)), "| time", json.dumps(run(ts, "none", 1, 1.0, win)), flush=True)
INC_EX = True
print(("win+ex", 2), "LOYO", json.dumps(run(loyo, "none", 1, 1.0, 2)), "| time", json.dumps(run(ts, "none", 1, 1.0, 2)), flush=True)
INC_EX = False
for h in (0.5, 1, 2):
    for win in (0, 2):  # 0: threshold over all years
        print(("weights", h, "window", win), "LOYO", json.dumps(run(loyo, "rec", h, 1.0, win)), "| time",
              json.dumps(run(ts, "rec", h, 1.0, win)), flush=True)
