"""Fourth parties in the store: typed relations between parties of the register, and who each document affects.

Mixed into :class:`store.core.Store`; SQL stays in the store package. Reading relation files (CSV,
CycloneDX, CSAF) and deciding who a document affects is ``classifiers``' work (``relations``,
``propagation``); this module records relations and the impacts the matching stage computes.

A relation change bumps ``supplier_register.version`` like a register change: every document is
matched again, so its impacts follow the new graph. Impacts are written with the document's supplier
matches (:meth:`SuppliersMixin.save_supplier_matches`), in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .errors import InputError
from .models import utcnow
from .suppliers import _line, name_key

RELATIONS = ("uses", "integrates_with", "subprocessor", "component_of", "we_use")
STATUSES = ("affected", "possibly affected", "mentioned")
_EDITABLE = ("versions", "source", "as_of")


class RelationsMixin:
    db: Any

    def _guard(self) -> Any: ...  # provided by Store

    def import_relations(self, rows: Iterable[dict[str, Any]]) -> dict[str, int]:
        """Add relations (supplier, relation, target, product, versions, source, as_of), all in one transaction.

        A relation already there (same supplier, relation, target and product, any case) takes the row's
        versions, source and as_of when they differ. Returns counts ``imported``, ``updated``, ``unchanged``;
        the register version is bumped when anything changed, so every document is matched again.
        """
        now = utcnow()
        counts = {"imported": 0, "updated": 0, "unchanged": 0}
        columns = ("supplier", "supplier_key", "relation", "target", "target_key", "product", *_EDITABLE)
        with self._guard(), self._atomic():  # type: ignore[attr-defined]
            # One read of what is there and one executemany each for inserts and updates: sqlite-utils' insert
            # inspects the table on every call (50,000 relations: 24 s so, 3.3 s now, on a loaded machine).
            existing = {(r["supplier_key"], r["relation"], r["target_key"], r["product"].casefold()): r
                        for r in self.db.execute_returning_dicts("select * from supplier_relations")}
            new: dict[tuple[str, ...], dict[str, Any]] = {}
            updates: dict[int, dict[str, Any]] = {}
            for row in rows:
                rec = {k: _line(row.get(k)) for k in ("supplier", "relation", "target", "product", *_EDITABLE)}
                if rec["relation"] not in RELATIONS:
                    raise InputError(f"unknown relation {rec['relation']!r}: one of {', '.join(RELATIONS)}")
                if not rec["target"] or (not rec["supplier"] and rec["relation"] != "we_use"):
                    raise InputError(f"a {rec['relation']} relation needs a supplier and a target")
                if rec["relation"] == "we_use":
                    rec["supplier"] = ""
                rec["supplier_key"], rec["target_key"] = name_key(rec["supplier"]) or "you", name_key(rec["target"])
                ident = (rec["supplier_key"], rec["relation"], rec["target_key"], rec["product"].casefold())
                old = existing.get(ident)
                if old is None:
                    if ident in new:  # twice in one import: the later row's values win
                        new[ident].update({k: rec[k] for k in _EDITABLE if rec[k]})
                    else:
                        new[ident] = rec
                    continue
                change = {k: rec[k] for k in _EDITABLE if rec[k] and rec[k] != old[k]}
                if change:
                    old.update(change)
                    updates[old["id"]] = {k: old[k] for k in _EDITABLE}
                elif old["id"] not in updates:
                    counts["unchanged"] += 1
            self.db.conn.executemany(
                f"insert into supplier_relations ({', '.join(columns)}, created_at, updated_at) "
                f"values ({', '.join('?' * (len(columns) + 2))})",
                [(*(rec[c] for c in columns), now, now) for rec in new.values()])
            self.db.conn.executemany(
                "update supplier_relations set versions = ?, source = ?, as_of = ?, updated_at = ? where id = ?",
                [(u["versions"], u["source"], u["as_of"], now, rid) for rid, u in updates.items()])
            counts["imported"], counts["updated"] = len(new), len(updates)
            if new or updates:
                self.db.execute("update supplier_register set version = version + 1 where id = 1")
        return counts

    def relations(self, *, party: str | None = None) -> list[dict[str, Any]]:
        """Every relation (or those where ``party`` is the supplier or the target), by supplier, relation, target."""
        where, params = "", []
        if party is not None:
            where, params = "where supplier_key = ? or target_key = ?", [name_key(party)] * 2
        with self._guard():
            return self.db.execute_returning_dicts(
                f"select id, supplier, relation, target, product, versions, source, as_of, created_at, updated_at "
                f"from supplier_relations {where} order by supplier_key, relation, target_key, product, id", params)

    def remove_relation(self, relation_id: int) -> dict[str, Any] | None:
        """Remove relation ``relation_id``; returns it, or None when there is none. Every document is matched again."""
        with self._guard(), self._atomic():  # type: ignore[attr-defined]
            rows = self.db.execute_returning_dicts(
                "select id, supplier, relation, target, product from supplier_relations where id = ?", [relation_id])
            if not rows:
                return None
            self.db.execute("delete from supplier_relations where id = ?", [relation_id])
            self.db.execute("update supplier_register set version = version + 1 where id = 1")
        return rows[0]

    def supplier_impacts_for(self, document_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        """document id -> the parties it affects (party, supplier_id, status, hops, path, edges), surest and
        nearest first."""
        out: dict[int, list[dict[str, Any]]] = {}
        order = " ".join(f"when '{s}' then {i}" for i, s in enumerate(STATUSES))
        with self._guard():
            for start in range(0, len(document_ids), 900):  # SQLite's bound-parameter limit
                chunk = document_ids[start:start + 900]
                for row in self.db.execute_returning_dicts(
                        f"""
                        select document_id, party, party_key, supplier_id, status, hops, path, edges
                        from supplier_impacts where document_id in ({','.join('?' * len(chunk))})
                        order by document_id, case status {order} end, hops, party_key
                        """, chunk):
                    row["edges"] = json.loads(row["edges"] or "[]")
                    out.setdefault(row.pop("document_id"), []).append(row)
        return out


def impact_rows(doc_id: int, impacts: Iterable[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The supplier_impacts rows of one document's impacts, checked (a bad status is a programming error)."""
    rows = []
    for imp in impacts:
        if imp["status"] not in STATUSES:
            raise InputError(f"bad impact status {imp['status']!r}")
        rows.append((doc_id, imp["party_key"], imp["party"], imp.get("supplier_id"), imp["status"], int(imp["hops"]),
                     imp.get("path") or "", json.dumps(imp.get("edges") or [], ensure_ascii=False)))
    return rows


IMPACT_INSERT = ("insert or replace into supplier_impacts (document_id, party_key, party, supplier_id, status, hops, "
                 "path, edges) values (?, ?, ?, ?, ?, ?, ?, ?)")
