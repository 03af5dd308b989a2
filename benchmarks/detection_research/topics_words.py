"""Topic tags from words (benchmarks/QUALITY.md, "Topic tags from words"): TF-IDF word features, alone and fused
with the lead embedding, against the lead-embedding topic head, on the year folds and the time split of dev.jsonl,
each topic's threshold chosen on the two nearest training years (as the product does).

Texts: "full" (title + whole text), "lead" (the first 8 units), "units" (title + up to 40 sentences joined by spaces;
the product sums its units' counts instead, so no bigram spans two sentences). The vectorizer is fitted on each
fold's training rows only. Usage (from a checkout, ~2-4 min a configuration on 2 cores):
    .venv/bin/python benchmarks/detection_research/topics_words.py ['["tfidf","units",{"C_tf":8}]' ...]
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
loyo = [(np.flatnonzero(year != y), np.flatnonzero(year == y), y) for y in years]
ts = [(np.flatnonzero(year < 2015), np.flatnonzero(year >= 2015), 2015)]
configs = [("emb", None, {}), ("tfidf", "full", {}), ("tfidf", "lead", {}), ("fuse", "full", {}), ("fuse", "lead", {})]
if __name__ == "__main__":  # imported by topics_title.py for its features and run()
    if len(sys.argv) > 1:
        configs = [tuple(json.loads(a)) for a in sys.argv[1:]]
    for design, which, kw in configs:
        text = {"full": FULLTXT, "units": UNITSTXT}.get(which, LEADTXT)
        t = time.time()
        print(design, which, kw, "years", json.dumps(run(loyo, design, text, **kw)), "| time", json.dumps(run(ts, design, text, **kw)),
              f"{time.time() - t:.0f}s", flush=True)
