"""Measuring generalisation on a labelled file: leave-one-incident-out and the time split, each fold fitted
here from the file and the project's examples, each scored row labelled by the production function.

Folds (rows of the file; the project's examples are always on the training side, as ``train --data FILE``):

* incident fold I (one per ``incident`` of the positives): trained on every row except I's positives;
  scores I's positives, so the headline figure measures incidents the head has never seen;
* year fold Y (one per publication year): trained on every row not published in Y; scores Y's negatives
  for the headline, and every row of Y for the topics (a positive's topics come from its year fold);
* time split: trained on the rows published before the cut; scores the rest.

Each fold's head is a real :class:`.model.Head`, fitted the way :func:`.train.fit` fits (prototype-margin
features, logistic regression, Platt calibration and the F1 threshold on 5-fold out-of-fold predictions of
the training side only). Every scored row is then labelled in publication order by
:func:`.labelling.label_documents` (near-miss guard, headline cap, incident book) through
:func:`.evaluate.label_rows`, each with its own fold's head: the figures measure what ``classify`` does.

Speed: a fit compares every training document's sentences with every prototype of its fold. Here the
similarity of every sentence unit with every candidate prototype is computed once, and a fold hides the
prototypes of the documents it leaves out (as ``fit`` hides a document's own prototypes), so 27 folds over
dev.jsonl take a minute or two after one encoding of the file. ``tests/test_folds.py`` checks that a fold
equals ``train.fit`` on the same rows.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from supplywatch.store import InputError

from .evaluate import as_day, cluster_rows, headline_errors, label_rows, summarise
from .model import CATEGORIES, HEADLINE, Head, features_from_similarities
from .ownership import OwnershipModel, ownership_matrix
from .train import _fit_lr, fit_topics, prototype_units

FOLDS = ("incident", "time")


def _positive(row: dict[str, Any]) -> bool:
    return HEADLINE in (row.get("labels") or [])


def _year(row: dict[str, Any]) -> str:
    return str(row.get("published") or "")[:4]


class FoldFitter:
    """Fits heads on subsets of ``rows`` (with their features ``feats``) from one similarity matrix."""

    def __init__(self, rows: list[dict[str, Any]], feats: list[Any], *, encoder_name: str = "",
                 own: OwnershipModel | None = None):
        self.rows, self.feats, self.encoder_name = rows, feats, encoder_name
        # the whose-key sentence model is fitted on project-written sentences, never on these rows: one
        # model and one feature row per document serve every fold
        self.own = own
        self.own_X = ownership_matrix(feats, own) if own is not None else np.zeros((len(rows), 0))
        self.y = np.array([1 if _positive(r) else 0 for r in rows])
        starts = np.cumsum([0] + [len(f.units) for f in feats])
        self.spans = list(zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True))
        units = np.vstack([f.emb for f in feats]).astype(np.float32)
        cand: dict[bool, list[int]] = {True: [], False: []}
        owner: dict[bool, list[int]] = {True: [], False: []}
        for i, f in enumerate(feats):
            sel = prototype_units(f, bool(self.y[i]))
            cand[bool(self.y[i])].extend((starts[i] + sel).tolist())
            owner[bool(self.y[i])].extend([i] * len(sel))
        self.pos, self.neg = units[cand[True]], units[cand[False]]
        self.pos_owner, self.neg_owner = np.array(owner[True], dtype=int), np.array(owner[False], dtype=int)
        self.s_pos, self.s_neg = units @ self.pos.T, units @ self.neg.T
        self.dim = units.shape[1]

    def _features(self, i: int, hide_pos: np.ndarray, hide_neg: np.ndarray) -> np.ndarray:
        a, b = self.spans[i]
        s_pos, s_neg = self.s_pos[a:b].copy(), self.s_neg[a:b].copy()
        s_pos[:, hide_pos | (self.pos_owner == i)] = -1.0
        s_neg[:, hide_neg | (self.neg_owner == i)] = -1.0
        return features_from_similarities(s_pos, s_neg, self.feats[i].cues)[0]

    def fit(self, train: np.ndarray, *, topics: bool = True, name: str = "", year: int | None = None) -> Head:
        """A head fitted on the rows where ``train`` is true (topics only when ``topics``; their thresholds
        chosen on the training years nearest ``year``, the held-out year, default the latest trained on)."""
        idx = np.flatnonzero(train)
        y = self.y[idx]
        if y.sum() < 2 or (1 - y).sum() < 2:
            raise InputError(f"fold {name}: training needs at least two positive and two negative articles")
        hide_pos, hide_neg = ~train[self.pos_owner], ~train[self.neg_owner]
        X = np.array([self._features(int(i), hide_pos, hide_neg) for i in idx])
        X = np.hstack([X, self.own_X[idx]])
        w, b, platt, threshold = _fit_lr(X, y, C=1.0)
        n = len(CATEGORIES)
        words = None
        if topics:
            words, cat_b, cat_platt, cat_thr = fit_topics([self.feats[i].word_units for i in idx], [self.rows[i] for i in idx],
                                                          reference_year=year)
            cat_w = np.zeros((n, 0), np.float32)
        else:  # a headline-only fold: its topics are never read
            cat_w, cat_b = np.zeros((n, self.dim), np.float32), np.full(n, -10.0)
            cat_platt, cat_thr = np.tile([1.0, 0.0], (n, 1)), np.ones(n)
        return Head(version=f"fold {name}", encoder=self.encoder_name, pos=self.pos[~hide_pos],
                    neg=self.neg[~hide_neg], w=w, b=b, platt=platt, threshold=threshold, cat_w=cat_w, cat_b=cat_b,
                    cat_platt=cat_platt, cat_thresholds=cat_thr, own=self.own, words=words,
                    manifest={"fold": name, "examples": int(len(idx)), "positives": int(y.sum())})


def _caught(ordered: list[dict[str, Any]], flags: list[bool]) -> dict[str, dict[str, int]]:
    """Per incident (or year, for positives without one): positives caught / positives."""
    caught: dict[str, dict[str, int]] = {}
    for r, flagged in zip(ordered, flags, strict=True):
        if _positive(r):
            entry = caught.setdefault(str(r.get("incident") or _year(r)), {"caught": 0, "of": 0})
            entry["of"] += 1
            entry["caught"] += int(flagged)
    return dict(sorted(caught.items()))


def check_incidents(rows: list[dict[str, Any]], where: str = "the file") -> list[str]:
    """The incidents of ``rows``' positives; an InputError when a positive has none."""
    positives = [r for r in rows if _positive(r)]
    if not positives:
        raise InputError(f"{where}: no positive articles to hold out")
    missing = sum(1 for r in positives if not isinstance(r.get("incident"), str) or not r["incident"].strip())
    if missing:
        raise InputError(f"{where}: leave-one-incident-out needs an 'incident' on every positive article; "
                         f"{missing} of {len(positives)} have none")
    return sorted({r["incident"] for r in positives})


def evaluate_folds(rows: list[dict[str, Any]], featurizer: Any, *, folds: str = "incident", cut: str = "2015",
                   examples: list[dict[str, Any]] | None = None, encoder_name: str = "",
                   progress: Callable[[str], None] | None = None, analyst: tuple[int, ...] = (),
                   ownership: bool = False, errors: bool = False) -> dict[str, Any]:
    """Headline and topic figures with the incident book (top level) and without (``no_memory``), the
    keyword baseline, per-incident catches and the folds' thresholds. ``rows`` are never trained on where scored.

    ``analyst`` (answers a week, e.g. (2, 5)): the headline figures again with a simulated analyst answering that
    many items nearest the threshold each week (:func:`.evaluate.label_rows`), under ``analyst``: {N: ...}, with
    the answers applied and (``machine``) the machine's own flags, which show what the answers taught it.
    ``ownership``: every fold head also reads the whose-key sentence features (:mod:`.ownership`), as
    ``train.fit(ownership=True)`` fits them. ``errors``: the articles the headline got wrong with the book on
    (:func:`.evaluate.headline_errors`, each scored by its own fold's head), under ``errors``."""
    from . import examples as project_examples

    if folds not in FOLDS:
        raise InputError(f"unknown folds {folds!r} (choose from {', '.join(FOLDS)})")
    if not rows:
        raise InputError("no articles to evaluate")
    say = progress or (lambda message: None)
    incidents = check_incidents(rows) if folds == "incident" else []
    ex = project_examples() if examples is None else examples
    allrows = ex + rows
    started = time.perf_counter()
    say(f"encoding {len(allrows)} articles ({len(ex)} project examples)")
    feats = featurizer(allrows)
    say(f"clustering {len(rows)} articles into stories, as run does before it classifies")
    cluster_rows(rows, featurizer)
    own = OwnershipModel.fit(featurizer.encoder.encode) if ownership else None
    fitter = FoldFitter(allrows, feats, encoder_name=encoder_name, own=own)
    by_row = {id(r): f for r, f in zip(allrows, feats, strict=True)}
    in_file = np.arange(len(allrows)) >= len(ex)
    positive = fitter.y == 1
    published = np.array([""] * len(ex) + [as_day(r.get("published")) for r in rows])
    year = np.array([p[:4] for p in published])
    headline_head: dict[int, Head] = {}
    topic_head: dict[int, Head] = {}
    fold_thresholds: dict[str, float] = {}

    def fitted(train: np.ndarray, name: str, topics: bool, year: int | None = None) -> Head:
        head = fitter.fit(train, topics=topics, name=name, year=year)
        fold_thresholds[name] = round(head.threshold, 4)
        say(f"fold {len(fold_thresholds)}/{total}: {name} (threshold {head.threshold:.3f})")
        return head

    if folds == "incident":
        scored = rows
        incident = np.array([""] * len(ex) + [str(r.get("incident") or "") if _positive(r) else "" for r in rows])
        years = sorted(set(year[in_file].tolist()))
        total = len(incidents) + len(years)
        for name in incidents:
            held = in_file & positive & (incident == name)
            head = fitted(~held, f"incident {name}", topics=False)
            for i in np.flatnonzero(held):
                headline_head[id(allrows[i])] = head
        for y in years:
            held = in_file & (year == y)
            # its topic thresholds come from the years beside it (what the fold knows of the habit then)
            head = fitted(~held, f"year {y}", topics=True, year=int(y) if y.isdigit() else None)
            for i in np.flatnonzero(held):
                topic_head[id(allrows[i])] = head
                if not positive[i]:
                    headline_head[id(allrows[i])] = head
    else:
        held = in_file & (published >= as_day(cut))
        scored = [allrows[i] for i in np.flatnonzero(held)]
        if not scored or not (in_file & ~held).any():
            raise InputError(f"the time split at {cut} leaves no articles on one side")
        total = 1
        head = fitted(~held, f"before {cut}", topics=True)
        for r in scored:
            headline_head[id(r)] = topic_head[id(r)] = head

    combined: dict[tuple[int, int], Head] = {}

    def head_for(row: dict[str, Any]) -> Head:
        hh, th = headline_head[id(row)], topic_head[id(row)]
        key = (id(hh), id(th))
        if key not in combined:
            combined[key] = hh if hh is th else dataclasses.replace(
                hh, cat_w=th.cat_w, cat_b=th.cat_b, cat_platt=th.cat_platt, cat_thresholds=th.cat_thresholds,
                words=th.words)
        return combined[key]

    def lookup(docs: list[dict[str, Any]]) -> list[Any]:
        return [by_row[id(d)] for d in docs]

    thresholds = sorted(fold_thresholds.values())
    threshold_range = f"{thresholds[0]:.3f}-{thresholds[-1]:.3f}" if len(thresholds) > 1 else thresholds[0]
    cat_range = ["per fold"] * len(CATEGORIES)
    say(f"labelling {len(scored)} articles in publication order, with and without the incident book")
    result: dict[str, Any] = {"n": len(scored), "folds": folds, "model_version": f"{len(fold_thresholds)} fold heads"}
    for memory in (True, False):
        decided: list[tuple[Any, float]] = []
        ordered, headline_pred, cat_pred = label_rows(scored, head_for, lookup, memory=memory, decided=decided)
        figures = summarise(ordered, headline_pred, cat_pred, threshold_range, cat_range)
        if memory:
            result.update(memory=True, **figures)
            result["incidents" if folds == "incident" else "positives_by_incident"] = _caught(ordered, headline_pred)
            if errors:
                result["errors"] = headline_errors(ordered, headline_pred, decided)
        else:
            result["no_memory"] = {"labels": figures["labels"], "categories": figures["categories"]}
    if analyst:
        result["analyst"] = {}
    for n in analyst:
        say(f"labelling again with a simulated analyst answering {n} a week")
        machine: list[bool] = []
        ordered, headline_pred, cat_pred = label_rows(scored, head_for, lookup, analyst=n, machine_flags=machine)
        figures = summarise(ordered, headline_pred, cat_pred, threshold_range, cat_range)
        result["analyst"][str(n)] = {"labels": figures["labels"], "machine": summarise(
            ordered, machine, cat_pred, threshold_range, cat_range)["labels"], "incidents": _caught(ordered, headline_pred)}
    result["fold_thresholds"] = fold_thresholds
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result
