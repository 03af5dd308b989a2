"""Stories in the store: documents about one event (across outlets, and follow-ups) grouped under one id.

Mixed into :class:`store.core.Store`; SQL stays in the store package. Deciding which documents
belong together is the clustering step's job (``classifiers.stories``); this module only records
its decisions, keeps each story's counters in step, and caches the vectors it compared.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import InputError
from .models import Batches, utcnow

REASONS = ("first", "embedding", "title", "manual")
# What clustering reads of a document, and which documents it has still to place (in the order it must see them).
_CLUSTER_COLUMNS = ("d.id, d.title, d.summary, substr(d.text, 1, 2000) as text, d.published, d.source, d.kind, d.vendor, "
                    "d.canonical_url")
_UNCLUSTERED = ("from documents d where not exists (select 1 from story_documents s where s.document_id = d.id) "
                "order by coalesce(d.published, d.fetched_at), d.id")


class StoriesMixin:
    db: Any

    def _guard(self) -> Any: ...  # provided by Store

    # -- what needs clustering -------------------------------------------------------------------

    def documents_without_story(self, *, limit: int | None = None) -> list[dict[str, Any]]:
        """Documents not yet in a story, in publication order (the order clustering must see them in)."""
        with self._guard():
            return self.db.execute_returning_dicts(f"select {_CLUSTER_COLUMNS} {_UNCLUSTERED}" + (" limit ?" if limit else ""),
                                                   [limit] if limit else [])

    def documents_to_cluster(self, *, batch: int = 1000) -> Batches:
        """Batches of the documents not yet in a story, in publication order, each read when it is reached (the same
        rows as :meth:`documents_without_story`): which documents is decided now, and only their ids are held, so
        a large backfill does not keep the start of every document's text in memory while it clusters."""
        with self._guard():
            ids = [r[0] for r in self.db.execute(f"select d.id {_UNCLUSTERED}")]

        def fetch(chunk: list[int]) -> list[dict[str, Any]]:
            with self._guard():
                rows = self.db.execute_returning_dicts(
                    f"select {_CLUSTER_COLUMNS} from documents d where d.id in ({','.join('?' * len(chunk))})", chunk)
            order = {doc_id: i for i, doc_id in enumerate(chunk)}
            return sorted(rows, key=lambda r: order[r["id"]])

        return Batches(ids, batch, fetch)

    def story_candidates(self, since: str, until: str) -> list[dict[str, Any]]:
        """Members of stories active between ``since`` and ``until`` (ISO times): the stories a new document may join.

        One row per member document: story_id, document_id, title, summary, text (its start), published, source, kind.
        """
        with self._guard():
            return self.db.execute_returning_dicts(
                """
                select s.id as story_id, d.id as document_id, d.title, d.summary, substr(d.text, 1, 2000) as text,
                       d.published, d.source, d.kind
                from stories s
                join story_documents m on m.story_id = s.id
                join documents d on d.id = m.document_id
                where s.last_published >= ? and s.first_published <= ?
                order by s.id, d.published, d.id
                """, [since, until])

    # -- recording decisions ----------------------------------------------------------------------

    def assign_story(self, document_id: int, story_id: int | None = None, *, similarity: float = 1.0,
                     reason: str = "first") -> int:
        """Put a document into ``story_id`` (None: a new story of its own); returns the story's id.

        A document is in at most one story: assigning it again moves it (and an emptied story is
        dropped). The story's title stays its first document's; counters and dates follow members.
        """
        return self.assign_stories([(document_id, story_id, similarity, reason)])[0]

    def assign_stories(self, assignments: Iterable[tuple[int, int | str | None, float, str]], *,
                       new_only: bool = False) -> list[int]:
        """Many :meth:`assign_story` calls in one transaction; returns the story id of each.

        A story id may also be ``"new:<document id>"``: the story that an earlier assignment of this
        call made for that document (clustering names the stories of a batch before they are stored).

        ``new_only`` (clustering): the decisions were made from a snapshot that another process may have
        changed since, so a document that already has a story keeps it, and one whose chosen story is gone
        (emptied and dropped meanwhile) starts its own instead of failing the whole batch.
        """
        now = utcnow()
        out: list[int] = []
        touched: set[int] = set()
        made: dict[str, int] = {}
        with self._guard(), self._atomic():
            for document_id, key, similarity, reason in assignments:
                story_id = made.get(key) if isinstance(key, str) else key
                if reason not in REASONS:
                    raise InputError(f"unknown story reason {reason!r} (one of: {', '.join(REASONS)})")
                doc = self.db.execute("select title, coalesce(published, fetched_at) from documents where id = ?",
                                      [document_id]).fetchone()
                if doc is None:
                    raise InputError(f"no document with id {document_id}")
                old = self.db.execute("select story_id from story_documents where document_id = ?",
                                      [document_id]).fetchone()
                if new_only and old is not None:
                    made[f"new:{document_id}"] = old[0]  # clustered by another process meanwhile: leave it there
                    out.append(old[0])
                    continue
                if new_only and story_id is not None and self.db.execute(
                        "select 1 from stories where id = ?", [story_id]).fetchone() is None:
                    story_id, similarity, reason = None, 1.0, "first"
                if story_id is None:
                    story_id = self.db["stories"].insert(
                        {"title": doc[0], "first_published": doc[1], "last_published": doc[1], "documents": 0,
                         "created_at": now, "updated_at": now}).last_pk
                    made[f"new:{document_id}"] = story_id
                elif self.db.execute("select 1 from stories where id = ?", [story_id]).fetchone() is None:
                    raise InputError(f"no story with id {story_id}")
                self.db["story_documents"].upsert(
                    {"document_id": document_id, "story_id": story_id, "similarity": float(similarity),
                     "reason": reason, "assigned_at": now}, pk="document_id")
                touched.add(story_id)
                if old is not None and old[0] != story_id:
                    touched.add(old[0])
                out.append(story_id)
            for sid in touched:
                self._refresh_story(sid, now)
        return out

    def _refresh_story(self, story_id: int, now: str) -> None:
        row = self.db.execute(
            """
            select count(*), min(coalesce(d.published, d.fetched_at)), max(coalesce(d.published, d.fetched_at))
            from story_documents m join documents d on d.id = m.document_id where m.story_id = ?
            """, [story_id]).fetchone()
        if not row[0]:
            self.db.execute("delete from stories where id = ?", [story_id])
            return
        self.db.execute("update stories set documents = ?, first_published = ?, last_published = ?, updated_at = ? "
                        "where id = ?", [row[0], row[1], row[2], now, story_id])

    def reset_stories(self) -> int:
        """Forget every story (to cluster the archive again from scratch); returns how many there were."""
        with self._guard(), self._atomic():
            n = self.db.execute("select count(*) from stories").fetchone()[0]
            self.db.execute("delete from story_documents")
            self.db.execute("delete from stories")
        return n

    # -- reading ----------------------------------------------------------------------------------

    def story(self, story_id: int) -> dict[str, Any] | None:
        """A story with its ``members`` (document id, title, source, url, published, similarity, reason)."""
        with self._guard():
            rows = self.db.execute_returning_dicts("select * from stories where id = ?", [story_id])
            if not rows:
                return None
            rows[0]["members"] = self.db.execute_returning_dicts(
                """
                select d.id, d.title, d.source, d.url, d.published, m.similarity, m.reason
                from story_documents m join documents d on d.id = m.document_id
                where m.story_id = ? order by d.published, d.id
                """, [story_id])
        return rows[0]

    def story_ids(self, document_ids: list[int]) -> dict[int, int]:
        """document id -> story id, for those of ``document_ids`` that are in a story."""
        if not document_ids:
            return {}
        out: dict[int, int] = {}
        with self._guard():
            for start in range(0, len(document_ids), 900):  # SQLite's bound-parameter limit
                chunk = document_ids[start:start + 900]
                for doc_id, sid in self.db.execute(
                        f"select document_id, story_id from story_documents where document_id in ({','.join('?' * len(chunk))})",
                        chunk):
                    out[doc_id] = sid
        return out

    # -- vectors ----------------------------------------------------------------------------------

    def vectors(self, model: str, document_ids: list[int]) -> dict[int, bytes]:
        """Cached title+lead vectors (raw float32 bytes) of ``model`` for those documents that have one."""
        out: dict[int, bytes] = {}
        with self._guard():
            for start in range(0, len(document_ids), 900):
                chunk = document_ids[start:start + 900]
                for doc_id, blob in self.db.execute(
                        f"select document_id, vector from document_vectors where model = ? "
                        f"and document_id in ({','.join('?' * len(chunk))})", [model, *chunk]):
                    out[doc_id] = blob
        return out

    def save_vectors(self, model: str, vectors: Iterable[tuple[int, bytes]]) -> None:
        with self._guard(), self._atomic():
            self.db["document_vectors"].upsert_all(
                ({"document_id": i, "model": model, "vector": v} for i, v in vectors), pk=("document_id", "model"))
