"""Measuring a head on labelled articles (the format of ../shared/eval/dev.jsonl).

Never fits anything on the file it measures. Articles are processed in publication order, the
way the pipeline meets the news, so the incident memory only knows what came before.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from supplywatch.store import InputError

from .labelling import label_documents
from .lexical import keyword_rule
from .memory import IncidentMemory
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
             batch: int = 32) -> dict[str, Any]:
    """Per-label precision/recall/F1, topic macro-F1, the keyword baseline, documents per second."""
    if not rows:
        raise InputError("no articles to evaluate")
    started = time.perf_counter()
    rows, headline_pred, cat_pred = label_rows(rows, lambda chunk: head, featurizer, memory=memory, batch=batch)
    result = summarise(rows, headline_pred, cat_pred, round(head.threshold, 4),
                       [round(float(t), 4) for t in head.cat_thresholds])
    elapsed = time.perf_counter() - started
    return {"n": len(rows), "docs_per_second": round(len(rows) / elapsed, 2) if elapsed else None,
            "model_version": head.version, "memory": memory, **result}


def label_rows(rows: list[dict[str, Any]], head_for: Callable[[dict[str, Any]], Any], featurizer: Any, *,
               memory: bool = True, batch: int = 32) -> tuple[list[dict[str, Any]], list[bool], dict[str, list[bool]]]:
    """``rows`` in publication order (stable on file order) through :func:`.labelling.label_documents`, each
    with the head ``head_for(row)`` gives and one incident memory (when ``memory``) ->
    (rows in that order, headline flags, topic flags by category)."""
    rows = sorted(rows, key=lambda r: str(r.get("published") or ""))
    mem = IncidentMemory() if memory else None
    headline_pred: list[bool] = []
    cat_pred: dict[str, list[bool]] = {c: [] for c in CATEGORIES}
    start = 0
    while start < len(rows):
        # a run of rows sharing one head, at most ``batch`` long
        head = head_for(rows[start])
        end = start + 1
        while end < len(rows) and end - start < batch and head_for(rows[end]) is head:
            end += 1
        for labelled in label_documents(rows[start:end], head, featurizer, mem):
            flags = {lab.label: flagged for lab, flagged in labelled}
            headline_pred.append(bool(flags[HEADLINE]))
            for c in CATEGORIES:
                cat_pred[c].append(bool(flags[c]))
        start = end
    return rows, headline_pred, cat_pred


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
