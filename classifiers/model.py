"""The classifier's fitted head: prototype and topic weights, calibration, thresholds, manifest.

A head is data, not code: ``head.json`` (scalars, weights, thresholds, what it was fitted on)
beside ``arrays.npz`` (prototype sentence embeddings, topic weights and vocabulary). Scoring needs numpy,
and scikit-learn's TF-IDF vectorizer for the topic words; the encoder that makes the embeddings lives in
:mod:`classifiers.encoder`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from supplywatch.store import ConfigError, Label, vocabulary

from .features import LEAD_UNITS, DocFeatures
from .ownership import FEATURES as OWN_FEATURES
from .ownership import OwnershipModel, features_of
from .passages import pick_evidence
from .topicwords import TopicWords

HEADLINE = vocabulary.headline()
CATEGORIES = tuple(vocabulary.topics())
LABELS = (HEADLINE, *CATEGORIES)
FEATURES = ("margin_max", "margin_top3", "pos_sim_max", "margin_title", "any_cue", "log_cues",
            "margin_cue_max", "near_miss_share", "share_positive")
K = 3  # prototypes averaged per sentence: one lucky near-duplicate should not decide


class HeadError(ConfigError):
    """The configured head folder is missing, unreadable or from an incompatible version."""


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def _topk_mean(sims: np.ndarray, k: int) -> np.ndarray:
    k = min(k, sims.shape[1])
    if k == 0:
        return np.zeros(sims.shape[0], dtype=np.float32)
    return np.partition(sims, -k, axis=1)[:, -k:].mean(1)


def headline_features(doc: DocFeatures, pos: np.ndarray, neg: np.ndarray,
                      pos_mask: np.ndarray | None = None, neg_mask: np.ndarray | None = None,
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(feature vector, per-sentence margin). Masks hide a training document's own prototypes."""
    s_pos, s_neg = doc.emb @ pos.T, doc.emb @ neg.T
    if pos_mask is not None:
        s_pos[:, pos_mask] = -1.0
    if neg_mask is not None:
        s_neg[:, neg_mask] = -1.0
    return features_from_similarities(s_pos, s_neg, doc.cues)


def features_from_similarities(s_pos: np.ndarray, s_neg: np.ndarray, cues: np.ndarray,
                               ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`headline_features` from the unit x prototype similarities (a hidden prototype reads -1)."""
    p, n = _topk_mean(s_pos, K), _topk_mean(s_neg, K)
    margin = p - n
    top3 = np.sort(margin)[-3:].mean()
    cue_margin = margin[cues[:, 0] > 0].max() if (cues[:, 0] > 0).any() else margin.min()
    feats = np.array([margin.max(), top3, p.max(), margin[0], float(cues[:, 2].sum() > 0),
                      np.log1p(cues[:, 2].sum()), cue_margin, cues[:, 3].mean(), (margin > 0.05).mean()],
                     dtype=np.float64)
    return feats, margin


def evidence_index(doc: DocFeatures, margin: np.ndarray) -> int:
    """The sentence to show a reader: the best margin, preferring sentences that name both a signing
    artefact and a compromise, passing over short ones, table rows, headings and the title repeated."""
    lengths = np.array([len(u) for u in doc.units])
    bonus = 0.05 * doc.cues[:, 2] + 0.02 * doc.cues[:, 0] - 0.05 * (lengths < 60)
    bonus[0] = 0.0  # the title is judged on its margin alone
    # Best first; a table row, heading or the title repeated is never shown while anything else exists
    # (then the title, which the reader has just read anyway).
    best = pick_evidence(doc.units, [int(i) for i in np.argsort(-(margin + bonus), kind="stable")])
    return best if best >= 0 else 0


@dataclass
class Head:
    version: str
    encoder: str
    pos: np.ndarray
    neg: np.ndarray
    w: np.ndarray
    b: float
    platt: tuple[float, float]
    threshold: float
    cat_w: np.ndarray  # (len(CATEGORIES), dim) on the lead vector; (len(CATEGORIES), 0) when ``words`` score
    cat_b: np.ndarray
    cat_platt: np.ndarray  # (len(CATEGORIES), 2)
    cat_thresholds: np.ndarray
    manifest: dict[str, Any] = field(default_factory=dict)
    # "whose key was it?" (classifiers.ownership); None in heads fitted before it, which score as they did
    own: OwnershipModel | None = None
    # topic weights on the document's words (.topicwords); None in heads fitted before them, which read the lead
    words: TopicWords | None = None

    @property
    def embedded_lead(self) -> int:
        """How many leading units of a document that cannot carry the headline must be embedded: its topics
        read words (none), and its capped headline score is read from the title alone; a lead-vector head's
        topics read the first LEAD_UNITS."""
        return 1 if self.words is not None else LEAD_UNITS

    @property
    def features(self) -> tuple[str, ...]:
        return FEATURES + (OWN_FEATURES if self.own is not None else ())

    # -- scoring ---------------------------------------------------------------------------

    def headline(self, doc: DocFeatures) -> tuple[float, str]:
        feats, margin = headline_features(doc, self.pos, self.neg)
        if self.own is not None:
            feats = np.concatenate([feats, features_of(doc, self.own)])
        z = float(feats @ self.w + self.b)
        p = float(_sigmoid(np.array(self.platt[0] * z + self.platt[1])))
        return p, doc.units[evidence_index(doc, margin)]

    def categories(self, doc: DocFeatures) -> list[tuple[str, float, str]]:
        """Each topic's calibrated score and evidence: the unit whose own words (or, in a lead head, whose
        vector among the lead's) score highest for it."""
        return self.topics([doc])[0]

    def topics(self, docs: list[DocFeatures]) -> list[list[tuple[str, float, str]]]:
        """:meth:`categories` of each document; the words of a batch are read in one vectorizer call, not one a
        document: per call, scikit-learn's checks cost about as much as the reading."""
        if not docs:
            return []
        if self.words is None:
            z = np.array([self.cat_w @ d.lead for d in docs]) + self.cat_b
            units = [d.units for d in docs]
            best = [[int(np.argmax(d.emb[: max(1, min(len(d.units), LEAD_UNITS))] @ self.cat_w[i]))
                     for i in range(len(CATEGORIES))] for d in docs]
        else:
            units = [d.word_units for d in docs]
            z, per_unit, starts = self.words.logits(units)
            z = z + self.cat_b
            best = [np.argmax(per_unit[a:b], axis=0).tolist() if b > a else [0] * len(CATEGORIES)
                    for a, b in zip(starts[:-1], starts[1:], strict=True)]
        p = _sigmoid(self.cat_platt[:, 0] * z + self.cat_platt[:, 1])
        return [[(name, float(p[j, i]), units[j][best[j][i]] if units[j] else "") for i, name in enumerate(CATEGORIES)]
                for j in range(len(docs))]

    def labels(self, doc: DocFeatures, topics: list[tuple[str, float, str]] | None = None,
               ) -> list[tuple[Label, bool]]:
        """All labels with calibrated scores and evidence, and whether each is flagged (``topics``: this
        document's :meth:`topics`, when the caller scored a batch)."""
        p, evidence = self.headline(doc)
        out = [(Label(HEADLINE, p, evidence), p >= self.threshold)]
        for (name, score, ev), t in zip(topics or self.categories(doc), self.cat_thresholds, strict=True):
            out.append((Label(name, score, ev), score >= t))
        return out

    def thresholds(self) -> dict[str, float]:
        return {HEADLINE: self.threshold, **dict(zip(CATEGORIES, map(float, self.cat_thresholds), strict=True))}

    # -- files -----------------------------------------------------------------------------

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        own = {} if self.own is None else {"own_w": self.own.w.astype(np.float32)}
        words = {} if self.words is None else self.words.arrays()
        np.savez_compressed(folder / "arrays.npz", pos=self.pos.astype(np.float16), neg=self.neg.astype(np.float16),
                            cat_w=self.cat_w.astype(np.float32), **own, **words)
        doc = {
            # 2: topics on words; a version that only knows format 1 would score them on an empty lead weight
            "format": 2 if self.words is not None else 1, "version": self.version, "encoder": self.encoder,
            "labels": list(LABELS),
            "features": list(self.features), "w": self.w.tolist(), "b": self.b, "platt": list(self.platt),
            "threshold": self.threshold, "cat_b": self.cat_b.tolist(), "cat_platt": self.cat_platt.tolist(),
            "cat_thresholds": self.cat_thresholds.tolist(), "manifest": self.manifest,
        }
        if self.own is not None:
            doc["own_b"] = self.own.b
        (folder / "head.json").write_text(json.dumps(doc, indent=1) + "\n", "utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Head:
        folder = Path(folder)
        try:
            doc = json.loads((folder / "head.json").read_text("utf-8"))
            with np.load(folder / "arrays.npz", allow_pickle=False) as arrays:
                pos, neg, cat_w = arrays["pos"].astype(np.float32), arrays["neg"].astype(np.float32), arrays["cat_w"]
                own = OwnershipModel(arrays["own_w"], float(doc["own_b"])) if "own_w" in arrays else None
                words = TopicWords.from_arrays(arrays)
        except (OSError, ValueError, KeyError) as exc:
            raise HeadError(f"{folder}: not a usable classifier head ({exc})") from None
        expected = list(FEATURES + (OWN_FEATURES if own is not None else ()))
        if (doc.get("format") != (2 if words is not None else 1) or doc.get("features") != expected
                or doc.get("labels") != list(LABELS)):
            raise HeadError(f"{folder}: head was written by an incompatible version of supplywatch")
        return cls(version=doc["version"], encoder=doc["encoder"], pos=pos, neg=neg, w=np.array(doc["w"]),
                   b=float(doc["b"]), platt=tuple(doc["platt"]), threshold=float(doc["threshold"]),
                   cat_w=cat_w, cat_b=np.array(doc["cat_b"]), cat_platt=np.array(doc["cat_platt"]),
                   cat_thresholds=np.array(doc["cat_thresholds"]), manifest=doc.get("manifest", {}), own=own,
                   words=words)
