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
