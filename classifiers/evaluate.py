"""Measuring a head on labelled articles (the format of ../shared/eval/dev.jsonl).

Never fits anything on the file it measures. Articles are processed in publication order, the
way the pipeline meets the news, so the incident book only knows what came before.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from supplywatch.store import InputError

from .incidents import IncidentBook, day_number
from .labelling import label_documents
from .lexical import keyword_rule
from .model import CATEGORIES, HEADLINE, Head


def as_day(value: object) -> str:
    """A publication date as YYYY-MM-DD, a year or month read as its first day, so "2015-01" (how dev.jsonl dates
    articles) compares right against "2015-01-01" (how the date options give a day); "" when there is none."""
    text = str(value or "")[:10]
    if len(text) == 4:
        return f"{text}-01-01"
    if len(text) == 7:
        return f"{text}-01"
    return text


def read_jsonl(path: str | Path, *, since: str | None = None, until: str | None = None) -> list[dict[str, Any]]:
    """Labelled articles from a JSONL file; a bad line is a InputError naming the line."""
    rows = []
    try:
        lines = Path(path).read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise InputError(f"{path}:{n}: not JSON ({exc})") from None
        if not isinstance(row, dict) or not isinstance(row.get("title", ""), str) or "text" not in row:
            raise InputError(f"{path}:{n}: needs at least 'title' and 'text'")
        published = as_day(row.get("published"))
        if (since and published < as_day(since)) or (until and published >= as_day(until)):
            continue
        rows.append(row)
    return rows


# How `train` names a JSONL file cut in time in the head's manifest: "PATH (before 2015)" or "(published before 2015)".
_SOURCE = re.compile(r"^(?P<path>.*?)(?: \((?:published )?before (?P<before>[^)]+)\))?$")


def cluster_rows(rows: list[dict[str, Any]], featurizer: Any) -> int:
    """Put each row into a story (``row["story_id"]``) with the featurizer's encoder, as ``run`` clusters the
    archive before it classifies, so the incident book's story link (another outlet's account of a member's story
    follows the incident) works in ``eval`` as in ``classify``. Rows dated by month (dev.jsonl) read as the month's
    first day: their stories then hold articles of one calendar month. Returns how many stories (0, leaving the
    rows as they are, for a stand-in featurizer without an encoder)."""
    from .stories import StoryIndex, cluster, lead_text

    encoder = getattr(featurizer, "encoder", None)
    if not rows or encoder is None:
        return 0
    ordered = sorted(rows, key=lambda r: as_day(r.get("published")))
    docs = [{"id": i, "title": r.get("title") or "", "summary": r.get("summary") or "", "text": r.get("text") or "",
             "published": as_day(r.get("published")) or None, "source": r.get("source") or ""}
            for i, r in enumerate(ordered)]
    decisions = cluster(docs, encoder.encode([lead_text(d) for d in docs]), StoryIndex())
    for row, decision in zip(ordered, decisions, strict=True):
        row["story_id"] = f"new:{decision.document_id}" if decision.story is None else decision.story
    return sum(d.story is None for d in decisions)


def training_overlap(manifest: dict[str, Any], path: str | Path, *, since: str | None = None) -> str | None:
    """The entry of a head's manifest ``sources`` that the labelled file ``path`` overlaps, or None.

    Files are compared by name (the manifest keeps the path `train` was given, not the file's bytes). An
    entry fitted on articles published before a date does not overlap an evaluation from that date on.
    """
    name = Path(path).name
    for entry in (manifest.get("sources") or {}):
        match = _SOURCE.match(entry)
        if match is None or Path(match["path"]).name != name:
            continue
        before = match["before"]
        if before and since and since >= before:  # ISO dates and years compare as text: "2015-01-01" >= "2015"
            continue
        return entry
    return None


def _prf(pred: list[bool], gold: list[bool]) -> dict[str, float]:
    tp = sum(p and g for p, g in zip(pred, gold, strict=True))
    fp = sum(p and not g for p, g in zip(pred, gold, strict=True))
    fn = sum(g and not p for p, g in zip(pred, gold, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(float(precision), 4), "recall": round(float(recall), 4), "f1": round(float(f1), 4),
            "support": int(sum(gold))}


def evaluate(rows: list[dict[str, Any]], head: Head, featurizer: Any, *, memory: bool = True,
             batch: int = 32, errors: bool = False) -> dict[str, Any]:
    """Per-label precision/recall/F1, topic macro-F1, the keyword baseline, documents per second; with ``errors``
    also the articles the headline got wrong (:func:`headline_errors`)."""
    if not rows:
        raise InputError("no articles to evaluate")
    started = time.perf_counter()
    if memory:
        cluster_rows(rows, featurizer)
    decided: list[tuple[Any, float]] = []
    rows, headline_pred, cat_pred = label_rows(rows, lambda chunk: head, featurizer, memory=memory, batch=batch,
                                               decided=decided)
    result = summarise(rows, headline_pred, cat_pred, round(head.threshold, 4),
                       [round(float(t), 4) for t in head.cat_thresholds])
    elapsed = time.perf_counter() - started
    out = {"n": len(rows), "docs_per_second": round(len(rows) / elapsed, 2) if elapsed else None,
           "model_version": head.version, "memory": memory, **result}
    if errors:
        out["errors"] = headline_errors(rows, headline_pred, decided)
    return out


def headline_errors(rows: list[dict[str, Any]], headline_pred: list[bool],
                    decided: list[tuple[Any, float]]) -> list[dict[str, Any]]:
    """The articles whose headline flag disagrees with their gold label, in publication order, each with what
    the labelling said (score, the threshold of the head that scored it, reason, evidence): what an analyst
    reads to see *why* before changing anything. ``decided``: (headline Label, threshold) per row, as
    :func:`label_rows` fills it."""
    out = []
    for row, flagged, (lab, threshold) in zip(rows, headline_pred, decided, strict=True):
        if flagged == (HEADLINE in (row.get("labels") or [])):
            continue
        out.append({"error": "false positive" if flagged else "missed", "id": row.get("id"),
                    "published": as_day(row.get("published")), "title": row.get("title") or "",
                    "incident": row.get("incident") or "", "score": round(float(lab.score), 4),
                    "threshold": round(float(threshold), 4), "reason": lab.reason or "", "evidence": lab.evidence or ""})
    return out


def label_rows(rows: list[dict[str, Any]], head_for: Callable[[dict[str, Any]], Any], featurizer: Any, *,
               memory: bool = True, batch: int = 32, analyst: int = 0, machine_flags: list[bool] | None = None,
               decided: list[tuple[Any, float]] | None = None,
               ) -> tuple[list[dict[str, Any]], list[bool], dict[str, list[bool]]]:
    """``rows`` in publication order (stable on file order) through :func:`.labelling.label_documents`, each
    with the head ``head_for(row)`` gives and one incident book (when ``memory``) ->
    (rows in that order, headline flags, topic flags by category).

    ``analyst`` > 0 simulates an analyst: after each publication week, the ``analyst`` items of the week whose
    headline scores are nearest their threshold are answered with their gold label (nothing else of the gold is
    read): the answer replaces the item's flag and goes to the book (:meth:`.incidents.IncidentBook.answer`), so
    the next weeks are labelled with it, as ``label --yes/--no`` does for the next ``classify``. The machine's
    own headline flags (answers not applied) are appended to ``machine_flags`` when given, and each row's headline
    Label with its head's threshold to ``decided``.
    """
    rows = sorted(rows, key=lambda r: str(r.get("published") or ""))
    book = IncidentBook() if memory or analyst else None
    headline_pred: list[bool] = []
    cat_pred: dict[str, list[bool]] = {c: [] for c in CATEGORIES}
    self_only = machine_flags if machine_flags is not None else []
    for week in _weeks(rows) if analyst else [(0, len(rows))]:
        shown: list[tuple[float, int, Any]] = []
        start = week[0]
        while start < week[1]:
            # a run of rows sharing one head, at most ``batch`` long
            head = head_for(rows[start])
            end = start + 1
            while end < week[1] and end - start < batch and head_for(rows[end]) is head:
                end += 1
            for i, labelled in enumerate(label_documents(rows[start:end], head, featurizer, book), start):
                flags = {lab.label: flagged for lab, flagged in labelled}
                headline_pred.append(bool(flags[HEADLINE]))
                for c in CATEGORIES:
                    cat_pred[c].append(bool(flags[c]))
                lab = next(lab for lab, _ in labelled if lab.label == HEADLINE)
                shown.append((abs(lab.score - head.threshold), i, lab))
                if decided is not None:
                    decided.append((lab, head.threshold))
            start = end
        self_only.extend(headline_pred[len(self_only):])  # before this week's answers
        for _, i, lab in sorted(shown, key=lambda t: (t[0], t[1]))[:analyst]:
            value = HEADLINE in (rows[i].get("labels") or [])
            headline_pred[i] = value
            assert book is not None
            book.answer(rows[i], lab.evidence or "", value, _embedding(featurizer, rows[i], lab.evidence))
    return rows, headline_pred, cat_pred


def _weeks(rows: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Spans of ``rows`` (in publication order) that share a publication week."""
    spans: list[tuple[int, int]] = []
    last = None
    for i, r in enumerate(rows):
        day = day_number(r.get("published"))
        week = None if day is None else date.fromordinal(day).isocalendar()[:2]
        if not spans or week != last:
            spans.append((i, i + 1))
        else:
            spans[-1] = (spans[-1][0], i + 1)
        last = week
    return spans


def _embedding(featurizer: Any, row: dict[str, Any], sentence: str | None) -> Any:
    """The embedding of ``sentence`` among ``row``'s units (None when it is not one: the encoder makes it)."""
    feats = featurizer([row])[0]
    units, emb = getattr(feats, "units", []), getattr(feats, "emb", None)
    return emb[units.index(sentence)] if emb is not None and sentence in units else None


def summarise(rows: list[dict[str, Any]], headline_pred: list[bool], cat_pred: dict[str, list[bool]],
              threshold: Any, cat_thresholds: list[Any]) -> dict[str, Any]:
    """The figures of :func:`evaluate` from the flags :func:`label_rows` gave."""
    gold = [HEADLINE in (r.get("labels") or []) for r in rows]
    result: dict[str, Any] = {
        "labels": {HEADLINE: {**_prf(headline_pred, gold), "threshold": threshold}},
        "categories": {},
    }
    for i, c in enumerate(CATEGORIES):
        cg = [c in (r.get("categories") or []) for r in rows]
        result["categories"][c] = {**_prf(cat_pred[c], cg), "threshold": cat_thresholds[i]}
    result["categories"]["macro_f1"] = round(
        float(sum(result["categories"][c]["f1"] for c in CATEGORIES)) / len(CATEGORIES), 4)
    baseline = [keyword_rule(r.get("title") or "", r.get("text") or "") for r in rows]
    result["baseline"] = {"name": "keyword rule (signing artefact near a compromise word + supply-chain cue)",
                          "labels": {HEADLINE: _prf(baseline, gold)}}
    return result
