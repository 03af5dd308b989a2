"""Labels and corrections in the store: what the classifier concluded, and what analysts said.

Mixed into :class:`store.core.Store`; SQL stays in the store package.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import InputError
from .models import Batches
from .vocabulary import Label


class LabelsMixin:
    db: Any

    def _guard(self) -> Any: ...  # provided by Store

    def documents_to_label(self, model_version: str, *, batch: int = 64, relabel: bool = False,
                           limit: int | None = None) -> Batches:
        """Batches, in publication order, of documents with no label from ``model_version`` for their current
        text (all with ``relabel``): an edited article, or a feed-only one whose page arrived, is labelled again.
        Which documents is decided now; ``.total`` says how many."""
        with self._guard():
            ids = [r[0] for r in self.db.execute(
                """
                select d.id from documents d
                where ? or not exists (
                    select 1 from labels l where l.document_id = d.id and +l.model_version = ?
                    and coalesce(l.content_hash, d.content_hash) = d.content_hash)
                order by d.published, d.id
                """, [int(relabel), model_version])]
        # "+": a document's own label rows by the primary key; on the model_version index SQLite read every
        # label of the model once per document (a resumed 100,000-document backfill: minutes at 100% CPU
        # before its first batch, quadratic in the archive).
        if limit is not None:
            ids = ids[:limit]

        def fetch(chunk: list[int]) -> list[dict[str, Any]]:
            with self._guard():
                rows = self.db.execute_returning_dicts(
                    f"select id, title, text, summary, published, vendor, source, text_source, content_hash, "
                    f"(select story_id from story_documents s where s.document_id = documents.id) as story_id "
                    f"from documents where id in ({','.join('?' * len(chunk))})", chunk)
            order = {doc_id: i for i, doc_id in enumerate(chunk)}
            return sorted(rows, key=lambda r: order[r["id"]])

        return Batches(ids, batch, fetch)

    def save_labels(self, results: Iterable[tuple[int, list[tuple[Label, bool]]]], model_version: str,
                    now: str, content_hashes: dict[int, str] | None = None,
                    incidents: list[dict[str, Any]] | None = None) -> int:
        """Replace the machine labels of each document, all in one transaction; returns documents labelled.

        ``content_hashes`` (document id -> the content hash of the text labelled) defaults to the stored one.
        ``incidents`` (records the labelling opened or extended) are saved in the same transaction; each record
        gets its store ``id``."""
        count = 0
        with self._guard(), self._atomic():
            for doc_id, labels in results:
                known = (content_hashes or {}).get(doc_id)
                if known is None:
                    row = self.db.execute("select content_hash from documents where id = ?", [doc_id]).fetchone()
                    known = row[0] if row else None
                self.db.execute("delete from labels where document_id = ?", [doc_id])
                self.db["labels"].insert_all(
                    [{"document_id": doc_id, "label": lab.label, "score": round(float(lab.score), 4),
                      "flagged": int(bool(flagged)), "evidence": lab.evidence, "model_version": model_version,
                      "labelled_at": now, "reason": getattr(lab, "reason", "") or None, "content_hash": known}
                     for lab, flagged in labels],
                )
                count += 1
            if incidents:
                for record, incident_id in zip(incidents, self._save_incidents(incidents, now), strict=True):  # type: ignore[attr-defined]
                    record["id"] = incident_id
        return count

    def flagged(self, label: str, *, since: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Documents flagged with ``label`` (newest first), with score and evidence."""
        with self._guard():
            return self.db.execute_returning_dicts(
                """
                select d.id, d.title, d.published, d.source, d.url, l.score, l.evidence
                from labels l join documents d on d.id = l.document_id
                where l.label = ? and l.flagged = 1 and (? is null or d.published >= ?)
                order by d.published desc limit ?
                """, [label, since, since, limit])

    def add_correction(self, doc_id: int, label: str, value: bool, now: str, note: str = "", *,
                       evidence: str | None = None, incidents: list[dict[str, Any]] | None = None) -> None:
        """Record an analyst's answer (on ``evidence``, the sentence it is about, when given); with it, in one
        transaction, the incident records it changed."""
        with self._guard(), self._atomic():
            if not self.db.execute("select 1 from documents where id = ?", [doc_id]).fetchone():
                raise InputError(f"no document with id {doc_id}")
            self.db["corrections"].upsert(
                {"document_id": doc_id, "label": label, "value": int(value), "note": note, "created_at": now,
                 "evidence": evidence},
                pk=("document_id", "label"),
            )
            if incidents:
                self._save_incidents(incidents, now)  # type: ignore[attr-defined]

    def corrections(self) -> list[dict[str, Any]]:
        """Analysts' corrections with the documents' text, for training."""
        with self._guard():
            return self.db.execute_returning_dicts(
                """
                select c.document_id, c.label, c.value, d.title, d.text, d.published
                from corrections c join documents d on d.id = c.document_id order by c.created_at
                """)
