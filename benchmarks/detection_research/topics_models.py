"""Other word models for the topic tags, against today's (logistic regression on word + bigram TF-IDF, C = 8):
char n-grams added, a linear SVM, NB-SVM's log-count-ratio scaling, and the lead embedding concatenated to the words.
Research harness of topics_words.py (imported: texts, folds, calibration), run from this folder:
    ../../.venv/bin/python topics_models.py early [variant ...]   # choose on the early years (2011-2014)
    ../../.venv/bin/python topics_models.py final variant ...     # read once: time split, all year folds
"""
import json, sys, time
import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC
from topics_words import CATS, L, UNITSTXT, Y, calib, loyo, prf, ts, year, years

def words(**kw):
    return TfidfVectorizer(sublinear_tf=True, min_df=2, max_df=0.5, ngram_range=(1, 2), max_features=100_000,
                           stop_words="english", **kw)

def model(kind, C):
    if kind == "svm":
        return LinearSVC(C=C, class_weight="balanced", max_iter=20000)
    return LogisticRegression(C=C, class_weight="balanced", max_iter=5000)

def oof(X, y, kind, C, nb=False):
    def fit(Xa, ya):
        r = None
        if nb:  # NB-SVM (Wang & Manning 2012): scale each term by its log-count ratio, learned on the fit's rows
            Xb = (Xa > 0).astype(float)
            p = np.asarray(Xb[ya == 1].sum(0)).ravel() + 1; q = np.asarray(Xb[ya == 0].sum(0)).ravel() + 1
            r = np.log((p / p.sum()) / (q / q.sum()))
            Xa = Xa @ sp.diags(r)
        return model(kind, C).fit(Xa, ya), r
    def score(m, X2):
        clf, r = m
        return clf.decision_function(X2 @ sp.diags(r) if r is not None else X2)
    full = fit(X, y)
    z = np.zeros(len(y))
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=13).split(X, y):
        z[te] = score(fit(X[tr], y[tr]), X[te])
    return full, z, score

def run(splits, variant):
    res = {c: [[], []] for c in CATS}
    kind, C, nb, chars, emb = variant.get("kind", "lr"), variant.get("C", 8.0), variant.get("nb", False), variant.get("chars", False), variant.get("emb", 0.0)
    for tr, te, ref in splits:
        yrs = year[tr]
        dm = np.where(yrs == 0, 99, np.abs(ref - yrs)); mask = dm <= np.min(dm[yrs > 0]) + 1
        vec = words(); Xtr = vec.fit_transform([UNITSTXT[i] for i in tr]); Xte = vec.transform([UNITSTXT[i] for i in te])
        if chars:
            cv = TfidfVectorizer(sublinear_tf=True, analyzer="char_wb", ngram_range=(3, 5), min_df=3, max_df=0.5, max_features=200_000)
            Xtr = sp.hstack([Xtr, cv.fit_transform([UNITSTXT[i] for i in tr])]).tocsr(); Xte = sp.hstack([Xte, cv.transform([UNITSTXT[i] for i in te])]).tocsr()
        if emb:
            mu, sd = L[tr].mean(0), L[tr].std(0) + 1e-6
            Xtr = sp.hstack([Xtr, sp.csr_matrix(emb * (L[tr] - mu) / sd)]).tocsr(); Xte = sp.hstack([Xte, sp.csr_matrix(emb * (L[te] - mu) / sd)]).tocsr()
        P, T = [], []
        for c in CATS:
            y = Y[c][tr]
            m, z, score = oof(Xtr, y, kind, C, nb)
            a, cc, t = calib(z, y, mask)
            P.append(1 / (1 + np.exp(-(a * score(m, Xte) + cc)))); T.append(t)
        P, T = np.stack(P, 1), np.array(T)
        pred = P >= T
        if variant.get("atleast"):  # every article carries a tag: none passing, the one nearest its threshold
            none = ~pred.any(1); pred[none, (P / T).argmax(1)[none]] = True
        for j, c in enumerate(CATS):
            res[c][0].append(pred[:, j]); res[c][1].append(Y[c][te].astype(bool))
    f = {c: round(prf(np.concatenate(res[c][0]), np.concatenate(res[c][1])), 3) for c in CATS}
    f["macro"] = round(float(np.mean(list(f.values()))), 3)
    return f

VARIANTS = {"today": {}, "svm": {"kind": "svm", "C": 0.5}, "svm-C0.1": {"kind": "svm", "C": 0.1},
            "nbsvm": {"kind": "svm", "C": 0.1, "nb": True}, "nblr": {"nb": True, "C": 8.0},
            "chars": {"chars": True}, "svm-C0.05": {"kind": "svm", "C": 0.05}, "svm-C0.2": {"kind": "svm", "C": 0.2},
            "svm-C0.03": {"kind": "svm", "C": 0.03}, "lr-C1": {"C": 1.0}, "lr-C2": {"C": 2.0}, "lr-C0.5": {"C": 0.5},
            "svm-C0.2+1": {"kind": "svm", "C": 0.2, "atleast": True}, "svm-C0.1+1": {"kind": "svm", "C": 0.1, "atleast": True},
            "lr-C2+1": {"C": 2.0, "atleast": True}, "today+1": {"atleast": True}, "emb0.05": {"emb": 0.05}, "emb0.02": {"emb": 0.02}}
if __name__ == "__main__":
    which = sys.argv[1]; names = sys.argv[2:] or list(VARIANTS)
    early = [(np.flatnonzero((year != y) & (year < 2015)), np.flatnonzero(year == y), y) for y in years if y < 2015]
    for n in names:
        t = time.time()
        if which == "early":
            print(n, "early-years", json.dumps(run(early, VARIANTS[n])), f"{time.time() - t:.0f}s", flush=True)
        else:
            print(n, "time-split", json.dumps(run(ts, VARIANTS[n])), "| all-years", json.dumps(run(loyo, VARIANTS[n])),
                  f"{time.time() - t:.0f}s", flush=True)
