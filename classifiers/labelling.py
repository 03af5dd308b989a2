"""Labelling documents: the head's scores, the incident memory, the flag decision. One function for both
`classify` (production, over the store) and `eval` (a labelled file), so a figure cannot drift from what users get.

Never loads a model itself: it is handed a head and a featurizer (or a Classifier holding both).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from supplywatch.store import Label, utcnow, vocabulary

from .memory import IncidentMemory


def label_documents(docs: list[dict[str, Any]], head: Any, featurizer: Any,
                    memory: IncidentMemory | None = None) -> list[list[tuple[Label, bool]]]:
    """For each document (dict with title, text, published), in the order given: [(Label, flagged), ...].

    The headline's score goes through ``memory`` (when given; it learns from each flag as it goes,
    so pass documents in publication order) and is flagged at the head's threshold; topics are
    flagged at their own thresholds by the head.
    """
    headline = vocabulary.headline()
    out = []
    for doc, feats in zip(docs, featurizer(docs), strict=True):
        labels = []
        for lab, flagged in head.labels(feats):
            if lab.label == headline:
                if memory is not None:
                    lab.score = memory.adjust(doc, lab.score, head.threshold)
                flagged = bool(lab.score >= head.threshold)
            labels.append((lab, flagged))
        out.append(labels)
    return out


def seeded_memory(store: Any) -> IncidentMemory:
    """An incident memory that knows the headline incidents the pipeline already flagged within its window."""
    memory = IncidentMemory()
    since = (datetime.now(UTC) - timedelta(days=memory.window)).strftime("%Y-%m-%dT%H:%M:%SZ")
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
    memory = seeded_memory(store)
    result = ClassifyResult(model_version=classifier.version)
    for batch in store.documents_to_label(classifier.version, relabel=relabel, limit=limit):
        labelled = classifier.label(batch, memory)
        for labels in labelled:
            for lab, flagged in labels:
                if flagged:
                    result.flagged[lab.label] = result.flagged.get(lab.label, 0) + 1
        store.save_labels([(doc["id"], labels) for doc, labels in zip(batch, labelled, strict=True)],
                          classifier.version, utcnow())
        result.documents += len(batch)
        if progress:
            progress(result.documents)
    return result
