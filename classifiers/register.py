"""Reading a supplier register from CSV: header ``name,aliases,domains,products,tier,owner``.

``aliases``, ``domains`` and ``products`` hold several values separated by ``;``. A bad row (no
name, the wrong number of columns, bytes that are not UTF-8, an unusable domain) is reported with
its line number and skipped; the good rows are kept. A file without the header, or without one
good row, is a InputError (exit 2).
"""

from __future__ import annotations

from pathlib import Path

from supplywatch.store import InputError

from .csvrows import Parsed, rows
from .suppliers import normalize_domain

COLUMNS = ["name", "aliases", "domains", "products", "tier", "owner"]
REQUIRED = {"name"}


def _split(value: str) -> list[str]:
    return [" ".join(v.split()) for v in (value or "").split(";") if v.strip()]


def parse_csv(path: str | Path) -> Parsed:
    """The register rows of the CSV file at ``path``, and one problem line per skipped row."""
    path = Path(path)
    out = Parsed()
    for start, row in rows(path, "a supplier register", COLUMNS, REQUIRED, out):
        name = " ".join((row.get("name") or "").split())
        if not name:
            out.problems.append(f"line {start}: no name")
            continue
        domains = []
        bad = []
        for d in _split(row.get("domains", "")):
            host = normalize_domain(d)
            (domains if host else bad).append(host or d)
        if bad:
            out.problems.append(f"line {start}: not a domain name: {', '.join(bad)}")
            continue
        out.rows.append({"name": name, "aliases": _split(row.get("aliases", "")), "domains": domains,
                         "products": _split(row.get("products", "")), "tier": (row.get("tier") or "").strip(),
                         "owner": (row.get("owner") or "").strip(), "line": start})
    if not out.rows:
        why = f" ({len(out.problems)} bad rows, first: {out.problems[0]})" if out.problems else ""
        raise InputError(f"{path}: no valid supplier rows{why}")
    return out
