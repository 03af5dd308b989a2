"""What the exports (Atom feed, STIX bundle) and the browser archive read from the store.

Mixed into :class:`store.core.Store`; SQL stays in the store package. The canned queries the
browser archive (Datasette) offers are SQL too, so they live here as constants: Datasette runs
them on a read-only connection, and ``reports``/``supplywatch`` only name them.

The supplier register (tables ``suppliers`` and ``supplier_matches``) may not exist yet in a given
file; everything here checks :meth:`ExportsMixin.has_supplier_register` before touching it.
"""

from __future__ import annotations

import json
from typing import Any

from . import vocabulary
from .errors import InputError
from .search import WEIGHTS

SUPPLIER_TABLES = ("suppliers", "supplier_matches")
IMPACT_TABLES = ("supplier_relations", "supplier_impacts")

# -- canned queries of the browser archive (parameters are Datasette's :name) --------------------

# What a label rests on (issue 16): a feed entry's title and summary only, the page, or a CSAF advisory. Shown
# beside every label in the archive so a reader knows when a score rests on a line of text.
TEXT_SEEN = ("case d.text_source when 'feed' then 'feed summary only' when 'csaf' then 'CSAF advisory' "
             "else 'full page' end")

CERT_COMPROMISES_30_DAYS = """
select d.id, d.published, d.title, d.source, d.vendor, d.url, l.score, l.evidence, {text_seen} as text_seen
from labels l join documents d on d.id = l.document_id
where l.label = '{headline}' and l.flagged = 1
  and coalesce(d.published, d.fetched_at) >= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-30 days')
order by coalesce(d.published, d.fetched_at) desc, d.id desc
""".strip().format(headline=vocabulary.headline(), text_seen=TEXT_SEEN)  # a registry name: [a-z0-9_], never user text

# The documents for people (issue 11): title first, then source, day, the flagged labels with their scores, a
# snippet (the match in [brackets] when searching, else the text's start) and the story; best match first when
# searching (bm25, a title hit weighing five text hits, as `supplywatch search`), newest first otherwise.
# escape_fts is Datasette's: the words are searched as words, never parsed as FTS syntax. The constant
# `:search != ''` terms keep SQLite from running an empty MATCH at all.
BROWSE_DOCUMENTS = """
with picked as (
  select rowid as id, bm25(documents_fts, {weights}) as relevance,
         snippet(documents_fts, 1, '[', ']', ' … ', 24) as snippet
  from documents_fts where trim(:search) != '' and documents_fts match escape_fts(:search)
  union all
  select id, null, null from documents where trim(:search) = ''
)
select d.title, d.source, substr(coalesce(d.published, d.fetched_at), 1, 10) as day,
       (select group_concat(label || ' ' || printf('%.2f', score), ', ')
        from (select label, score from labels where document_id = d.id and flagged = 1 order by score desc)) as labels,
       {text_seen} as text_seen,
       coalesce(p.snippet, substr(d.text, 1, 240) || case when length(d.text) > 240 then ' …' else '' end) as snippet,
       s.title as story, d.url, d.id
from picked p
join documents d on d.id = p.id
left join story_documents sd on sd.document_id = d.id
left join stories s on s.id = sd.story_id
order by p.relevance, coalesce(d.published, d.fetched_at) desc, d.id desc
limit 200
""".strip().format(weights=WEIGHTS, text_seen=TEXT_SEEN)

# Views are schema and schema changes are migrations, so "documents by month" is a canned query.
DOCUMENTS_BY_MONTH = """
select substr(coalesce(d.published, d.fetched_at), 1, 7) as month, count(*) as documents,
       count(distinct d.source) as sources,
       (select count(distinct l.document_id) from labels l join documents e on e.id = l.document_id
        where l.flagged = 1 and substr(coalesce(e.published, e.fetched_at), 1, 7)
              = substr(coalesce(d.published, d.fetched_at), 1, 7)) as flagged_documents
from documents d group by month order by month desc
""".strip()

# Facet by label: Datasette facets one table's columns, and labels live in their own table.
DOCUMENTS_BY_LABEL = """
select d.id, d.published, d.title, d.source, l.label, l.score, l.evidence, d.url
from labels l join documents d on d.id = l.document_id
where l.flagged = 1 and (:label = '' or l.label = :label)
order by coalesce(d.published, d.fetched_at) desc, d.id desc
limit 500
""".strip()

STORIES_FOR_SUPPLIER = """
select s.id as story_id, s.title, s.first_published, s.last_published, s.documents,
       p.name as supplier, group_concat(distinct m.role) as roles,
       (select group_concat(distinct l.label) from story_documents x join labels l on l.document_id = x.document_id
        where x.story_id = s.id and l.flagged = 1) as flagged_labels
from suppliers p
join supplier_matches m on m.supplier_id = p.id
join story_documents sd on sd.document_id = m.document_id
join stories s on s.id = sd.story_id
where lower(p.name) = lower(:supplier)
   or exists (select 1 from json_each(case when json_valid(p.aliases) then p.aliases else '[]' end) a
              where lower(a.value) = lower(:supplier))
group by s.id
order by s.last_published desc, s.id desc
""".strip()


# Who the archive's documents affect through the register's relations (issue 15), newest first; the status is a
# facet of the supplier_impacts table too.
AFFECTED_SUPPLIERS = """
select i.status, i.party, i.path, i.hops, d.id, d.published, d.title, d.source, d.url
from supplier_impacts i join documents d on d.id = i.document_id
where (:status = '' or i.status = :status)
order by coalesce(d.published, d.fetched_at) desc, d.id desc, i.status, i.hops
limit 500
""".strip()


class ExportsMixin:
    db: Any

    def _guard(self) -> Any: ...  # provided by Store

    def table_names(self) -> set[str]:
        with self._guard():
            return {r[0] for r in self.db.execute("select name from sqlite_master where type in ('table', 'view')")}

    def has_supplier_register(self) -> bool:
        """Whether this file has the supplier tables (a later migration adds them)."""
        return set(SUPPLIER_TABLES) <= self.table_names()

    def supplier_id(self, name: str) -> int:
        """The id of the supplier called ``name`` (or with ``name`` among its aliases), case-insensitively.

        Raises InputError when the file has no supplier register or no such supplier.
        """
        if not self.has_supplier_register() or not self.suppliers():  # type: ignore[attr-defined]
            raise InputError("no supplier register yet")
        found = self.supplier(name)  # type: ignore[attr-defined]  # SuppliersMixin
        if found is None:
            raise InputError(f"no supplier named {name!r}")
        return found["id"]

    def flagged_stories(self, *, label: str | None = None, since: str | None = None, supplier_id: int | None = None,
                        limit: int = 1000) -> list[dict[str, Any]]:
        """Stories with at least one flagged member document (with ``label`` when given), newest first.

        ``since``: only stories whose latest member was published at or after this ISO time.
        ``supplier_id``: only stories with a member matched to that supplier (needs the register).
        Each story: the ``stories`` row plus ``members`` (id, title, url, canonical_url, source,
        vendor, published, cves), ``labels`` (the best flagged score per label across members:
        label, score, evidence, document_id; highest first), ``suppliers`` (id, name, role; empty
        without a register) and ``impacts`` (party, party_key, supplier_id, status, hops, path, edges: who
        the story affects through the register's relations, surest first).
        """
        register = self.has_supplier_register()
        if supplier_id is not None and not register:
            raise InputError("no supplier register yet")
        where = ["l.flagged = 1"]
        params: list[Any] = []
        if label is not None:
            where.append("l.label = ?")
            params.append(label)
        if since is not None:
            where.append("s.last_published >= ?")
            params.append(since)
        if supplier_id is not None:
            where.append("(exists (select 1 from story_documents x join supplier_matches sm on sm.document_id = x.document_id "
                         "where x.story_id = s.id and sm.supplier_id = ?) or exists (select 1 from story_documents y "
                         "join supplier_impacts si on si.document_id = y.document_id where y.story_id = s.id "
                         "and si.supplier_id = ? and si.status != 'mentioned'))")
            params += [supplier_id, supplier_id]
        with self._guard():
            stories = self.db.execute_returning_dicts(
                f"""
                select s.* from stories s
                where exists (select 1 from story_documents m join labels l on l.document_id = m.document_id
                              where m.story_id = s.id and {' and '.join(where)})
                order by s.last_published desc, s.id desc limit ?
                """, [*params, limit])
            for story in stories:
                story["members"] = self.db.execute_returning_dicts(
                    """
                    select d.id, d.title, d.url, d.canonical_url, d.source, d.vendor, d.published, d.cves
                    from story_documents m join documents d on d.id = m.document_id
                    where m.story_id = ? order by coalesce(d.published, d.fetched_at), d.id
                    """, [story["id"]])
                rows = self.db.execute_returning_dicts(
                    """
                    select l.label, l.score, l.evidence, l.document_id
                    from story_documents m join labels l on l.document_id = m.document_id
                    where m.story_id = ? and l.flagged = 1
                    order by l.score desc, l.document_id
                    """, [story["id"]])
                best: dict[str, dict[str, Any]] = {}
                for row in rows:
                    best.setdefault(row["label"], row)
                story["labels"] = list(best.values())
                story["suppliers"] = self.db.execute_returning_dicts(
                    """
                    select p.id, p.name, group_concat(distinct sm.role) as role
                    from story_documents m join supplier_matches sm on sm.document_id = m.document_id
                    join suppliers p on p.id = sm.supplier_id
                    where m.story_id = ? group by p.id order by p.name
                    """, [story["id"]]) if register else []
                # Who the story affects through the register's relations (issue 15), one row per party: the
                # surest status, then the shortest path.
                impacts = self.db.execute_returning_dicts(
                    """
                    select i.party, i.party_key, i.supplier_id, i.status, i.hops, i.path, i.edges
                    from story_documents m join supplier_impacts i on i.document_id = m.document_id
                    where m.story_id = ?
                    order by i.status = 'mentioned', i.status, i.hops, i.party_key
                    """, [story["id"]]) if register else []
                seen: dict[str, dict[str, Any]] = {}
                for row in impacts:
                    row["edges"] = json.loads(row["edges"] or "[]")
                    seen.setdefault(row["party_key"], row)
                story["impacts"] = list(seen.values())
        return stories
