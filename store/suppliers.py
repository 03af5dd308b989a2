"""The supplier register in the store: suppliers, which documents name them, and what still needs matching.

Mixed into :class:`store.core.Store`; SQL stays in the store package. Finding supplier names in
documents is :mod:`supplywatch.matching`'s job; this module records its findings.

Bookkeeping: ``supplier_register.version`` is bumped whenever the register changes in a way that
can add matches (a supplier imported or merged with new names), and ``supplier_match_state`` holds,
per document, the version and content hash it was last matched with. A document is due for
matching when it has no state, or either differs: new documents, edited documents and, after a
register change, every document. Removing a supplier deletes its matches and needs no re-match.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from .errors import InputError
from .models import Batches, utcnow

ROLES = ("subject", "mentioned")
FIELDS = ("title", "lead", "text", "link")
_LIST_KEYS = ("aliases", "domains", "products")
# C0/C1 controls and the bidi overrides/isolates (as crawlers.text strips them from titles): a register row
# must not carry terminal escapes or "Trojan Source" reordering into `suppliers`, digests and exports.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def _line(value: Any) -> str:
    """One line of register text: controls and bidi marks dropped (tab and newline become spaces), spaces collapsed."""
    return " ".join(_CONTROL.sub(lambda m: " " if m.group() in "\t\n\r" else "", str(value or "")).split())
_SINCE = re.compile(r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2})?Z?)?")


def name_key(name: str) -> str:
    """The register's identity of a name: case-insensitive, whitespace collapsed."""
    return " ".join(name.split()).casefold()


def _union(old: list[str], new: Iterable[str]) -> list[str]:
    """``old`` then the items of ``new`` not already in it (compared case-insensitively), order kept."""
    out = list(old)
    seen = {name_key(x) for x in out}
    for item in new:
        key = name_key(_line(item))
        if key and key not in seen:
            seen.add(key)
            out.append(_line(item))
    return out


class SuppliersMixin:
    db: Any

    def _guard(self) -> Any: ...  # provided by Store

    # -- the register ----------------------------------------------------------------------------

    def register_version(self) -> int:
        with self._guard():
            return self.db.execute("select version from supplier_register where id = 1").fetchone()[0]

    def import_suppliers(self, rows: Iterable[dict[str, Any]]) -> dict[str, int]:
        """Add suppliers to the register, merging those whose name is already there (case-insensitively).

        Each row: ``name`` and optional ``aliases``, ``domains``, ``products`` (lists of strings),
        ``tier``, ``owner``. A merge takes the union of the lists and the row's tier and owner when
        given (the later wins). All in one transaction; the register version is bumped when anything
        changed, so every document is matched again. Returns counts: ``imported`` (new suppliers),
        ``merged`` (rows folded into an existing supplier, or one earlier in ``rows``), ``changed``.
        """
        now = utcnow()
        counts = {"imported": 0, "merged": 0, "changed": 0}
        with self._guard(), self._atomic():
            for row in rows:
                row = {**row, "tier": _line(row.get("tier")), "owner": _line(row.get("owner"))}
                name = _line(row.get("name"))
                if not name:
                    raise InputError("a supplier needs a name")
                key = name_key(name)
                found = self.db.execute_returning_dicts("select * from suppliers where name_key = ?", [key])
                if not found:
                    record = {"name": name, "name_key": key, "tier": row.get("tier") or "", "owner": row.get("owner") or "",
                              "created_at": now, "updated_at": now}
                    for list_key in _LIST_KEYS:
                        record[list_key] = json.dumps(_union([], row.get(list_key) or []))
                    self.db["suppliers"].insert(record)
                    counts["imported"] += 1
                    counts["changed"] += 1
                    continue
                old = found[0]
                counts["merged"] += 1
                update: dict[str, Any] = {}
                for list_key in _LIST_KEYS:
                    merged = _union(json.loads(old[list_key] or "[]"), row.get(list_key) or [])
                    if json.dumps(merged) != old[list_key]:
                        update[list_key] = json.dumps(merged)
                for key_ in ("tier", "owner"):
                    if row.get(key_) and row[key_] != old[key_]:
                        update[key_] = row[key_]
                if update:
                    self.db["suppliers"].update(old["id"], {**update, "updated_at": now})
                    counts["changed"] += 1
            if counts["changed"]:
                self.db.execute("update supplier_register set version = version + 1 where id = 1")
        return counts

    def suppliers(self) -> list[dict[str, Any]]:
        """The register by name, each with its lists decoded and ``documents`` (how many documents name it)."""
        with self._guard():
            rows = self.db.execute_returning_dicts(
                """
                select s.id, s.name, s.aliases, s.domains, s.products, s.tier, s.owner, s.created_at, s.updated_at,
                       (select count(*) from supplier_matches m where m.supplier_id = s.id) as documents
                from suppliers s order by s.name_key
                """)
        for row in rows:
            for key in _LIST_KEYS:
                row[key] = json.loads(row[key] or "[]")
        return rows

    def supplier(self, name: str) -> dict[str, Any] | None:
        """The supplier called ``name`` (case-insensitively), else the one with that alias, else None."""
        key = name_key(name)
        rows = self.suppliers()
        for row in rows:
            if name_key(row["name"]) == key:
                return row
        for row in rows:
            if any(name_key(a) == key for a in row["aliases"]):
                return row
        return None

    def remove_supplier(self, name: str) -> dict[str, Any] | None:
        """Remove the supplier called ``name`` (case-insensitively) and its matches; returns it, or None if unknown."""
        key = name_key(name)
        with self._guard(), self._atomic():
            rows = self.db.execute_returning_dicts("select id, name from suppliers where name_key = ?", [key])
            if not rows:
                return None
            sid = rows[0]["id"]
            rows[0]["matches"] = self.db.execute("select count(*) from supplier_matches where supplier_id = ?",
                                                 [sid]).fetchone()[0]
            self.db.execute("delete from supplier_matches where supplier_id = ?", [sid])
            self.db.execute("delete from supplier_impacts where supplier_id = ?", [sid])
            self.db.execute("delete from suppliers where id = ?", [sid])
            if self.db.execute("select 1 from supplier_relations where supplier_key = ? or target_key = ? limit 1",
                               [key, key]).fetchone():
                # Paths through the removed supplier change: match every document again.
                self.db.execute("update supplier_register set version = version + 1 where id = 1")
        return rows[0]

    # -- matching ---------------------------------------------------------------------------------

    def documents_to_match(self, version: int, *, batch: int = 500) -> Batches:
        """Batches of documents not yet matched against register ``version``, or edited since they were
        (chosen now; ``.total`` says how many)."""
        with self._guard():
            ids = [r[0] for r in self.db.execute(
                """
                select d.id from documents d left join supplier_match_state s on s.document_id = d.id
                where s.document_id is null or s.register_version != ? or s.content_hash is not d.content_hash
                order by d.id
                """, [version])]

        def fetch(chunk: list[int]) -> list[dict[str, Any]]:
            with self._guard():
                return self.db.execute_returning_dicts(
                    f"select id, title, summary, text, url, canonical_url, content_hash from documents "
                    f"where id in ({','.join('?' * len(chunk))}) order by id", chunk)

        return Batches(ids, batch, fetch)

    def save_supplier_matches(self, results: Iterable[tuple[int, str, list[dict[str, Any]]]], version: int,
                              impacts: dict[int, list[dict[str, Any]]] | None = None) -> int:
        """Replace the matches and impacts of each document, all in one transaction; returns documents saved.

        ``results``: (document id, its content hash when matched, matches); each match a dict of
        supplier_id, role, field, term. ``impacts``: document id -> the parties it affects (see
        ``store.relations``); a document without an entry affects nobody. Matches of suppliers removed
        meanwhile are dropped; a register changed meanwhile leaves these documents due again (their
        version is ``version``).
        """
        from .relations import IMPACT_INSERT, impact_rows

        now = utcnow()
        docs: list[tuple[int]] = []
        rows: list[tuple[Any, ...]] = []
        states: list[tuple[Any, ...]] = []
        impact_values: list[tuple[Any, ...]] = []
        for doc_id, content_hash, matches in results:
            docs.append((doc_id,))
            impact_values += impact_rows(doc_id, (impacts or {}).get(doc_id, []))
            states.append((doc_id, version, content_hash, now))
            for m in matches:
                if m["role"] not in ROLES or m["field"] not in FIELDS:
                    raise InputError(f"bad supplier match {m!r}")
                rows.append((doc_id, m["supplier_id"], m["role"], m["field"], m["term"]))
        # Plain executemany: sqlite-utils' insert_all/upsert inspect the table on every call, 10x slower here.
        with self._guard(), self._atomic():
            known = {r[0] for r in self.db.execute("select id from suppliers")}
            conn = self.db.conn
            conn.executemany("delete from supplier_matches where document_id = ?", docs)
            conn.executemany("insert or replace into supplier_matches (document_id, supplier_id, role, field, term) "
                             "values (?, ?, ?, ?, ?)", [r for r in rows if r[1] in known])
            conn.executemany("delete from supplier_impacts where document_id = ?", docs)
            conn.executemany(IMPACT_INSERT, [r for r in impact_values if r[3] is None or r[3] in known])
            conn.executemany("insert or replace into supplier_match_state (document_id, register_version, content_hash, "
                             "matched_at) values (?, ?, ?, ?)", states)
        return len(docs)

    # -- reading ----------------------------------------------------------------------------------

    def supplier_timeline(self, supplier_id: int, *, since: str | None = None) -> list[dict[str, Any]]:
        """The documents naming supplier ``supplier_id``, oldest first (published on or after ``since``, if given).

        Each: id, title, source, url, published, kind, role, field, term, story_id, story_title, ``impact``
        and ``path`` (how the document affects the supplier: directly or through relations; None when it
        does not), and ``labels``: its flagged labels (label, score, evidence), highest score first.
        """
        if since is not None and not _SINCE.fullmatch(since):
            raise InputError(f"bad date {since!r}: expected YYYY-MM-DD")
        with self._guard():
            # A document names the supplier (a match), affects it through relations (an impact), or both; a
            # document only reaching it through relations has role "related" and its path as term.
            docs = self.db.execute_returning_dicts(
                """
                select d.id, d.title, d.source, d.url, coalesce(d.published, d.fetched_at) as published, d.kind,
                       coalesce(m.role, 'related') as role, coalesce(m.field, 'relation') as field,
                       coalesce(m.term, i.party) as term, i.status as impact, i.path as path,
                       sd.story_id, s.title as story_title
                from documents d
                left join supplier_matches m on m.document_id = d.id and m.supplier_id = :sid
                left join supplier_impacts i on i.rowid = (
                    select j.rowid from supplier_impacts j where j.document_id = d.id and j.supplier_id = :sid
                    order by case j.status when 'affected' then 0 when 'possibly affected' then 1 else 2 end, j.hops
                    limit 1)
                left join story_documents sd on sd.document_id = d.id
                left join stories s on s.id = sd.story_id
                where d.id in (select document_id from supplier_matches where supplier_id = :sid
                               union select document_id from supplier_impacts where supplier_id = :sid
                               and status != 'mentioned')
                  and (:since is null or coalesce(d.published, d.fetched_at) >= :since)
                order by coalesce(d.published, d.fetched_at), d.id
                """, {"sid": supplier_id, "since": since})
            labels = self._flagged_labels([d["id"] for d in docs])
        for doc in docs:
            doc["labels"] = labels.get(doc["id"], [])
        return docs

    def supplier_matches_for(self, document_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        """document id -> the suppliers it names (supplier, supplier_id, role, field, term), subjects first."""
        out: dict[int, list[dict[str, Any]]] = {}
        with self._guard():
            for start in range(0, len(document_ids), 900):  # SQLite's bound-parameter limit
                chunk = document_ids[start:start + 900]
                for row in self.db.execute_returning_dicts(
                        f"""
                        select m.document_id, s.name as supplier, m.supplier_id, m.role, m.field, m.term
                        from supplier_matches m join suppliers s on s.id = m.supplier_id
                        where m.document_id in ({','.join('?' * len(chunk))})
                        order by m.document_id, m.role != 'subject', s.name_key
                        """, chunk):
                    out.setdefault(row.pop("document_id"), []).append(row)
        return out

    def _flagged_labels(self, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        out: dict[int, list[dict[str, Any]]] = {}
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            for row in self.db.execute_returning_dicts(
                    f"""
                    select document_id, label, score, evidence, reason from labels
                    where flagged = 1 and document_id in ({','.join('?' * len(chunk))})
                    order by document_id, score desc, label
                    """, chunk):
                out.setdefault(row.pop("document_id"), []).append(row)
        return out
