"""Head designs measured by folds.py (fit(rows, feats) -> model with .threshold, .score, .topics)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sentence_head import (POSITIVE_CLASS, SentenceModel, doc_features, ownership_cues,  # noqa: E402
                           read_sentences)

HEADLINE = "supply_chain_cert_compromise"
SENTENCES = HERE.parents[1] / "classifiers" / "data" / "sentences" / "ownership.jsonl"  # make_sentences.py


def _sig(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def prototype_features(feats, y):
    """The shipped head's 9 features with its prototypes (train.fit logic), own prototypes masked."""
    from supplywatch.classifiers.model import headline_features
    pos_rows, neg_rows, po, no = [], [], [], []
    for i, f in enumerate(feats):
        sel = np.where(f.cues[:, 0] > 0)[0]
        if y[i] and len(sel) == 0:
            sel = np.arange(min(3, len(f.units)))
        (pos_rows if y[i] else neg_rows).extend(f.emb[sel])
        (po if y[i] else no).extend([i] * len(sel))
    pos, neg, po, no = np.array(pos_rows, np.float32), np.array(neg_rows, np.float32), np.array(po), np.array(no)
    X = np.array([headline_features(f, pos, neg, po == i, no == i)[0] for i, f in enumerate(feats)])
    return X, pos, neg


class SentenceDesign:
    """Sentence model on project-written sentences; doc LR over doc_features (+ prototype features)."""

    def __init__(self, encoder_encode, *, with_proto=False, cap=0.9, C_sent=1.0, cue_scale=0.5, C_doc=1.0,
                 mil=0, sentences=SENTENCES, use_cues=True, feature_idx=None, name=None):
        self.encode = encoder_encode
        rows = read_sentences(sentences)
        self.s_emb = encoder_encode([r["text"] for r in rows])
        self.s_cues = np.array([ownership_cues(r["text"]) for r in rows])
        if not use_cues:
            self.s_cues[:] = 0
        self.use_cues = use_cues
        self.s_y = np.array([r["class"] == POSITIVE_CLASS for r in rows], int)
        self.with_proto, self.cap, self.C_doc, self.mil = with_proto, cap, C_doc, mil
        self.C_sent, self.cue_scale = C_sent, cue_scale
        self.feature_idx = feature_idx
        self.smodel = SentenceModel.fit(self.s_emb, self.s_cues, self.s_y, C=C_sent, cue_scale=cue_scale)
        self._cues = {}
        self._emb_override = None
        self.name = name or (f"sentence-head(proto={with_proto},cap={cap},C={C_sent},cs={cue_scale},mil={mil},"
                             f"cues={use_cues})")

    def prepare(self, rows, feats):
        if self.with_proto:
            from fastbase import FastBaseline
            self.fast = FastBaseline()
            self.fast.prepare(rows, feats)

    def emb(self, f):
        return f.emb

    def cues(self, f):
        k = id(f)
        if k not in self._cues:
            c = np.array([ownership_cues(u) for u in f.units])
            if not self.use_cues:
                c[:, :4] = 0
            self._cues[k] = c
        return self._cues[k]

    def _sentence_model(self, feats, y):
        if not self.mil:
            return self.smodel
        # multiple instance: the best artefact sentence of each training positive joins the positives,
        # every artefact sentence of training negatives joins the negatives (down-weighted).
        E, Cc, Y, W = [self.s_emb], [self.s_cues], [self.s_y], [np.ones(len(self.s_y))]
        for f, yi in zip(feats, y):
            c = self.cues(f)
            art = np.where(c[:, 4] > 0)[0]
            if not len(art):
                continue
            if yi:
                p = self.smodel.prob(self.emb(f)[art], c[art])
                top = art[np.argsort(p)[::-1][:self.mil]]
                E.append(self.emb(f)[top]), Cc.append(c[top]), Y.append(np.ones(len(top), int)), W.append(np.ones(len(top)))
            else:
                E.append(self.emb(f)[art]), Cc.append(c[art]), Y.append(np.zeros(len(art), int))
                W.append(np.full(len(art), 0.3))
        return SentenceModel.fit(np.vstack(E), np.vstack(Cc), np.concatenate(Y), C=self.C_sent,
                                 cue_scale=self.cue_scale, sample_weight=np.concatenate(W))

    def fit(self, rows, feats):
        from supplywatch.classifiers.train import _fit_lr
        y = np.array([HEADLINE in (r.get("labels") or []) for r in rows], int)
        sm = self._sentence_model(feats, y)
        X = np.array([doc_features(f.units, self.emb(f), sm, self.cues(f))[0] for f in feats])
        pos = neg = None
        if self.with_proto:
            P, pos = self.fast.train_features(feats)   # pos: scorer for prototype features
            X = np.hstack([X, P])
        if self.feature_idx is not None:
            X = X[:, self.feature_idx]
        w, b, platt, thr = _fit_lr(X, y, C=self.C_doc)
        return _SentModel(self, sm, w, b, platt, thr, pos, neg)


class _SentModel:
    def __init__(self, design, sm, w, b, platt, thr, pos, neg):
        self.d, self.sm, self.w, self.b, self.platt, self.threshold = design, sm, w, b, platt, thr
        self.pos, self.neg = pos, neg

    def score(self, f) -> float:
        from supplywatch.classifiers.model import headline_features
        c = self.d.cues(f)
        x, _ = doc_features(f.units, self.d.emb(f), self.sm, c)
        if self.d.with_proto:
            x = np.concatenate([x, self.pos(f)])
        if self.d.feature_idx is not None:
            x = x[self.d.feature_idx]
        p = float(_sig(self.platt[0] * (x @ self.w + self.b) + self.platt[1]))
        if not (c[:, 4] > 0).any():
            p = min(p, self.d.cap * self.threshold)
        return p


_ENC = None


def _encode(texts):
    global _ENC
    if _ENC is None:
        from cache import CachedEncoder
        _ENC = CachedEncoder()
    return _ENC.encode(texts)


def get(name: str):
    presets = {
        "sent": dict(),
        "sent+proto": dict(with_proto=True),
        "sent-mil1": dict(mil=1),
        "sent-mil1+proto": dict(mil=1, with_proto=True),
        "sent-nocues": dict(use_cues=False),
    }
    if name.startswith("ft:"):
        _, cache, preset = name.split(":")
        return FTSentenceDesign(cache, **presets[preset])
    return SentenceDesign(_encode, **presets[name])


class FTSentenceDesign(SentenceDesign):
    """SentenceDesign whose artefact sentences are embedded by the fine-tuned encoder (ft cache)."""

    def __init__(self, ft_cache, **kw):
        from cache import unit_key
        with np.load(ft_cache) as z:
            self.ft = {bytes(k): z["emb"][i] for i, k in enumerate(z["keys"])}
        self._key = unit_key
        base = _encode

        def enc(texts):
            out = base(texts)
            for i, t in enumerate(texts):
                v = self.ft.get(unit_key(t))
                if v is not None:
                    out[i] = v
            return out
        self._ftemb = {}
        super().__init__(enc, **kw)
        self.name = "ft-" + self.name

    def emb(self, f):
        k = id(f)
        if k not in self._ftemb:
            e = f.emb.copy()
            for i, u in enumerate(f.units):
                v = self.ft.get(self._key(u))
                if v is not None:
                    e[i] = v
            self._ftemb[k] = e
        return self._ftemb[k]
