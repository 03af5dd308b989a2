"""Full-text search of the store: FTS5 with weighted bm25, snippets, and filters applied in SQL.

Mixed into :class:`store.core.Store`; SQL stays in the store package.

How it stays fast: one query takes the best ``limit`` ids by weighted bm25 (filters joined in, so
bm25 is computed only for documents that pass them, and SQLite keeps the top N in a small sorter;
FTS5's own ``ORDER BY rank`` sorts every match in full and is 2-4x slower on common words), then makes
a snippet for those ids alone. Measured in benchmarks/SEARCH.md.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import date, timedelta
from typing import Any

from . import vocabulary
from .errors import InputError, QuerySyntaxError
from .models import is_day
from .search_side import SIDE_MAX_LIMIT, SideIndexMixin

MAX_QUERY_CHARS = 2000
# Title hits weigh five times a hit in the text (bm25 weights, in column order: title, text).
WEIGHTS = "5.0, 1.0"
_TERMS = re.compile(r'"([^"]*)"|([^\s"]+)')
# sqlite3.OperationalError texts that are about the file, not about the query's syntax.
_NOT_SYNTAX = ("locked", "busy", "readonly", "read-only", "no such table", "unable to open", "disk", "interrupt")
NO_REGISTER = "no supplier register yet: run supplywatch suppliers import"


def parse_day(value: str, what: str) -> date:
    """A YYYY-MM-DD date, or a one-line InputError naming the argument (the CLI checks its options first)."""
    if not is_day(value):
        raise InputError(f"{what}: {value!r} is not a date (YYYY-MM-DD)")
    return date.fromisoformat(value)


def quote(query: str) -> str:
    """The user's words as FTS5 strings: "quoted phrases" stay phrases, every other word is quoted alone,
    so no character is syntax. A stray quote is dropped; nothing left to search for is a InputError."""
    terms = [phrase or word for phrase, word in _TERMS.findall(query.replace("\x00", " "))]
    terms = [t for t in terms if t.strip()]
    if not terms:
        raise InputError(f"nothing to search for in {query!r}")
    return " ".join('"' + t.replace('"', '""') + '"' for t in terms)


class SearchMixin(SideIndexMixin):
    db: Any
    search_plan = ""  # how the last search ran: "fts5" (every match ranked) or "side index" (its candidates)

    def _guard(self) -> Any: ...  # provided by Store

    def search(self, query: str, *, limit: int = 20, label: str | None = None, min_score: float = 0.0,
               source: str | None = None, since: str | None = None, until: str | None = None,
               supplier: str | None = None, raw: bool = False) -> list[dict[str, Any]]:
        """Full-text search over title and text, best match first, with a highlighted snippet of the text.

        The user's words are quoted (no FTS syntax) unless ``raw``, which passes FTS5 query syntax
        (phrases, NEAR, prefix*, AND/OR/NOT, ``title:``); a syntax error there is a InputError.
        Filters: ``label`` (flagged, score >= ``min_score``), ``source`` (exact name), ``since`` /
        ``until`` (YYYY-MM-DD, both days included, on the publication date), ``supplier`` (documents
        matched to the supplier of that name, any case, or affecting it through the register's relations; each
        result then has ``impact``: "affected: PATH", "possibly affected: PATH" or "mentioned: ...").
        """
        if not query.strip():
            raise InputError("empty search query")
        if len(query) > MAX_QUERY_CHARS:
            raise InputError(f"search query too long ({len(query)} characters, at most {MAX_QUERY_CHARS})")
        match = self._match(query, raw)
        where: list[str] = []
        params: dict[str, Any] = {}
        if source is not None:
            where.append("d.source = :source")
            params["source"] = source
        first = parse_day(since, "since") if since else None
        last = parse_day(until, "until") if until else None
        if first and last and first > last:
            raise InputError(f"since {since} is after until {until}")
        if first:
            where.append("d.published >= :since")
            params["since"] = first.isoformat()
        if last:
            where.append("d.published < :before")  # published is a timestamp: before the next day
            params["before"] = (last + timedelta(days=1)).isoformat()
        needs_documents = bool(where)  # source and dates are columns of documents; the rest are keyed by id
        if label:
            where.append("exists (select 1 from labels l where l.document_id = documents_fts.rowid and l.label = :label "
                         "and l.flagged = 1 and l.score >= :min_score)")
            params.update(label=label, min_score=min_score)
        if supplier is not None:
            ids = self._supplier_ids(supplier)
            # exists, not `rowid in (...)`: an id set would make SQLite drive FTS5 one rowid at a time.
            names = [f"supplier{i}" for i in range(len(ids))]
            listed = ", ".join(":" + n for n in names)
            # Named by the document, or affected through the register's relations (issue 15: fourth parties).
            where.append(f"(exists (select 1 from supplier_matches m where m.document_id = documents_fts.rowid "
                         f"and m.supplier_id in ({listed})) or exists (select 1 from supplier_impacts i "
                         f"where i.document_id = documents_fts.rowid and i.supplier_id in ({listed}) "
                         f"and i.status != 'mentioned'))")
            params.update(zip(names, ids, strict=True))
        join = "join documents d on d.id = documents_fts.rowid" if needs_documents else ""
        side = self._side_index() if limit <= SIDE_MAX_LIMIT else None
        if side is not None:
            found = self._search_candidates(side, query, match, raw, limit, join, where, params, first, last,
                                            filtered=bool(label) or supplier is not None)
            if found is not None:
                self.search_plan = "side index"
                return found
        self.search_plan = "fts5"
        return self._ranked(query, raw, join, where, {"match": match, "limit": limit, **params})

    def _ranked(self, query: str, raw: bool, join: str, where: list[str], params: dict[str, Any],
                candidates: list[int] | None = None) -> list[dict[str, Any]]:
        """The best ``limit`` matches by weighted bm25, with snippets; among ``candidates`` alone when given.

        The best ids first (filters joined in, so bm25 is computed only for the documents that pass them;
        SQLite keeps the top N in a small sorter), then a snippet for each of those alone (FTS5 seeks the
        match to one rowid). FTS5's own `ORDER BY rank` sorts every match in full: two to four times slower
        on common words. With candidates, SQLite drives FTS5 one rowid at a time: FTS5 still decides
        whether each matches and how it ranks, but looks at nothing else.
        """
        where = list(where)
        extra = _extra_columns(params)
        if candidates is not None:
            # `+rowid`: a filter on FTS5's walk through the matches, not a rowid lookup per candidate (each
            # lookup would start bm25 anew, and bm25 walks every match of each phrase for its idf).
            where.append("+documents_fts.rowid in (select value from json_each(:candidates))")
            params = {**params, "candidates": json.dumps(candidates)}
        sql = f"""
            with top as materialized (
                select documents_fts.rowid as id, bm25(documents_fts, {WEIGHTS}) as rank
                from documents_fts {join}
                where documents_fts match :match {''.join(f' and {w}' for w in where)}
                order by rank, documents_fts.rowid limit :limit)
            select d.id, d.source, d.title, d.url, d.published, d.text_source = 'feed' as feed_only,
                   (select snippet(documents_fts, 1, '[', ']', '…', 16) from documents_fts
                    where documents_fts match :match and documents_fts.rowid = top.id) as snippet,
                   top.rank{extra}
            from top join documents d on d.id = top.id
            order by top.rank, top.id
        """
        with self._guard():
            try:
                return self.db.execute_returning_dicts(sql, params)
            except sqlite3.OperationalError as exc:
                error = self._syntax_error(query, raw, exc)
                if error is exc:
                    raise
                raise error from None

    def _confirmed(self, query: str, raw: bool, where: list[str], params: dict[str, Any],
                   ids: list[int]) -> list[dict[str, Any]]:
        """Those of ``ids`` that FTS5 matches and pass the filters, with their snippets (a rowid lookup each)."""
        sql = f"""
            select d.id, d.source, d.title, d.url, d.published, d.text_source = 'feed' as feed_only,
                   snippet(documents_fts, 1, '[', ']', '…', 16) as snippet{_extra_columns(params)}
            from documents_fts join documents d on d.id = documents_fts.rowid
            where documents_fts match :match and documents_fts.rowid in (select value from json_each(:ids))
                  {''.join(f' and {w}' for w in where)}
        """
        with self._guard():
            try:
                return self.db.execute_returning_dicts(
                    sql, {**params, "match": self._match(query, raw), "ids": json.dumps(ids)})
            except sqlite3.OperationalError as exc:
                raise self._syntax_error(query, raw, exc) from None

    @staticmethod
    def _match(query: str, raw: bool) -> str:
        return query if raw else quote(query)

    @staticmethod
    def _syntax_error(query: str, raw: bool, exc: sqlite3.OperationalError) -> Exception:
        msg = str(exc)
        if not raw or any(word in msg for word in _NOT_SYNTAX):
            return exc
        shown = query if len(query) <= 60 else query[:59] + "…"
        return QuerySyntaxError(f"invalid search syntax in {shown!r} ({msg})")

    def optimize_search(self) -> None:
        """Merge the full-text index into one b-tree (FTS5 'optimize'): after a bulk load or now and then.

        Search reads every segment of the index for each term; a store filled by many small crawls holds
        dozens. Seconds per 100,000 documents; writers wait meanwhile. Measured in benchmarks/SEARCH.md.
        """
        with self._guard(), self._atomic():
            self.db.execute("insert into documents_fts(documents_fts) values ('optimize')")

    def _supplier_ids(self, name: str) -> list[int]:
        """Ids of the register's suppliers called ``name`` (any case, spaces collapsed), else of those with that
        alias (the register's own rule), or a InputError."""
        def key(text: str) -> str:
            return " ".join(text.split()).casefold()

        with self._guard():
            if not (self.db["suppliers"].exists() and self.db["supplier_matches"].exists()):
                raise InputError(NO_REGISTER)
            rows = self.db.execute("select id, name, aliases from suppliers").fetchall()
        wanted = key(name)
        ids = [sid for sid, sname, _ in rows if key(sname or "") == wanted]
        if not ids:
            ids = [sid for sid, _, aliases in rows if any(key(a) == wanted for a in _json_list(aliases))]
        if not ids:
            raise InputError(f"no supplier named {name!r} in the register")
        return ids


def _json_list(value: str | None) -> list[str]:
    try:
        items = json.loads(value or "[]")
    except ValueError:
        return []
    return [str(item) for item in items] if isinstance(items, list) else []


def _extra_columns(params: dict[str, Any]) -> str:
    """The columns every hit carries beyond the document's own, on both search paths (FTS5 ranking and the side
    index's): ``follow_up``, the "follow-up of: ..." reason of a flagged follow-up (issue 10); and with
    ``--supplier`` (parameters ``supplier0``...), ``impact``: how the document reaches the supplier
    ("affected: PATH", "possibly affected: PATH", "mentioned: ..."), the surest first (issue 15)."""
    columns = (", (select l.reason from labels l where l.document_id = d.id and l.flagged = 1 "
               f"and l.reason like '{vocabulary.FOLLOW_UP}%' limit 1) as follow_up")
    names = [k for k in params if re.fullmatch(r"supplier\d+", k)]
    if names:
        listed = ", ".join(":" + n for n in names)
        columns += (f", (select i.status || ': ' || i.path from supplier_impacts i where i.document_id = d.id "
                    f"and i.supplier_id in ({listed}) order by i.status = 'mentioned', i.status, i.hops limit 1) "
                    f"as impact")
    return columns
