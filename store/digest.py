"""What the daily digest reads from the store: one day's documents with their flagged labels, failing sources.

Mixed into :class:`store.core.Store`; SQL stays in the store package. Rendering lives in ``reports``.
"""

from __future__ import annotations

from typing import Any

from .errors import InputError
from .models import FAILURES, is_day


class DigestMixin:
    db: Any

    def _guard(self) -> Any: ...  # provided by Store

    def digest_documents(self, day: str) -> list[dict[str, Any]]:
        """Documents published on the UTC ``day`` (``YYYY-MM-DD``), oldest first, each with ``labels``,
        ``story_id``, ``story_first_published`` and ``story_documents`` (None before clustering), and
        ``incident_id``: the incident it opened or follows (None when none).

        ``labels`` lists the document's flagged labels (label, score, evidence), highest score first,
        after analysts' corrections: a label corrected to "no" is left out, one corrected to "yes" is in;
        it is empty for a document the classifier flagged with nothing (or has not labelled yet).
        """
        if not is_day(day):
            raise InputError(f"bad day {day!r}: expected YYYY-MM-DD")
        with self._guard():
            docs = self.db.execute_returning_dicts(
                """
                select d.id, d.title, d.url, d.canonical_url, d.source, d.vendor, d.published, d.kind, d.text, d.text_source,
                       d.summary, m.story_id, s.first_published as story_first_published,
                       s.documents as story_documents,
                       (select max(i.incident_id) from incident_members i where i.document_id = d.id) as incident_id
                from documents d left join story_documents m on m.document_id = d.id
                left join stories s on s.id = m.story_id
                where d.published like ? order by d.published, d.id
                """, [f"{day}%"])
            ids = [d["id"] for d in docs]
            labels: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
            if ids:
                rows = self.db.execute_returning_dicts(
                    f"""
                    select l.document_id, l.label, l.score, l.evidence, l.reason from labels l
                    left join corrections c on c.document_id = l.document_id and c.label = l.label
                    where l.document_id in ({','.join('?' * len(ids))})
                      and ((l.flagged = 1 and coalesce(c.value, 1) = 1) or c.value = 1)
                    order by l.document_id, l.score desc, l.label
                    """, ids)
                for row in rows:
                    labels[row.pop("document_id")].append(row)
        for doc in docs:
            doc["labels"] = labels[doc["id"]]
        return docs

    def failing_sources(self) -> list[dict[str, Any]]:
        """Enabled sources whose last fetch failed (a status in ``store.models.FAILURES``), by name."""
        statuses = sorted(FAILURES)
        with self._guard():
            return self.db.execute_returning_dicts(
                f"""
                select name, kind, url, last_status, http_status, last_error, consecutive_failures,
                       last_success, last_attempt
                from sources
                where enabled = 1 and last_status in ({','.join('?' * len(statuses))})
                order by name
                """, statuses)
