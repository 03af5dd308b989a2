"""The project's one exception hierarchy.

It lives at the bottom layer (store) so every layer above can raise and catch it without
importing a sibling; the CLI turns any SupplywatchError into a one-line message and an exit code.
"""

from __future__ import annotations

from typing import Any


class SupplywatchError(Exception):
    """Base of every error supplywatch reports to a user. ``exit_code`` is the CLI's exit status."""

    exit_code = 1


class ConfigError(SupplywatchError):
    """The configuration file or an option is invalid; nothing has been fetched or written."""

    exit_code = 2


class UsageError(SupplywatchError):
    """A command was given input it cannot use (a bad query, a bad date)."""

    exit_code = 2


class StoreError(SupplywatchError):
    """The database cannot be opened, is locked, read-only, corrupt or of a newer schema."""

    exit_code = 3


class SchemaBehind(StoreError):
    """A read-only open found a file of an older schema: a writable open would migrate it."""


class CrawlError(SupplywatchError):
    """The crawl itself could not run (not one source failing: that is recorded, not raised)."""

    exit_code = 4


class DeliveryError(SupplywatchError):
    """The digest could not be mailed to some recipient (each failure is recorded in the store), or was refused.

    ``results`` holds one dict per recipient tried (recipient, status, message_id, error).
    """

    exit_code = 5

    def __init__(self, message: str, results: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.results = results or []


class BusyError(SupplywatchError):
    """Another `supplywatch run` holds the lock: this one did nothing (cron overlap, not a failure of the work)."""

    # EX_TEMPFAIL from sysexits.h: try again later.
    exit_code = 75
