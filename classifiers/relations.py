"""Reading supplier relations from CSV: header ``supplier,relation,target,product,versions,source,as_of``.

One row per relation, in the register's words (``store.relations.RELATIONS``):

- ``uses``: the supplier uses the target's product or service;
- ``integrates_with``: the supplier holds credentials into the target (Mimecast into Microsoft 365);
- ``subprocessor``: the supplier hands data to the target;
- ``component_of``: the target's software is inside the supplier's product;
- ``we_use``: we use the target's product ourselves (``supplier`` empty), ``versions`` the ones we run.

``versions`` holds the versions in use, separated by ";" (a range as "2019.4 - 2020.2"); ``source``
says where the relation is known from (a relation without one is unconfirmed: it can make a party
"possibly affected", never "affected"); ``as_of`` is a day, YYYY-MM-DD. A bad row (unknown relation,
no target, no supplier, a bad day, the wrong number of columns, bytes that are not UTF-8) is reported
with its line number and skipped; the good rows are kept. A file without the header, or without one
good row, is an InputError (exit 2).
"""

from __future__ import annotations

from pathlib import Path

from supplywatch.store import InputError, is_day
from supplywatch.store.relations import RELATIONS

from .csvrows import Parsed, rows

__all__ = ["COLUMNS", "Parsed", "check_row", "parse_csv"]

COLUMNS = ["supplier", "relation", "target", "product", "versions", "source", "as_of"]
REQUIRED = {"supplier", "relation", "target"}


def check_row(row: dict[str, str]) -> str | None:
    """Why a relation row cannot be used, or None."""
    relation = row.get("relation", "").strip().casefold().replace("-", "_").replace(" ", "_")
    if relation not in RELATIONS:
        return f"unknown relation {row.get('relation', '')!r} (one of {', '.join(RELATIONS)})"
    if not row.get("target", "").strip():
        return "no target"
    if relation != "we_use" and not row.get("supplier", "").strip():
        return f"no supplier (a {relation} relation is the supplier's; we_use is ours)"
    if row.get("as_of", "").strip() and not is_day(row["as_of"].strip()):
        return f"as_of {row['as_of'].strip()!r} is not a day (YYYY-MM-DD)"
    return None


def parse_csv(path: str | Path) -> Parsed:
    """The relation rows of the CSV file at ``path``, and one problem line per skipped row."""
    path = Path(path)
    out = Parsed()
    for start, values in rows(path, "a relations file", COLUMNS, REQUIRED, out):
        row = {k: " ".join(v.split()) for k, v in values.items()}
        why = check_row(row)
        if why:
            out.problems.append(f"line {start}: {why}")
            continue
        row["relation"] = row["relation"].casefold().replace("-", "_").replace(" ", "_")
        out.rows.append({**{k: row.get(k, "") for k in COLUMNS}, "line": start})
    if not out.rows:
        why = f" ({len(out.problems)} bad rows, first: {out.problems[0]})" if out.problems else ""
        raise InputError(f"{path}: no valid relation rows{why}")
    return out
