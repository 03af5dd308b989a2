"""A fold-fast, numerically equivalent re-implementation of the shipped head's headline fit
(classifiers.train.fit, headline part): the unit x candidate-prototype similarity matrix is computed once
for all documents and each fold only selects columns. For measurement only (folds.py)."""
from __future__ import annotations

import numpy as np

from supplywatch.classifiers.model import K, _sigmoid

HEADLINE = "supply_chain_cert_compromise"


def _topk_mean_rows(S, k):
    k = min(k, S.shape[1])
    if k == 0:
        return np.zeros(S.shape[0], np.float32)
    return np.partition(S, -k, axis=1)[:, -k:].mean(1)


class FastBaseline:
    name = "baseline prototype-margin"

    def __init__(self):
        self.ready = False

    def _prepare(self, feats, rows):
        # all documents the folds will see, once
        self.index = {id(f): i for i, f in enumerate(feats)}
        self.feats = feats
        self.y = np.array([HEADLINE in (r.get("labels") or []) for r in rows], int)
        starts = np.cumsum([0] + [len(f.units) for f in feats])
        self.rows = [(starts[i], starts[i + 1]) for i in range(len(feats))]
        U = np.vstack([f.emb for f in feats]).astype(np.float32)
        cand_pos, cand_neg, own_pos, own_neg = [], [], [], []
        for i, f in enumerate(feats):
            sel = np.where(f.cues[:, 0] > 0)[0]
            if self.y[i] and len(sel) == 0:
                sel = np.arange(min(3, len(f.units)))
            (cand_pos if self.y[i] else cand_neg).extend(starts[i] + sel)
            (own_pos if self.y[i] else own_neg).extend([i] * len(sel))
        self.own_pos, self.own_neg = np.array(own_pos), np.array(own_neg)
        self.Sp = U @ U[cand_pos].T
        self.Sn = U @ U[cand_neg].T
        self.ready = True

    def prepare(self, rows, feats):
        self._prepare(feats, rows)

    def _features(self, i, Sp, Sn, mask_p=None, mask_n=None):
        f = self.feats[i]
        a, b = self.rows[i]
        sp, sn = Sp[a:b].copy(), Sn[a:b].copy()
        if mask_p is not None and mask_p.any():
            sp[:, mask_p] = -1.0
        if mask_n is not None and mask_n.any():
            sn[:, mask_n] = -1.0
        p, n = _topk_mean_rows(sp, K), _topk_mean_rows(sn, K)
        margin = p - n
        cues = f.cues
        top3 = np.sort(margin)[-3:].mean()
        cue_margin = margin[cues[:, 0] > 0].max() if (cues[:, 0] > 0).any() else margin.min()
        return np.array([margin.max(), top3, p.max(), margin[0], float(cues[:, 2].sum() > 0),
                         np.log1p(cues[:, 2].sum()), cue_margin, cues[:, 3].mean(), (margin > 0.05).mean()])

    def train_features(self, feats):
        """(X of the training docs with own prototypes masked, scorer(f) -> feature vector)."""
        idx = np.array([self.index[id(f)] for f in feats])
        train = np.zeros(len(self.feats), bool)
        train[idx] = True
        cp, cn = train[self.own_pos], train[self.own_neg]
        Sp, Sn = self.Sp[:, cp], self.Sn[:, cn]
        op, on = self.own_pos[cp], self.own_neg[cn]
        X = np.array([self._features(i, Sp, Sn, op == i, on == i) for i in idx])
        return X, (lambda f: self._features(self.index[id(f)], Sp, Sn))

    def fit(self, rows, feats):
        from supplywatch.classifiers.train import _fit_lr
        assert self.ready, "call prepare(all rows, all feats) first"
        idx = np.array([self.index[id(f)] for f in feats])
        train = np.zeros(len(self.feats), bool)
        train[idx] = True
        cp, cn = train[self.own_pos], train[self.own_neg]
        Sp, Sn = self.Sp[:, cp], self.Sn[:, cn]
        op, on = self.own_pos[cp], self.own_neg[cn]
        X = np.array([self._features(i, Sp, Sn, op == i, on == i) for i in idx])
        w, b, platt, thr = _fit_lr(X, self.y[idx], C=1.0)
        return _Fitted(self, Sp, Sn, w, b, platt, thr)


class _Fitted:
    def __init__(self, d, Sp, Sn, w, b, platt, thr):
        self.d, self.Sp, self.Sn, self.w, self.b, self.platt, self.threshold = d, Sp, Sn, w, b, platt, thr

    def score(self, f):
        x = self.d._features(self.d.index[id(f)], self.Sp, self.Sn)
        return float(_sigmoid(np.array(self.platt[0] * float(x @ self.w + self.b) + self.platt[1])))
