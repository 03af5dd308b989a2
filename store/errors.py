"""The project's one exception hierarchy, by meaning: configuration, input, storage, crawl, delivery.

It lives at the bottom layer (store) so every layer above can raise and catch it without importing
a sibling. No class here knows its exit status: the CLI maps meanings to exit codes in one table
(``supplywatch.cli.EXIT_CODES``), and messages never name command-line flags.
"""

from __future__ import annotations

from typing import Any


class SupplywatchError(Exception):
    """Base of every error supplywatch reports to a user, as one line."""


class ConfigError(SupplywatchError):
    """The configuration (file, environment, a classifier head or model it names) is unusable."""


class InputError(SupplywatchError):
    """What was asked cannot be done with the input given (a bad query, a bad date, an unknown id or name)."""


class QuerySyntaxError(InputError):
    """A raw full-text query that FTS5 cannot parse."""


class StorageError(SupplywatchError):
    """The database cannot be opened, is locked, read-only, corrupt or of a newer schema; or a file cannot be written."""


class SchemaBehind(StorageError):
    """A read-only open found a file of an older schema: a writable open would migrate it."""


class CrawlError(SupplywatchError):
    """The crawl itself could not run (not one source failing: that is recorded, not raised)."""


class DeliveryError(SupplywatchError):
    """The digest could not be mailed to some recipient (each failure is recorded in the store), or was refused.

    ``results`` holds one dict per recipient tried (recipient, status, message_id, error).
    """

    def __init__(self, message: str, results: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.results = results or []


class BusyError(SupplywatchError):
    """Another `supplywatch run` holds the lock: this one did nothing (cron overlap, not a failure of the work)."""
