"""Title words for the topic tags (benchmarks/QUALITY.md, "Title words"), session 27: the research harness of
topics_words.py, with the title's words counted again (twice: title3, three times: title4) or in a vocabulary of
their own (tpref: each title word prefixed "tt"). Chosen on the early years only (2011-2014, each scored by a fit
on the other early years), then read once on the time split and all year folds:
    .venv/bin/python benchmarks/detection_research/topics_title.py units title3     # early years
    .venv/bin/python benchmarks/detection_research/topics_title.py final            # time split + all years
"""
import json, sys, time
from pathlib import Path
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
ROOT = Path(__file__).resolve().parents[2]; sys.path.insert(0, str(ROOT))
from supplywatch.classifiers import examples as project_examples
from supplywatch.classifiers.encoder import Encoder
from supplywatch.classifiers.evaluate import read_jsonl
from supplywatch.classifiers.features import Featurizer
from supplywatch.classifiers.train import _platt, _best_threshold
from supplywatch.store.embcache import for_encoder
from supplywatch.store import vocabulary
CATS = vocabulary.topics()
rows = read_jsonl(str(ROOT.parent / "shared" / "eval" / "dev.jsonl")); ex = project_examples()
allrows = ex + rows
nex = len(ex)
year = np.array([0] * nex + [int(str(r.get("published"))[:4]) for r in rows])
Y = {c: np.array([c in (r.get("categories") or []) for r in allrows], int) for c in CATS}
t0 = time.time()
enc = Encoder(); fz = Featurizer(enc, cache=for_encoder(enc.identity, 200_000))
feats = fz(allrows)
L = np.array([f.lead for f in feats])
LEADTXT = [" ".join(f.units[:8]) for f in feats]
from supplywatch.classifiers.passages import document_units
UNITSTXT = [" ".join(document_units(r.get("title") or "", r.get("text") or "", limit=40)) for r in allrows]
TITLE3 = [" ".join([(r.get("title") or "")] * 2) + " " + u for r, u in zip(allrows, UNITSTXT)]
import re as _re
TITLE4 = [" ".join([(r.get("title") or "")] * 3) + " " + u for r, u in zip(allrows, UNITSTXT)]
TPREF = [" ".join("tt" + w for w in _re.findall(r"\w\w+", (r.get("title") or "").lower())) + " . " + u for r, u in zip(allrows, UNITSTXT)]
FULLTXT = [(r.get("title") or "") + "\n" + (r.get("text") or "") for r in allrows]
print("features", round(time.time() - t0), "s", flush=True)

def oof_fit(X, y, C, thr_mask):
    clf = LogisticRegression(C=C, class_weight="balanced", max_iter=5000).fit(X, y)
    z = np.zeros(len(y))
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=13).split(X, y):
        z[te] = LogisticRegression(C=C, class_weight="balanced", max_iter=5000).fit(X[tr], y[tr]).decision_function(X[te])
    return clf, z

def calib(z, y, m):
    if y[m].sum() < 10 or (1 - y[m]).sum() < 10:
        m = np.ones(len(y), bool)
    a, c = _platt(z[m], y[m]); t = _best_threshold(1 / (1 + np.exp(-(a * z[m] + c))), y[m])
    return a, c, t

def prf(pred, gold):
    tp = int((pred & gold).sum()); fp = int((pred & ~gold).sum()); fn = int((~pred & gold).sum())
    p = tp / (tp + fp) if tp + fp else 0; r = tp / (tp + fn) if tp + fn else 0
    return 2 * p * r / (p + r) if p + r else 0

def run(splits, design, text, C_emb=4.0, C_tf=8.0, wt=0.5):
    res = {c: [[], []] for c in CATS}
    for tr, te, ref in splits:
        yrs = year[tr]
        dm = np.where(yrs == 0, 99, np.abs(ref - yrs)); mask = dm <= np.min(dm[yrs > 0]) + 1
        if design != "emb":
            vec = TfidfVectorizer(sublinear_tf=True, min_df=2, max_df=0.5, ngram_range=(1, 2), max_features=100_000,
                                  stop_words="english")
            T = [text[i] for i in tr]; Xtr = vec.fit_transform(T); Xte = vec.transform([text[i] for i in te])
        for c in CATS:
            y = Y[c][tr]
            zs_tr, zs_te = [], []
            if design in ("emb", "fuse"):
                clf, z = oof_fit(L[tr], y, C_emb, mask); zs_tr.append(z); zs_te.append(clf.decision_function(L[te]))
            if design in ("tfidf", "fuse"):
                clf, z = oof_fit(Xtr, y, C_tf, mask); zs_tr.append(z); zs_te.append(clf.decision_function(Xte))
            if design == "fuse":
                # each model's logit standardised by its out-of-fold spread, then a weighted mean
                s = [np.std(z) or 1.0 for z in zs_tr]
                ztr = (1 - wt) * zs_tr[0] / s[0] + wt * zs_tr[1] / s[1]; zte = (1 - wt) * zs_te[0] / s[0] + wt * zs_te[1] / s[1]
            else:
                ztr, zte = zs_tr[0], zs_te[0]
            a, cc, t = calib(ztr, y, mask)
            p = 1 / (1 + np.exp(-(a * zte + cc)))
            res[c][0].append(p >= t); res[c][1].append(Y[c][te].astype(bool))
    f = {c: round(prf(np.concatenate(res[c][0]), np.concatenate(res[c][1])), 3) for c in CATS}
    f["macro"] = round(float(np.mean(list(f.values()))), 3)
    return f

years = sorted(set(year) - {0})
early = [(np.flatnonzero((year != y) & (year < 2015)), np.flatnonzero(year == y), y) for y in years if y < 2015]
ts = [(np.flatnonzero(year < 2015), np.flatnonzero(year >= 2015), 2015)]
print("early years", [y for y in years if y < 2015], "test rows", sum(len(te) for _, te, _ in early), flush=True)
for which in sys.argv[1:]:
    if which == "final": break
    text = {"units": UNITSTXT, "title3": TITLE3, "title4": TITLE4, "tpref": TPREF}[which]
    t = time.time()
    print(which, "early-years", json.dumps(run(early, "tfidf", text)), f"{time.time() - t:.0f}s", flush=True)
if sys.argv[1:] == ["final"]:
    for which, text in (("units", UNITSTXT), ("tpref", TPREF)):
        print(which, "time-split", json.dumps(run(ts, "tfidf", text)), "| all-years", json.dumps(run([(np.flatnonzero(year != y), np.flatnonzero(year == y), y) for y in years], "tfidf", text)), flush=True)
