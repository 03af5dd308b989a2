"""Where crawled documents go: a :class:`DocumentSink`. The only one today writes them to the store.

A spider's documents and its fetch outcome (ETag, health) are handed over together, once per source,
so a sink can keep them in one transaction. This is the seam a distributed crawl plugs into: a sink
that queues the documents for a central writer instead of opening the database itself.

The crawler calls ``write`` on its writer thread (crawlers/pipeline.py), never on the reactor thread,
and one call at a time: a sink needs no locking, but must not use a connection made on another thread.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from supplywatch.store import Document, FetchOutcome, SaveResult, StorageError, Store, models


class DocumentSink(Protocol):
    def write(self, documents: list[Document], outcome: FetchOutcome) -> SaveResult:
        """Keep ``documents`` and the source's ``outcome`` together; raise SupplywatchError if they cannot be."""
        ...


class StoreSink:
    """Writes each source's documents and outcome to the SQLite store in one transaction."""

    def __init__(self, db_path: str):
        self.db_path = db_path

    def write(self, documents: list[Document], outcome: FetchOutcome) -> SaveResult:
        """Save the fetch; when that fails (disk full, read-only file), record ``store_error`` as the source's
        health if that much still fits, so `sources` does not show it as never crawled; then raise."""
        try:
            with Store.open(self.db_path) as store:
                return store.save_fetch(documents, outcome)
        except StorageError as exc:
            failed = replace(outcome, status=models.STORE_ERROR, etag=None, last_modified=None,
                             error=f"{len(documents)} documents not stored: {exc}")
            try:
                with Store.open(self.db_path) as store:
                    store.save_fetch([], failed)
            except StorageError:
                pass  # not even that fits: the command's exit status (3) says it
            raise
