"""Plain-text tables, JSON and CSV for the CLI: what a terminal user reads. No business logic."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from typing import Any

import click

# C0/C1 controls and bidi overrides: a cell never moves the cursor, retitles the terminal or reorders text,
# whatever a row stored before its text was cleaned.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]], *, max_width: int = 60) -> str:
    """A left-aligned text table; ``columns`` is (key, heading). Long cells are cut with '…'."""
    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        text = " ".join(_CONTROL.sub("", text).split())
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    body = [[cell(row.get(key)) for key, _ in columns] for row in rows]
    heads = [head for _, head in columns]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(heads)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in body]
    return "\n".join(lines)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


# A cell starting with one of these is run as a formula by spreadsheets (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """``value`` made safe for a spreadsheet: text starting like a formula gets a leading ``'``; numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def echo_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Rows as CSV with a header row (stdlib csv: RFC 4180 quoting and CRLF line ends)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(row.get(key)) for key in columns])
    click.echo(out.getvalue(), nl=False)
