"""Incident records in the store: the compromised party, the artefact, the first document, the members, and
the analyst's status. Mixed into :class:`store.core.Store`; the decisions are ``classifiers.incidents``'.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import InputError
from .vocabulary import FOLLOW_UP

STATUSES = ("open", "confirmed", "rejected")
# Put before the reason of a follow-up whose incident an analyst rejected: it no longer reads as a follow-up.
REJECTED = "incident rejected by an analyst; was "


class IncidentsMixin:
    db: Any

    def _guard(self) -> Any: ...  # provided by Store

    def _atomic(self) -> Any: ...  # provided by Store

    def incidents(self, *, active_since: str | None = None) -> list[dict[str, Any]]:
        """Incidents (oldest first) with ``members`` (document ids in publication order) and ``stories`` (the
        stories its members belong to, as clustered): all, or those whose
        last member is from ``active_since`` on, plus every one an analyst answered (their prototypes stay)."""
        with self._guard():
            rows = self.db.execute_returning_dicts(
                """
                select * from incidents where ? is null or last_published >= ? or status != 'open'
                order by first_published, id
                """, [active_since, active_since])
            members: dict[int, list[int]] = {}
            stories: dict[int, list[int]] = {}
            for incident_id, document_id, story_id in self.db.execute(
                    """select m.incident_id, m.document_id, s.story_id from incident_members m
                       join documents d on d.id = m.document_id left join story_documents s on s.document_id = d.id
                       order by d.published, d.id"""):
                members.setdefault(incident_id, []).append(document_id)
                if story_id is not None and story_id not in stories.setdefault(incident_id, []):
                    stories[incident_id].append(story_id)
        for row in rows:
            row["members"], row["stories"] = members.get(row["id"], []), stories.get(row["id"], [])
        return rows

    def _save_incidents(self, records: Iterable[dict[str, Any]], now: str) -> list[int]:
        """Upsert incident records by their first document, replacing their member lists; inside a transaction."""
        ids = []
        for r in records:
            if r.get("status", "open") not in STATUSES:
                raise InputError(f"unknown incident status {r.get('status')!r}")
            row = {k: r.get(k) for k in ("party", "artefact", "first_document_id", "first_published", "last_published",
                                         "title", "evidence")}
            row["status"], row["updated_at"] = r.get("status") or "open", now
            found = self.db.execute("select id from incidents where first_document_id = ?",
                                    [r["first_document_id"]]).fetchone()
            if found:
                incident_id = found[0]
                self.db["incidents"].update(incident_id, row)
            else:
                incident_id = self.db["incidents"].insert(row).last_pk
            self.db.execute("delete from incident_members where incident_id = ?", [incident_id])
            self.db["incident_members"].insert_all(
                [{"incident_id": incident_id, "document_id": d} for d in dict.fromkeys(r.get("members") or [])],
                ignore=True)
            if row["status"] == "rejected":
                # The follow-ups it lent the label lose it with it, as a relabel would decide (a rejected incident
                # has no follow-ups); members flagged on their own evidence keep theirs.
                self.db.execute(
                    """update labels set flagged = 0, reason = ? || reason
                       where flagged = 1 and reason like ? and document_id in
                             (select document_id from incident_members where incident_id = ?)""",
                    [REJECTED, FOLLOW_UP + "%", incident_id])
            ids.append(incident_id)
        return ids

    def save_incidents(self, records: list[dict[str, Any]], now: str) -> list[int]:
        """:meth:`_save_incidents` in one transaction; the store's ids in the order given."""
        with self._guard(), self._atomic():
            return self._save_incidents(records, now)

    def incident_of(self, document_id: int) -> dict[str, Any] | None:
        """The incident ``document_id`` belongs to (its latest), with members; None when none."""
        with self._guard():
            row = self.db.execute(
                "select incident_id from incident_members where document_id = ? order by incident_id desc limit 1",
                [document_id]).fetchone()
        if row is None:
            return None
        return next((r for r in self.incidents() if r["id"] == row[0]), None)

    def headline_label(self, document_id: int, label: str) -> dict[str, Any] | None:
        """A document with its stored label ``label`` (score, flagged, evidence, reason); None without a document."""
        with self._guard():
            rows = self.db.execute_returning_dicts(
                """
                select d.id, d.title, d.text, d.published, l.score, l.flagged, l.evidence, l.reason
                from documents d left join labels l on l.document_id = d.id and l.label = ?
                where d.id = ?
                """, [label, document_id])
        return rows[0] if rows else None

    def answered_evidence(self, label: str) -> list[tuple[str, bool]]:
        """Analysts' answers on ``label`` with the sentence each is about, oldest first: (sentence, yes?)."""
        with self._guard():
            return [(e, bool(v)) for e, v in self.db.execute(
                "select evidence, value from corrections where label = ? and coalesce(evidence, '') != '' "
                "order by created_at", [label])]
