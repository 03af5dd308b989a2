"""How ``Store.search`` uses the tantivy side index (store/search_index.py) on large archives.

Mixed into :class:`store.search.SearchMixin`. Below ``side_index_min_docs`` documents FTS5 alone is fast
enough and nothing here runs (tantivy is not even imported). Above it, a search brings the side index up
to date with the change log (or builds it, or gives up: FTS5 alone), asks it how many documents the words
match, and then:

* up to ``fts5_ranks_max`` matches: FTS5 ranks the index's best candidates (more while the index's scores
  tie past them; past ``TIE_MAX`` FTS5 ranks every match) - FTS5 walks the matches but computes bm25 for
  the candidates alone. The result is FTS5's own top ``limit`` unless a document FTS5 ranks there is
  outside the candidates (both rank by bm25 with the title five times the text; they differ in idf and in
  tantivy's one-byte lengths, hence the tie rule);
* beyond: the index's bm25 orders and FTS5 confirms each match (query semantics, filters, snippet) by rowid;
  FTS5 could not rank these fast at all (its idf alone walks every match of each phrase).

--label/--supplier are kept out of the index: it fetches more candidates and SQL keeps those that pass.
When fewer than ``limit`` survive and the index had more matches, it asks for eight times as many, and at
the end FTS5 over every match answers. Measured in benchmarks/SEARCH.md.
"""

from __future__ import annotations

import json
from typing import Any

from . import fts5query
from .search_index import SideIndex, Unusable, day_key

SIDE_MIN_DOCS = 50_000  # below this FTS5 ranks every match in a few ms (benchmarks/SEARCH.md)
FTS5_RANKS_MAX = 50_000  # up to this many matches FTS5 ranks the candidates (walking every match: ms)
SIDE_CANDIDATES = 200  # candidates FTS5 ranks per round
TIE_MARGIN = 0.05  # scores this close to the `limit`-th count as tied with it (one length bucket is ~3%)
TIE_MAX = 3_200  # candidates one index search fetches: the tie band must end within them
SIDE_MAX_FETCH = 20_000  # the most the side index is asked for before FTS5 alone takes over
SIDE_MAX_LIMIT = 200  # larger result pages go to FTS5 alone
PREFILTER_FACTOR = 10  # with --label/--supplier, fetch this many times the candidates, keep those that pass
CATCH_UP_MAX = 50_000  # changes a search applies itself; more, and it runs on FTS5 alone until rebuilt
INLINE_BUILD_MAX = 100_000  # documents a search indexes itself when there is no usable index


class SideIndexMixin:
    db: Any
    path: Any
    side_index_min_docs = SIDE_MIN_DOCS
    fts5_ranks_max = FTS5_RANKS_MAX

    def _guard(self) -> Any: ...  # provided by Store

    def _ranked(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]: ...  # provided by SearchMixin

    def _confirmed(self, *args: Any) -> list[dict[str, Any]]: ...  # provided by SearchMixin

    def _match(self, query: str, raw: bool) -> str: ...  # provided by SearchMixin

    def update_search_index(self, *, rebuild: bool = False, catch_up_max: int | None = None,
                            build_max: int | None = None) -> SideIndex | None:
        """Bring the search side index up to date with the file (build it when missing, stale beyond repair or
        ``rebuild``); return it, or None when it cannot be used now (no tantivy, unwritable folder, busy, or
        more work than ``catch_up_max`` changes / ``build_max`` documents). Safe to call from any process."""
        try:
            side = self.__dict__.get("_side") or SideIndex(self.path)
        except ImportError:
            return None
        self.__dict__["_side"] = side
        with self._guard():
            last = self.db.execute("select seq, document_id from search_changes order by seq desc limit 1").fetchone()
        seq, doc = last or (0, 0)
        try:
            if not rebuild and side.applied == (seq, doc):
                return side
            state = None if rebuild else side.read_state()
            if state is not None and (state["seq"], state["document_id"]) == (seq, doc):
                side.load(state)
                return side
            if state is not None and state["seq"] < seq and self._in_log(state["seq"], state["document_id"]):
                if catch_up_max is not None and seq - state["seq"] > catch_up_max:
                    return None
                self._catch_up(side, state["seq"], seq, doc)
                return side
            if build_max is not None and self._max_id() > build_max:
                return None
            with self._guard():
                # Read inside one read transaction: the rows and (seq, doc) are one snapshot of the file.
                own = not self.db.conn.in_transaction
                if own:
                    self.db.conn.execute("begin")
                try:
                    last = self.db.execute("select seq, document_id from search_changes order by seq desc "
                                           "limit 1").fetchone()
                    rows = self.db.conn.execute("select id, source, title, text, published from documents")
                    side.rebuild(rows, *(last or (0, 0)))
                finally:
                    if own:
                        self.db.conn.rollback()
            return side
        except (Unusable, ValueError, OSError):  # tantivy's own errors (a full disk...): FTS5 alone answers
            return None

    def _in_log(self, seq: int, doc: int) -> bool:
        """Whether the change an index says it applied is this file's (not another file's, nor pruned)."""
        with self._guard():
            if seq == 0:
                first = self.db.execute("select min(seq) from search_changes").fetchone()[0]
                return first is None or first == 1
            row = self.db.execute("select document_id from search_changes where seq = ?", [seq]).fetchone()
        return row is not None and row[0] == doc

    def _catch_up(self, side: SideIndex, since: int, seq: int, doc: int) -> None:
        with self._guard():
            changed = [r[0] for r in self.db.execute(
                "select distinct document_id from search_changes where seq > ? and seq <= ?", [since, seq])]
            rows = self.db.execute("select id, source, title, text, published from documents "
                                   "where id in (select value from json_each(?))", [json.dumps(changed)]).fetchall()
        side.apply(changed, rows, seq, doc)

    def _max_id(self) -> int:
        with self._guard():
            return self.db.execute("select coalesce(max(id), 0) from documents").fetchone()[0]

    def refresh_search_index(self) -> bool:
        """After writing (a crawl): bring the side index up to date when the archive is large enough to use
        one, however many changes that takes. False when there is none to keep or it cannot be used now."""
        if self._max_id() < self.side_index_min_docs:
            return False
        return self.update_search_index() is not None

    def _side_index(self) -> SideIndex | None:
        """The side index for a search, up to date; None where FTS5 alone answers (small archive, no index)."""
        if self._max_id() < self.side_index_min_docs:
            return None
        return self.update_search_index(catch_up_max=CATCH_UP_MAX, build_max=INLINE_BUILD_MAX)

    def _search_candidates(self, side: SideIndex, query: str, match: str, raw: bool, limit: int, join: str,
                           where: list[str], params: dict[str, Any], first: Any, last: Any,
                           filtered: bool) -> list[dict[str, Any]] | None:
        """The search through the side index, or None: FTS5 over every match must answer."""
        try:
            tree = fts5query.parse(match)
        except fts5query.Unsupported:
            return None
        days = {"first_day": day_key(first.isoformat()) if first else None,
                "last_day": day_key(last.isoformat()) if last else None}
        try:
            _, matching = side.candidates(tree, k=0)
            if matching <= self.fts5_ranks_max:
                return self._fts5_ranks(side, tree, query, raw, limit, join, where, params, days, filtered)
            return self._side_ranks(side, tree, query, raw, limit, join, where, params, days, filtered)
        except (Unusable, ValueError, OSError):
            return None

    def _fts5_ranks(self, side: SideIndex, tree: Any, query: str, raw: bool, limit: int, join: str,
                    where: list[str], params: dict[str, Any], days: dict[str, Any],
                    filtered: bool) -> list[dict[str, Any]] | None:
        """FTS5's bm25 ranking of the side index's best candidates (FTS5 walks every match, scores those alone).

        The candidates are the index's best ``want``, or more when its scores tie past them: the whole band
        of scores within ``TIE_MARGIN`` of the ``limit``-th (tantivy keeps document lengths in one byte, so
        documents with as many hits and similar lengths tie, and FTS5 orders within the tie by exact length).
        One index search fetches ``TIE_MAX`` at once, which is enough for the band; a band that runs past
        them goes to FTS5 over every match. Each candidate costs FTS5 a bm25, so the band is cut where it
        ends, not at what was fetched (3,200 candidates cost 43 ms at 1M documents, 800 cost 34).
        """
        factor = PREFILTER_FACTOR if filtered else 1
        want = max(SIDE_CANDIDATES, 5 * limit)
        fetch = TIE_MAX
        while True:
            found, total = side.candidates(tree, k=fetch, source=params.get("source"), **days)
            band = len(found)
            if len(found) > limit:
                floor = found[limit - 1][1] * (1 - TIE_MARGIN)
                band = next((n for n, (_, score) in enumerate(found) if score < floor), len(found))
                if band == len(found) and total > fetch and fetch == TIE_MAX:
                    return None  # the tie runs past what one search fetched: FTS5 ranks every match
            keep = max(want * factor, band)
            ids = [i for i, _ in found[:keep]]
            complete = total <= fetch and keep >= len(found)
            if filtered:
                ids = self._passing(ids, where, params)
            if len(ids) > max(want, band):
                ids, complete = ids[:max(want, band)], False
            rows = self._ranked(query, raw, join, where, {"match": self._match(query, raw), "limit": limit, **params},
                                candidates=ids)
            if len(rows) >= limit or complete:
                return rows
            if fetch >= SIDE_MAX_FETCH:
                return None
            fetch, want = fetch * 8, want * 8

    def _side_ranks(self, side: SideIndex, tree: Any, query: str, raw: bool, limit: int, join: str,
                    where: list[str], params: dict[str, Any], days: dict[str, Any],
                    filtered: bool) -> list[dict[str, Any]] | None:
        """The side index's bm25 ranking; FTS5 confirms each match (and makes its snippet), best first."""
        fetch = max(SIDE_CANDIDATES, 5 * limit) * (PREFILTER_FACTOR if filtered else 1)
        rows: list[dict[str, Any]] = []
        seen = 0
        while True:
            found, total = side.candidates(tree, k=fetch, source=params.get("source"), **days)
            found = found[seen:]
            scores = dict(found)
            ids = [i for i, _ in found]
            if filtered:
                ids = self._passing(ids, where, params)
            for start in range(0, len(ids), 2 * limit):
                batch = ids[start:start + 2 * limit]
                confirmed = {r["id"]: r for r in self._confirmed(query, raw, where, params, batch)}
                for doc_id in batch:
                    if doc_id in confirmed:
                        rows.append({**confirmed[doc_id], "rank": -scores[doc_id]})
                        if len(rows) == limit:
                            return rows
            if total <= fetch:
                return rows
            if fetch >= SIDE_MAX_FETCH:
                return None
            seen, fetch = fetch, fetch * 8

    def _passing(self, ids: list[int], where: list[str], params: dict[str, Any]) -> list[int]:
        """The ``ids`` that pass the filters (label, supplier, source, dates), in their order."""
        conditions = " and ".join(w.replace("documents_fts.rowid", "j.value") for w in where)
        sql = (f"select j.value from json_each(:ids) j join documents d on d.id = j.value "
               f"where {conditions} order by j.key")
        with self._guard():
            return [r[0] for r in self.db.execute(sql, {**params, "ids": json.dumps(ids)})]
