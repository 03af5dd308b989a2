"""Every article carries at least one publisher tag (dev.jsonl: 0 of 2,190 untagged; 87% carry exactly one), so an
article none of whose topics passes its threshold gets the topic nearest its threshold. Research harness of
topics_words.py (imported: its texts, folds and fit), run from this folder:
    ../../.venv/bin/python topics_atleast.py early     # choose the variant on the early years (2011-2014)
    ../../.venv/bin/python topics_atleast.py final     # read the chosen one once: time split, all year folds
"""
import json, sys, time
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from topics_words import CATS, UNITSTXT, Y, calib, loyo, oof_fit, prf, ts, year, years

def scores(splits, text, C_tf=8.0):
    """Per split: test indices, and per topic (logit, calibrated probability, threshold)."""
    out = []
    for tr, te, ref in splits:
        yrs = year[tr]
        dm = np.where(yrs == 0, 99, np.abs(ref - yrs)); mask = dm <= np.min(dm[yrs > 0]) + 1
        vec = TfidfVectorizer(sublinear_tf=True, min_df=2, max_df=0.5, ngram_range=(1, 2), max_features=100_000,
                              stop_words="english")
        Xtr = vec.fit_transform([text[i] for i in tr]); Xte = vec.transform([text[i] for i in te])
        per = {}
        for c in CATS:
            clf, z = oof_fit(Xtr, Y[c][tr], C_tf, mask)
            a, cc, t = calib(z, Y[c][tr], mask)
            zte = clf.decision_function(Xte)
            per[c] = (a * zte + cc, 1 / (1 + np.exp(-(a * zte + cc))), t,
                      1 / (1 + np.exp(-(a * z[mask] + cc))), Y[c][tr][mask])
        out.append((te, per))
    return out

def labelsets(P, T, k):
    """The topic nearest its threshold always; any other only if its probability/threshold ratio reaches k."""
    R = P / np.maximum(T, 1e-9)
    pred = R >= k
    pred[np.arange(len(P)), R.argmax(1)] = True
    return pred

def macro(pred, G):
    return np.mean([prf(pred[:, j], G[:, j]) for j in range(G.shape[1])])

KS = (1.0, 1.1, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 99.0)

def decide(out, variant):
    res = {c: [[], []] for c in CATS}
    for te, per in out:
        P = np.stack([per[c][1] for c in CATS], 1); T = np.array([per[c][2] for c in CATS])
        pred = P >= T
        if variant.startswith("k="):
            pred = labelsets(P, T, float(variant[2:]))
        elif variant == "fitted":
            # k chosen on the calibration years' out-of-fold probabilities (training rows only)
            Pc = np.stack([per[c][3] for c in CATS], 1); Gc = np.stack([per[c][4] for c in CATS], 1).astype(bool)
            k = max(KS, key=lambda k: macro(labelsets(Pc, T, k), Gc))
            print("   fitted k", k, file=sys.stderr)
            pred = labelsets(P, T, k)
        elif variant != "independent":
            none = ~pred.any(1)
            if variant == "ratio":
                key = P / np.maximum(T, 1e-9)
            elif variant == "prob":
                key = P
            else:  # "margin": calibrated logit minus the threshold's logit
                Tc = np.clip(T, 1e-6, 1 - 1e-6)
                key = np.stack([per[c][0] for c in CATS], 1) - np.log(Tc / (1 - Tc))
            pick = key.argmax(1)
            pred[none, pick[none]] = True
        for j, c in enumerate(CATS):
            res[c][0].append(pred[:, j]); res[c][1].append(Y[c][te].astype(bool))
    f = {c: round(prf(np.concatenate(res[c][0]), np.concatenate(res[c][1])), 3) for c in CATS}
    f["macro"] = round(float(np.mean(list(f.values()))), 3)
    return f

VARIANTS = ("independent", "ratio", "prob", "margin", "fitted") + tuple(f"k={k}" for k in KS)
if __name__ == "__main__":
    t = time.time()
    if sys.argv[1:] == ["early"]:
        early = [(np.flatnonzero((year != y) & (year < 2015)), np.flatnonzero(year == y), y) for y in years if y < 2015]
        out = scores(early, UNITSTXT)
        for v in VARIANTS:
            print(v, "early-years", json.dumps(decide(out, v)), flush=True)
    else:
        chosen = sys.argv[2:] or list(VARIANTS)
        for name, splits in (("time-split", ts), ("all-years", loyo)):
            out = scores(splits, UNITSTXT)
            for v in chosen:
                print(v, name, json.dumps(decide(out, v)), flush=True)
    print(f"{time.time() - t:.0f}s")
