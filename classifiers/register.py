"""Reading a supplier register from CSV: header ``name,aliases,domains,products,tier,owner``.

``aliases``, ``domains`` and ``products`` hold several values separated by ``;``. A bad row (no
name, the wrong number of columns, bytes that are not UTF-8, an unusable domain) is reported with
its line number and skipped; the good rows are kept. A file without the header, or without one
good row, is a InputError (exit 2).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supplywatch.store import InputError

from .suppliers import normalize_domain

COLUMNS = ["name", "aliases", "domains", "products", "tier", "owner"]
REQUIRED = {"name"}
MAX_BYTES = 50 * 1024 * 1024


@dataclass
class Parsed:
    rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "line N: why"


def _split(value: str) -> list[str]:
    return [" ".join(v.split()) for v in (value or "").split(";") if v.strip()]


def parse_csv(path: str | Path) -> Parsed:
    """The register rows of the CSV file at ``path``, and one problem line per skipped row."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise InputError(f"{path}: larger than {MAX_BYTES // (1024 * 1024)} MiB: not a supplier register")
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    # Lines are decoded one by one so a bad byte costs its row, not the file.
    lines = raw.splitlines(keepends=True)
    out = Parsed()
    text_lines: list[str] = []
    bad_lines: set[int] = set()
    for number, line in enumerate(lines, start=1):
        try:
            text_lines.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            bad_lines.add(number)
            text_lines.append("\n")
    if not text_lines or 1 in bad_lines:
        raise InputError(f"{path}: no header line: expected {','.join(COLUMNS)}")
    reader = csv.reader(io.StringIO("".join(text_lines), newline=""), strict=False)
    try:
        header = [h.strip().casefold() for h in next(reader)]
    except (StopIteration, csv.Error):
        header = []
    if not REQUIRED <= set(header) or not set(header) <= set(COLUMNS) or len(set(header)) != len(header):
        raise InputError(f"{path}: bad header {','.join(header)!r}: expected {','.join(COLUMNS)}")
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
            row = dict(zip(header, values, strict=True))
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
    except csv.Error as exc:
        out.problems.append(f"line {reader.line_num}: {exc}; the rest of the file was not read")
    if not out.rows:
        why = f" ({len(out.problems)} bad rows, first: {out.problems[0]})" if out.problems else ""
        raise InputError(f"{path}: no valid supplier rows{why}")
    return out
