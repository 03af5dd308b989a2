"""Fitting a head: prototypes from labelled sentences, a small logistic model over them, and
calibrated, F1-optimal thresholds chosen on out-of-fold predictions.

Why this shape (measured in README "Classifier"): with a few dozen positives a linear model on
the 384-d embedding memorises events, while nine features of "how close is this article's
closest sentence to a known compromise sentence, versus a known near miss" carry over to new
events and vendors.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import numpy as np

from .features import DocFeatures, Featurizer
from .model import CATEGORIES, HEADLINE, Head, headline_features
from .ownership import OwnershipModel, ownership_matrix
from .topicwords import TopicWords

SEED = 13
# A topic's threshold is chosen on the articles of this many years nearest the ones it will score
# (calibration_rows): 1 and 2 measured alike, 3 lost the gain (benchmarks/QUALITY.md).
CALIBRATION_YEARS = 2
CALIBRATION_MIN = 10  # articles with, and without, the tag in those years; fewer and all rows are used
TOPIC_C = 8.0  # inverse regularisation of the topic models on TF-IDF (benchmarks/QUALITY.md, "Topic tags from words")


def _oof_logits(X: np.ndarray, y: np.ndarray, C: float, folds: int = 5) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    z = np.zeros(len(y))
    n_splits = max(2, min(folds, int(y.sum()), int((1 - y).sum())))
    for tr, te in StratifiedKFold(n_splits, shuffle=True, random_state=SEED).split(X, y):
        clf = LogisticRegression(C=C, class_weight="balanced", max_iter=5000).fit(X[tr], y[tr])
        z[te] = clf.decision_function(X[te])
    return z


def _platt(z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=1e4, max_iter=5000).fit(z.reshape(-1, 1), y)
    return float(clf.coef_[0, 0]), float(clf.intercept_[0])


def _best_threshold(p: np.ndarray, y: np.ndarray) -> float:
    best, best_f1 = 0.5, -1.0
    # Candidates are cut down to 3 decimals, never rounded up: a candidate above the score it came from would
    # exclude that very article, and where the calibration rows separate cleanly (scores 0.99996 vs 0.00002)
    # the only reachable cut-off left was 0: everything tagged.
    for t in np.unique(np.floor(p * 1000) / 1000):
        pred = p >= t
        tp = float((pred & (y == 1)).sum())
        f1 = 2 * tp / (pred.sum() + y.sum()) if pred.sum() + y.sum() else 0.0
        if f1 > best_f1 or (f1 == best_f1 and t > best):
            best, best_f1 = float(t), f1
    return best


def _fit_lr(X: np.ndarray, y: np.ndarray, C: float, *, calibrate_on: np.ndarray | None = None,
            ) -> tuple[np.ndarray, float, tuple[float, float], float]:
    """Weights from every row; Platt scaling and the F1 threshold from the out-of-fold predictions of the
    rows in ``calibrate_on`` (a boolean mask; default all)."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=C, class_weight="balanced", max_iter=5000).fit(X, y)
    oof = _oof_logits(X, y, C)
    m = np.ones(len(y), dtype=bool) if calibrate_on is None else calibrate_on
    a, c = _platt(oof[m], y[m])
    threshold = _best_threshold(1 / (1 + np.exp(-(a * oof[m] + c))), y[m])
    return clf.coef_[0].astype(np.float64), float(clf.intercept_[0]), (a, c), threshold


def prototype_units(f: DocFeatures, positive: bool) -> np.ndarray:
    """The units of a training document that become prototypes: those naming a signing artefact (a
    positive that never names it gives its lead instead)."""
    sel = np.where(f.cues[:, 0] > 0)[0]
    if positive and len(sel) == 0:
        sel = np.arange(min(3, len(f.units)))
    return sel


def fit(examples: list[dict[str, Any]], featurizer: Featurizer, *, sources: dict[str, int],
        encoder_name: str, ownership: bool = False) -> Head:
    """Fit a head on ``examples`` (dicts with title, text, labels, categories); ``ownership``: with the
    "whose key was it?" sentence model's features (:mod:`.ownership`) beside the prototype margins."""
    if not examples:
        raise ValueError("no training examples")
    feats: list[DocFeatures] = featurizer(examples)
    y = np.array([1 if HEADLINE in (e.get("labels") or []) else 0 for e in examples])
    if y.sum() < 2 or (1 - y).sum() < 2:
        raise ValueError("training needs at least two positive and two negative examples")

    # Prototypes: sentences that name a signing artefact, from positives (what a compromise reads
    # like) and from negatives (what a near miss reads like).
    pos_rows, neg_rows, pos_owner, neg_owner = [], [], [], []
    for i, f in enumerate(feats):
        sel = prototype_units(f, bool(y[i]))
        rows, owners = (pos_rows, pos_owner) if y[i] else (neg_rows, neg_owner)
        rows.extend(f.emb[sel])
        owners.extend([i] * len(sel))
    if not neg_rows:
        # The head scores a sentence by how much more it resembles a compromise than a near miss: without near
        # misses there is nothing to measure against (and the margins would be a shape error deep in numpy).
        raise ValueError(f"no near misses: none of the {int((1 - y).sum())} negative examples has a sentence naming "
                         "a signing artefact (certificate, signing key, signed update); add some, or keep the "
                         "project's examples (leave out --no-examples)")
    pos, neg = np.array(pos_rows, dtype=np.float32), np.array(neg_rows, dtype=np.float32)
    pos_owner, neg_owner = np.array(pos_owner), np.array(neg_owner)
    X = np.array([headline_features(f, pos, neg, pos_owner == i, neg_owner == i)[0] for i, f in enumerate(feats)])
    own = OwnershipModel.fit(featurizer.encoder.encode) if ownership else None
    if own is not None:
        X = np.hstack([X, ownership_matrix(feats, own)])
    w, b, platt, threshold = _fit_lr(X, y, C=1.0)

    words, cat_b, cat_platt, cat_thr = fit_topics([f.word_units for f in feats], examples)
    cat_w = np.zeros((len(CATEGORIES), 0), dtype=np.float32)

    digest = hashlib.sha256(json.dumps([[e.get("title"), e.get("labels"), e.get("categories")]
                                        for e in examples], sort_keys=True).encode()).hexdigest()[:12]
    # The version names the fitted model, not only its data: a refit of the same examples by changed code (new
    # topic features, a new threshold rule) is a new model, and `classify` relabels only for a new version.
    model = hashlib.sha256(digest.encode())
    own_parts = [own.w, [own.b]] if own is not None else []
    for part in (w, [b, threshold], platt, cat_b, cat_platt, cat_thr, words.w, words.idf, pos, neg, *own_parts):
        model.update(np.ascontiguousarray(part, dtype=np.float32).tobytes())
    model.update("\n".join(words.terms.tolist()).encode("utf-8"))
    version = f"{datetime.now(UTC):%Y%m%d}-{model.hexdigest()[:12]}"
    manifest = {
        "fitted_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "examples": len(examples),
        "positives": int(y.sum()),
        "sources": sources,
        "prototypes": {"positive": int(len(pos)), "negative": int(len(neg))},
        "data_sha": digest,
        "method": "prototype-margin features" + (" and whose-key sentence features" if own is not None else "")
                  + " + logistic regression; topics: TF-IDF of title and first sentences + logistic regression;"
                  " Platt calibration and F1 threshold on 5-fold out-of-fold predictions",
    }
    return Head(version=version, encoder=encoder_name, pos=pos, neg=neg, w=w, b=b, platt=platt,
                threshold=threshold, cat_w=cat_w, cat_b=cat_b, cat_platt=cat_platt, cat_thresholds=cat_thr,
                manifest=manifest, own=own, words=words)


def _year(example: dict[str, Any]) -> int | None:
    published = str(example.get("published") or "")[:4]
    return int(published) if published.isdigit() else None


def calibration_rows(examples: list[dict[str, Any]], y: np.ndarray, reference_year: int | None = None,
                     ) -> np.ndarray | None:
    """Which rows a topic's threshold is chosen on: the dated ones of the :data:`CALIBRATION_YEARS` years
    nearest ``reference_year`` (default: the latest year trained on, since what is scored comes later), or
    None (all rows) when those hold fewer than :data:`CALIBRATION_MIN` articles with or without the tag.

    Why: publishers' tags drift by year (dev.jsonl's ``cyber_attack``: 0% of 2011's articles, 33% of 2017's;
    benchmarks/QUALITY.md), so a threshold chosen over all years fits an average habit that no later year
    has. The weights still learn from every row; only the cut-off follows the nearest habit."""
    years = np.array([-1 if v is None else v for v in map(_year, examples)])
    dated = years >= 0
    if not dated.any():
        return None
    ref = int(years[dated].max()) if reference_year is None else reference_year
    distance = np.abs(years - ref)
    mask = dated & (distance <= distance[dated].min() + CALIBRATION_YEARS - 1)
    if y[mask].sum() < CALIBRATION_MIN or (1 - y[mask]).sum() < CALIBRATION_MIN:
        return None
    return mask


def fit_topics(docs: list[list[str]], examples: list[dict[str, Any]], *, reference_year: int | None = None,
               ) -> tuple[TopicWords, np.ndarray, np.ndarray, np.ndarray]:
    """Topics: a TF-IDF vectorizer fitted on ``docs`` (each example's :attr:`DocFeatures.word_units`) and one
    logistic model per category on it -> (words, cat_b, cat_platt, cat_thresholds).

    Each topic's Platt scaling and threshold come from :func:`calibration_rows` (the years nearest
    ``reference_year``); its weights from every example."""
    vec, X = TopicWords.fit_vectorizer(docs)
    cat_w, cat_b, cat_platt, cat_thr = [], [], [], []
    for name in CATEGORIES:
        yc = np.array([1 if name in (e.get("categories") or []) else 0 for e in examples])
        if yc.sum() < 2 or (1 - yc).sum() < 2:
            cat_w.append(np.zeros(X.shape[1])), cat_b.append(-10.0), cat_platt.append((1.0, 0.0))
            cat_thr.append(1.0)
            continue
        wc, bc, pc, tc = _fit_lr(X, yc, C=TOPIC_C, calibrate_on=calibration_rows(examples, yc, reference_year))
        cat_w.append(wc), cat_b.append(bc), cat_platt.append(pc), cat_thr.append(tc)
    words = TopicWords.from_fit(vec, np.array(cat_w, dtype=np.float32))
    return words, np.array(cat_b), np.array(cat_platt), np.array(cat_thr)


def training_rows(data: list[str], *, corrections: list[dict[str, Any]], include_examples: bool = True,
                  until: str | None = None) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """What `train` fits on: the project's examples, labelled JSONL files (before ``until``) and analysts'
    corrections (``Store.corrections()`` rows), with a count per origin for the head's manifest."""
    from . import examples
    from .evaluate import read_jsonl

    rows: list[dict[str, Any]] = []
    sources: dict[str, int] = {}
    if include_examples:
        rows += examples()
        sources["project examples"] = len(rows)
    for path in data:
        extra = read_jsonl(path, until=until)
        sources[str(path) + (f" (before {until})" if until else "")] = len(extra)
        rows += extra
    by_doc: dict[int, dict[str, Any]] = {}
    for c in corrections:
        doc = by_doc.setdefault(c["document_id"], {"title": c["title"], "text": c["text"], "labels": [],
                                                     "categories": []})
        if c["value"]:
            doc["labels" if c["label"] == HEADLINE else "categories"].append(c["label"])
    rows += list(by_doc.values())
    if by_doc:
        sources["analyst corrections"] = len(by_doc)
    return rows, sources


def train_head(rows: list[dict[str, Any]], sources: dict[str, int], make_encoder: Any, out: str, *,
               progress: Any = None, ownership: bool = False, cache: Any = None) -> Head:
    """Fit a head on ``rows`` (from :func:`training_rows`) with the encoder ``make_encoder()`` gives; save it in ``out``.

    ``progress(done, total)``: documents encoded so far, of ``len(rows)``. ``cache(encoder)``: the sentence
    embedding cache across runs for that encoder (or None): a refit after `eval` or an earlier `train` encodes
    only the sentences it has not seen."""
    from supplywatch.store import InputError

    if not rows:
        raise InputError("nothing to train on")
    encoder = make_encoder()
    try:
        tick = None if progress is None else (lambda done: progress(done, len(rows)))
        featurizer = Featurizer(encoder, tick, cache=cache(encoder) if cache is not None else None)
        head = fit(rows, featurizer, sources=sources, encoder_name=encoder.name, ownership=ownership)
    except ValueError as exc:
        raise InputError(f"cannot train: {exc}") from None
    head.save(out)
    return head
