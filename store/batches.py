"""The scale-mode writer's one write: a batch of queued entries, in one transaction.

Documents, fetch outcomes and labels arrive from many workers through a queue, at least once: each
document goes through the store's own dedup by canonical URL and GUID (``Store._upsert_document``),
so a redelivered entry is ``unchanged``, never a second row. Labels replace a document's labels, so
a redelivered label batch is harmless too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .models import Document, FetchOutcome, SaveResult, utcnow
from .vocabulary import Label


def save_batch(store: Any, documents: Iterable[Document], outcomes: Iterable[FetchOutcome] = (),
               labels: Iterable[tuple[str, list[tuple[int, str | None, list[tuple[Label, bool]]]]]] = (),
               now: str | None = None) -> SaveResult:
    """Store everything in one transaction: documents (deduplicated), then outcomes (an outcome for a source
    this store does not know is skipped: the writer must not die of one stray entry), then labels
    (``(model_version, [(doc_id, content_hash, labels)][, incident records])``; a document no longer stored is
    skipped)."""
    now = now or utcnow()
    result = SaveResult()
    with store._guard(), store._atomic():
        for doc in documents:
            state = store._upsert_document(doc, now)
            setattr(result, state, getattr(result, state) + 1)
        for outcome in outcomes:
            if store.source_state(outcome.source):
                store._record_outcome(outcome, SaveResult())
        for model_version, results, *rest in labels:
            known = {row[0] for row in store.db.execute(
                f"select id from documents where id in ({','.join('?' * len(results))})",
                [doc_id for doc_id, _, _ in results])} if results else set()
            # Incident records travel with the labels that opened or extended them; a redelivered entry finds
            # its incident by its first document (store.incidents), so it is never a second one.
            incidents = [r for r in (rest[0] if rest else []) if r["first_document_id"] in known] or None
            store.save_labels([(doc_id, labs) for doc_id, _, labs in results if doc_id in known], model_version, now,
                              content_hashes={doc_id: h for doc_id, h, _ in results if h and doc_id in known},
                              incidents=incidents)
    return result
