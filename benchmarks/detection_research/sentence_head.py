"""A sentence-level "whose key was it?" head for supply_chain_cert_compromise.

Pieces (pure numpy + scikit-learn at fit time; numpy only at scoring time):

* :func:`ownership_cues` - regular expressions about WHO the signing artefact belonged to (a legitimate
  party: "stolen from X", "belonging to X", "X's own valid certificate", "X's build server was
  compromised"), about attacker-obtained certificates ("bought", "self-signed", "front company"), about
  validation flaws, and about negation ("no", "not", "without") near the artefact.
* :class:`SentenceModel` - logistic regression on [sentence embedding, ownership cues], trained on the
  project-written sentences (classifiers/data/sentences/ownership.jsonl: class ``legit_party_compromise`` against
  the four others), optionally with multiple-instance sentences from labelled documents.
* :func:`doc_features` - a document's score profile: best / top-2 sentence probability among sentences
  that name a signing artefact, the title's, how many sentences clear 0.5, best attacker-obtained cue.
* :class:`SentenceDocHead` - logistic regression over doc_features (optionally beside the prototype-margin
  features of classifiers.model), Platt-calibrated with an F1-optimal threshold on out-of-fold
  predictions (classifiers.train._fit_lr), and a short-text cap: a document in which no sentence names a
  signing artefact scores at most ``cap`` x threshold.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

# The cues moved into the product (classifiers/ownership.py) unchanged; read from there.
from supplywatch.classifiers.ownership import (ARTEFACT, ATTACKER_OWNER, LEGIT_OWNER, NEGATION,  # noqa: E402,F401
                                               VALIDATION)
from supplywatch.classifiers.ownership import cues as ownership_cues  # noqa: E402,F401

CUE_NAMES = ("legit_owner", "attacker_owner", "validation", "negation", "artefact")
POSITIVE_CLASS = "legit_party_compromise"


def read_sentences(path: str | Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text("utf-8").splitlines() if line.strip()]


class SentenceModel:
    """P(sentence states a legitimate party's signing artefact / build or update channel was compromised)."""

    def __init__(self, w: np.ndarray, b: float, cue_scale: float):
        self.w, self.b, self.cue_scale = w, b, cue_scale

    @staticmethod
    def design(emb: np.ndarray, cues: np.ndarray, cue_scale: float) -> np.ndarray:
        return np.hstack([emb, cue_scale * cues])

    @classmethod
    def fit(cls, emb: np.ndarray, cues: np.ndarray, y: np.ndarray, *, C: float = 1.0, cue_scale: float = 0.5,
            sample_weight: np.ndarray | None = None, seed: int = 13) -> "SentenceModel":
        from sklearn.linear_model import LogisticRegression
        clf = LogisticRegression(C=C, class_weight="balanced", max_iter=5000, random_state=seed)
        clf.fit(cls.design(emb, cues, cue_scale), y, sample_weight=sample_weight)
        return cls(clf.coef_[0].astype(np.float32), float(clf.intercept_[0]), cue_scale)

    def prob(self, emb: np.ndarray, cues: np.ndarray) -> np.ndarray:
        z = self.design(emb, cues, self.cue_scale) @ self.w + self.b
        return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


DOC_FEATURES = ("s_max", "s_top2", "s_title", "log_n_half", "attacker_at_best", "negated_at_best", "no_artefact")


def doc_features(units: list[str], emb: np.ndarray, model: SentenceModel,
                 cues: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(document feature vector, per-unit probability). Only units naming a signing artefact count;
    the title always counts (a headline often names the vendor and 'certificate' together)."""
    if cues is None:
        cues = np.array([ownership_cues(u) for u in units])
    s = model.prob(emb, cues)
    art = cues[:, 4] > 0
    gated = np.where(art, s, 0.0)
    order = np.sort(gated)[::-1]
    best = int(np.argmax(gated))
    feats = np.array([order[0], order[:2].mean(), s[0] * art[0], np.log1p((gated > 0.5).sum()),
                      cues[best, 1] * art.any(), cues[best, 3] * art.any(), float(not art.any())])
    return feats, gated
