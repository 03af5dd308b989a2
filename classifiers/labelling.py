"""Labelling documents: the head's scores, the incident memory, the flag decision. One function for both
`classify` (production, over the store) and `eval` (a labelled file), so a figure cannot drift from what users get.

Never loads a model itself: it is handed a head and a featurizer (or a Classifier holding both).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from supplywatch.store import Label, utcnow, vocabulary

from .calibration import temper
from .features import MAX_UNITS
from .guard import cap_headline, headline_guard, names_artefact, sentence_verdict
from .memory import IncidentMemory
from .passages import document_units, evidence_ok


def label_documents(docs: list[dict[str, Any]], head: Any, featurizer: Any,
                    memory: IncidentMemory | None = None) -> list[list[tuple[Label, bool]]]:
    """For each document (dict with title, text, published), in the order given: [(Label, flagged), ...].

    The headline's score goes through ``memory`` (when given; it learns from each flag as it goes,
    so pass documents in publication order), then :func:`.guard.cap_headline` (no sentence naming a
    signing artefact: below the threshold, issue 16); it is flagged at the head's threshold only when
    :func:`.guard.headline_guard` finds a sentence stating a compromise of a signing artefact, and that
    sentence is the evidence. A follow-up the memory lifted passes when it names the artefact without
    negating it. The label's ``reason`` says why it is flagged or, for a score at the threshold, why not.
    Topics are flagged at their own thresholds by the head.
    """
    headline = vocabulary.headline()
    out = []
    for doc, feats in zip(docs, featurizer(docs), strict=True):
        labels = []
        for lab, flagged in head.labels(feats):
            if lab.label == headline:
                flagged = _decide(doc, feats, lab, head.threshold, memory)
            labels.append((lab, flagged))
        out.append(labels)
    return out


# A lifted follow-up may name the artefact without restating the theft; these verdicts still rule it out.
_NOT_FOR_FOLLOW_UPS = ("negated", "near-miss", "flaw", "hypothetical")


def _decide(doc: dict[str, Any], feats: Any, lab: Label, threshold: float, memory: IncidentMemory | None) -> bool:
    """The headline flag decision; updates ``lab`` (score, evidence, reason) and records a flag in ``memory``."""
    units = getattr(feats, "units", None) or document_units(doc.get("title") or "", doc.get("text") or "",
                                                             limit=MAX_UNITS)
    raw = lab.score
    score = memory.lifted(doc, raw, threshold) if memory is not None else raw
    lifted = score > raw
    capped = cap_headline(score, units, threshold)
    # What the reader sees is tempered by how much text there was; the decision below uses ``capped``.
    lab.score = temper(capped, units, threshold)
    if capped < threshold:
        lab.reason = CAPPED if score >= threshold else ""
        return False
    # The head's own evidence wins among qualifying sentences: it stands in for the margins.
    result = headline_guard(units, [1.0 if u == lab.evidence else 0.0 for u in units])
    passes, evidence, reason = result.passes, result.evidence, result.reason
    if not passes and lifted:
        named = [i for i, u in enumerate(units) if names_artefact(u) and evidence_ok(u, units[0])]
        if named and all(sentence_verdict(units[i]) not in _NOT_FOR_FOLLOW_UPS for i in named):
            passes, evidence, reason = True, named[0], FOLLOW_UP
    lab.reason = reason
    if passes:
        lab.evidence = units[evidence]
        if memory is not None:
            memory.record(doc, score)
    return passes


CAPPED = "capped: no sentence names a signing artefact"
FOLLOW_UP = "a follow-up of a flagged incident that names the signing artefact"


def seeded_memory(store: Any, first: str | None = None) -> IncidentMemory:
    """An incident memory that knows the headline incidents the pipeline already flagged within its window
    before now, or before ``first`` (the earliest publication time about to be labelled) when that is older:
    a backfill of last year's news, resumed after an interruption, remembers what it flagged before it."""
    memory = IncidentMemory()
    start = datetime.now(UTC)
    try:
        start = min(start, datetime.fromisoformat(str(first).replace("Z", "+00:00")).astimezone(UTC))
    except ValueError:
        pass
    since = (start - timedelta(days=memory.window)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for row in reversed(store.flagged(vocabulary.headline(), since=since)):
        memory.adjust(row, row["score"], 0.0)  # a threshold of 0 records it as an incident, unchanged
    return memory


@dataclass
class ClassifyResult:
    documents: int = 0
    flagged: dict[str, int] = field(default_factory=dict)
    model_version: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def classify_archive(store: Any, classifier: Any, *, relabel: bool = False, limit: int | None = None,
                     progress: Any = None) -> ClassifyResult:
    """The classify stage: label every stored document without a label from ``classifier.version``, in
    publication order, through :func:`label_documents` with a memory seeded from the store."""
    result = ClassifyResult(model_version=classifier.version)
    batches = store.documents_to_label(classifier.version, relabel=relabel, limit=limit)
    if progress:
        progress(0, len(batches))
    memory = None
    for batch in batches:
        if memory is None:
            memory = seeded_memory(store, batch[0].get("published") if batch else None)
        labelled = classifier.label(batch, memory)
        for labels in labelled:
            for lab, flagged in labels:
                if flagged:
                    result.flagged[lab.label] = result.flagged.get(lab.label, 0) + 1
        store.save_labels([(doc["id"], labels) for doc, labels in zip(batch, labelled, strict=True)],
                          classifier.version, utcnow(),
                          content_hashes={doc["id"]: doc["content_hash"] for doc in batch if doc.get("content_hash")})
        result.documents += len(batch)
        if progress:
            progress(result.documents, len(batches))
    return result
