"""Errors by meaning: one exit-code table at the CLI edge, and a store that never speaks CLI."""

from __future__ import annotations

import re
from pathlib import Path

from supplywatch.classifiers import HeadError
from supplywatch.classifiers.encoder import ModelError
from supplywatch.cli import EXIT_CODES, exit_code
from supplywatch.store import (
    BusyError,
    ConfigError,
    CrawlError,
    DeliveryError,
    InputError,
    StorageError,
    SupplywatchError,
)
from supplywatch.store.errors import SchemaBehind

STORE = Path(__file__).resolve().parent.parent / "store"


def test_exit_codes_as_documented():
    # README "Errors": 2 configuration or input, 3 database, 4 crawl, 5 delivery, 75 lock held.
    expected = {ConfigError: 2, InputError: 2, StorageError: 3, CrawlError: 4, DeliveryError: 5, BusyError: 75,
                SupplywatchError: 1}
    assert {cls: exit_code(cls("x")) for cls in expected} == expected
    assert exit_code(SchemaBehind("x")) == 3 and exit_code(HeadError("x")) == 2 and exit_code(ModelError("x")) == 2
    assert set(EXIT_CODES) == set(expected)


def test_no_error_class_carries_its_own_exit_code():
    assert not any(hasattr(cls, "exit_code") for cls in (*EXIT_CODES, SchemaBehind, HeadError, ModelError))


def test_the_store_never_names_command_line_options():
    option = re.compile(r"\"[^\"\n]*--[a-z][^\"\n]*\"")  # "--since" in a string literal; SQL comments are "-- "
    assert [f"{p.name}: {m}" for p in STORE.glob("*.py") for m in option.findall(p.read_text("utf-8"))] == []


def test_a_file_that_cannot_be_written_exits_3_in_one_line(tmp_path):
    """README, exit 3: "the database (or a file to write)". A digest folder, an export file and the run lock that
    cannot be created are that, not a generic failure (1) or the user's input (2)."""
    from click.testing import CliRunner

    from supplywatch.cli import cli

    db = str(tmp_path / "x.db")
    assert CliRunner().invoke(cli, ["--db", db, "--config", str(tmp_path / "c.toml"), "init"]).exit_code == 0
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # a path under a plain file cannot be created, even by root
    for args in (["digest", "--out", str(blocker / "out")], ["feed", "--out", str(blocker / "alerts.xml")],
                 ["stix", "--out", str(blocker / "bundle.json")]):
        result = CliRunner().invoke(cli, ["--db", db, *args])
        assert result.exit_code == 3, (args, result.output)
        assert str(blocker) in result.output and "cannot write" in result.output
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    result = CliRunner().invoke(cli, ["--db", str(blocker / "x.db"), "run", "--no-crawl"])
    assert result.exit_code in (2, 3), result.output  # no configuration (2) may be checked before the lock (3)


def test_usage_errors_are_one_line_with_where_help_is():
    """Click's own usage errors (unknown option or command, missing argument, bad value) read like every other
    error: one line on stderr, exit 2, naming the help to read; stdout stays empty for pipes."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    for args, said in ((["digest", "--bogus"], "No such option '--bogus'"), (["search"], "Missing argument 'QUERY'"),
                       (["nosuchcmd"], "No such command 'nosuchcmd'"), (["--bogus"], "No such option '--bogus'"),
                       (["search", "x", "--limit", "abc"], "'abc' is not a valid integer")):
        proc = subprocess.run([sys.executable, "-m", "supplywatch", *args], cwd=root, capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1, (args, proc.stderr)
        assert said in proc.stderr and "--help" in proc.stderr, (args, proc.stderr)
