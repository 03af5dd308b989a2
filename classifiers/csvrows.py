"""The supplier register's CSV files, read row by row with line numbers: a bad row costs its line, never the file.

Shared by the register (``register.py``) and its relations (``relations.py``); SBOM and CSAF files read their
bytes the same way (``sbom.py``). Each reader checks its own columns; this module only finds the rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supplywatch.store import InputError

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


def rows(path: Path, what: str, columns: list[str], required: set[str], out: Parsed) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {column: value}) for each row of the CSV file with the right number of columns.

    A missing or bad header is an InputError naming the expected columns; rows that are not UTF-8 or have
    the wrong number of columns go to ``out.problems`` as "line N: why"; blank lines are skipped; a CSV
    error stops the reading there, with a problem line saying so.
    """
    lines, bad_lines = read_lines(path, what)
    if not lines or 1 in bad_lines:
        raise InputError(f"{path}: no header line: expected {','.join(columns)}")
    reader = csv.reader(io.StringIO("".join(lines), newline=""), strict=False)
    try:
        header = [h.strip().casefold() for h in next(reader)]
    except (StopIteration, csv.Error):
        header = []
    if not required <= set(header) or not set(header) <= set(columns) or len(set(header)) != len(header):
        raise InputError(f"{path}: bad header {','.join(header)!r}: expected {','.join(columns)}")
    try:
        while True:
            start = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            if start in bad_lines:
                out.problems.append(f"line {start}: not valid UTF-8")
                continue
            if not values or (len(values) == 1 and not values[0].strip()):
                continue  # a blank line
            if len(values) != len(header):
                out.problems.append(f"line {start}: {len(values)} columns, expected {len(header)}")
                continue
            yield start, dict(zip(header, values, strict=True))
    except csv.Error as exc:
        out.problems.append(f"line {reader.line_num}: {exc}; the rest of the file was not read")
