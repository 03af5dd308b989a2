"""How consistent is the publisher's own tagging? Pairs of dev.jsonl articles that tell the same story (TF-IDF
cosine of title + text >= a cut-off, published within 3 months of each other) should carry the same tags if the tag
followed the content; the share that agree, by tag, is a ceiling no content model can pass on that tag.
    .venv/bin/python benchmarks/detection_research/tag_agreement.py
"""
import json, sys
from pathlib import Path
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
ROOT = Path(__file__).resolve().parents[2]
rows = [json.loads(l) for l in open(ROOT.parent / "shared" / "eval" / "dev.jsonl")]
CATS = ("vulnerability", "malware", "cyber_attack", "data_breach")
X = TfidfVectorizer(sublinear_tf=True, min_df=2, max_df=0.5, stop_words="english").fit_transform(
    [r["title"] + "\n" + r["text"] for r in rows])
S = (X @ X.T).toarray(); np.fill_diagonal(S, 0)
month = np.array([int(r["published"][:4]) * 12 + int(r["published"][5:7]) for r in rows])
G = np.array([[c in r["categories"] for c in CATS] for r in rows])
for cut in (0.3, 0.4, 0.5):
    i, j = np.nonzero(np.triu(S >= cut) & (np.abs(month[:, None] - month[None, :]) <= 3))
    print(f"cosine >= {cut}: {len(i)} pairs")
    for k, c in enumerate(CATS):
        either = G[i, k] | G[j, k]
        both = G[i, k] & G[j, k]
        # of the pairs where at least one article has the tag, the share where both have it
        # F1 of one article's tag read as a prediction of the other's: 2 x both / (either + both)
        print(f"  {c:14s} pairs with the tag on either: {either.sum():3d}, on both: {both.sum():3d}, "
              f"agreement F1 {2 * both.sum() / max(1, either.sum() + both.sum()):.2f}")
