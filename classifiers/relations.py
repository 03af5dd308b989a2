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

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supplywatch.store import InputError, is_day
from supplywatch.store.relations import RELATIONS

COLUMNS = ["supplier", "relation", "target", "product", "versions", "source", "as_of"]
REQUIRED = {"supplier", "relation", "target"}
MAX_BYTES = 50 * 1024 * 1024


@dataclass
class Parsed:
    rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "line N: why"


def read_lines(path: Path, what: str) -> tuple[list[str], set[int]]:
    """The file's lines decoded one by one (so a bad byte costs its row, not the file), and the bad ones' numbers."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise InputError(f"{path}: larger than {MAX_BYTES // (1024 * 1024)} MiB: not {what}")
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    lines: list[str] = []
    bad: set[int] = set()
    for number, line in enumerate(raw.splitlines(keepends=True), start=1):
        try:
            lines.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            bad.add(number)
            lines.append("\n")
    return lines, bad


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
    lines, bad_lines = read_lines(path, "a relations file")
    if not lines or 1 in bad_lines:
        raise InputError(f"{path}: no header line: expected {','.join(COLUMNS)}")
    reader = csv.reader(io.StringIO("".join(lines), newline=""), strict=False)
    try:
        header = [h.strip().casefold() for h in next(reader)]
    except (StopIteration, csv.Error):
        header = []
    if not REQUIRED <= set(header) or not set(header) <= set(COLUMNS) or len(set(header)) != len(header):
        raise InputError(f"{path}: bad header {','.join(header)!r}: expected {','.join(COLUMNS)}")
    out = Parsed()
    try:
        while True:
            start = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                break
            if start in bad_lines:
                out.problems.append(f"line {start}: not valid UTF-8")
                continue
            if not values or (len(values) == 1 and not values[0].strip()):
                continue  # a blank line
            if len(values) != len(header):
                out.problems.append(f"line {start}: {len(values)} columns, expected {len(header)}")
                continue
            row = {k: " ".join(v.split()) for k, v in zip(header, values, strict=True)}
            why = check_row(row)
            if why:
                out.problems.append(f"line {start}: {why}")
                continue
            row["relation"] = row["relation"].casefold().replace("-", "_").replace(" ", "_")
            out.rows.append({**{k: row.get(k, "") for k in COLUMNS}, "line": start})
    except csv.Error as exc:
        out.problems.append(f"line {reader.line_num}: {exc}; the rest of the file was not read")
    if not out.rows:
        why = f" ({len(out.problems)} bad rows, first: {out.problems[0]})" if out.problems else ""
        raise InputError(f"{path}: no valid relation rows{why}")
    return out
