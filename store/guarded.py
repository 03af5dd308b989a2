"""Read-only connections for untrusted SQL (the browser archive): a cap on one value's size, refused functions
that reach outside the data (``fts3_tokenizer``, ``load_extension``...), and ``printf``/``format`` without huge
padding, which SQLite would build character by character past any time limit. The store opens them, so the
SQLite file is opened only here and in :mod:`.core`; the archive hands them to Datasette.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from .core import readonly_uri

MAX_VALUE_BYTES = 64 * 1024 * 1024
PRINTF_MAX_PAD = 1_000_000  # characters of width or padding precision in one printf conversion
_CONVERSION = re.compile(r"%[-+ 0#,!]*(\*|\d+)?(?:\.(\*|\d+))?([a-zA-Z%])")
REFUSED_FUNCTIONS = frozenset({"fts3_tokenizer", "load_extension", "readfile", "writefile", "edit"})


def _authorizer(action: int, arg1: Any, arg2: Any, db_name: Any, trigger: Any) -> int:
    import sqlite3

    if action == sqlite3.SQLITE_FUNCTION and str(arg2).lower() in REFUSED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


class PrintfRefused(ValueError):
    """A printf conversion asked for more padding than PRINTF_MAX_PAD."""


def _quiet_refusals(hook: Any) -> Any:
    """sys.unraisablehook, minus the printf refusals (Datasette turns on sqlite3's callback tracebacks)."""

    def unraisable(info: Any) -> None:
        if not isinstance(info.exc_value, PrintfRefused):
            hook(info)

    return unraisable


def _check_printf(fmt: Any, args: tuple[Any, ...]) -> None:
    """Raise ValueError when one conversion of ``fmt`` asks for more than PRINTF_MAX_PAD characters of padding."""
    if not isinstance(fmt, str):
        return
    rest = list(args)
    for width, precision, kind in _CONVERSION.findall(fmt):
        if kind == "%":
            continue
        for spec, pads in ((width, True), (precision, kind not in "sqQwz")):
            if spec == "*":
                value = rest.pop(0) if rest else 0
                spec = str(abs(value)) if isinstance(value, int) else "0"
            if pads and spec and int(spec) > PRINTF_MAX_PAD:
                raise PrintfRefused(f"printf: padding over {PRINTF_MAX_PAD} characters refused")
        if rest:
            rest.pop(0)


def harden(conn: Any) -> Any:
    """Cap one value's size and refuse the functions that reach outside the data, on one connection."""
    import sqlite3

    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    side = sqlite3.connect(":memory:", check_same_thread=False)  # SQLite's own printf, behind the check
    side.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)

    def printf(*args: Any) -> Any:
        if not args:
            return None
        _check_printf(args[0], args[1:])
        return side.execute(f"select printf({', '.join('?' * len(args))})", args).fetchone()[0]

    if not getattr(sys.unraisablehook, "supplywatch", False):
        sys.unraisablehook = _quiet_refusals(sys.unraisablehook)
        sys.unraisablehook.supplywatch = True  # type: ignore[attr-defined]
    for name in ("printf", "format"):
        conn.create_function(name, -1, printf, deterministic=True)
    conn.set_authorizer(_authorizer)
    return conn


def guarded_connection(path: Path) -> Any:
    """A ``?mode=ro`` (``immutable=1`` on read-only media) connection to ``path``, hardened; usable from any thread."""
    import sqlite3

    return harden(sqlite3.connect(readonly_uri(path), uri=True, check_same_thread=False))
