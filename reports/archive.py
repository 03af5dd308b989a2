"""The browser archive: Datasette over the store file, read-only, on 127.0.0.1.

Datasette runs in this process (``datasette.app.Datasette`` under uvicorn) on a socket bound here
first, so a port in use is a one-line error and ``--port 0`` picks a free one. The file is opened
``?mode=ro`` (not ``immutable=1``: a crawl may be writing it meanwhile, and an immutable reader
would not see WAL content; on read-only media, where nobody can, ``immutable=1``), and the
database object refuses Datasette's write path altogether.

Datasette's time limit is a progress handler, which runs between SQLite's steps, never inside one
function call: ``zeroblob(400000000)`` or a 400 MB ``printf`` is one step. Each connection caps
strings and blobs at MAX_VALUE_BYTES, so such a call fails at once ("string or blob too big");
``printf``/``format`` (whose ``%.*c`` loops per character even past that cap) refuse a width or
padding over PRINTF_MAX_PAD before SQLite's own runs on a side connection; and an authorizer
refuses the functions that reach past the data (``fts3_tokenizer`` returns a C pointer,
``load_extension`` loads code).

The view for people (``/archive/browse``: title first, labels with scores, snippet, story, best match first) and
the month and label facets are canned queries rather than views: views are schema, and schema
changes only through the store's migrations. Importing this module imports Datasette: the CLI
imports it inside ``supplywatch serve`` only.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import Any

from supplywatch.store import InputError, StorageError, Store, vocabulary
from supplywatch.store import exports as sql
from supplywatch.store.guarded import guarded_connection

DB_NAME = "archive"
BROWSE = "browse"  # the canned query for people: /archive/browse?search=words
SETTINGS = {
    "sql_time_limit_ms": 2000,  # any one query, canned or typed, stops after this
    "facet_time_limit_ms": 500,
    "max_returned_rows": 1000,
    "truncate_cells_html": 400,  # article text is long: the table pages show its start
    "allow_download": False,
    "default_page_size": 50,
}

# The largest string or blob one SQL value may be: 4x the largest page a crawl keeps (max_bytes, 16 MiB).
# Building that much takes a few hundred ms, within the time limit; zeroblob(400 MB) is refused.
def metadata(tables: set[str]) -> dict[str, Any]:
    """Datasette metadata for a store with these tables (the supplier register's are optional)."""
    table_meta: dict[str, Any] = {
        "documents": {
            "description": "Every crawled article, advisory and CSAF document, every column. The search box searches "
                           f"titles and text (full-text, porter stemming); for reading, /{DB_NAME}/{BROWSE} shows title, "
                           "source, day, labels, snippet and story, best match first.",
            "fts_table": "documents_fts",
            "fts_pk": "id",
            "label_column": "title",
            "sort_desc": "published",
            "facets": ["source", "kind", "vendor", "text_source"],
            "columns": {
                "source": "The configured source (feed) that carried it",
                "kind": "article, advisory or csaf",
                "published": "Publication time as the source states it, UTC",
                "text_source": "Where the text came from: page, feed (title and feed summary only: its labels rest on a line "
                               "of text, and it is labelled again when its page arrives) or csaf",
                "flags": "Survivable oddities seen while storing it (JSON list)",
            },
        },
        "labels": {
            "description": "The classifier's labels per document: calibrated score, whether it reached the threshold "
                           "(flagged), and the sentence that most supports it.",
            "sort_desc": "score",
            "facets": ["label", "flagged", "model_version"],
        },
        "corrections": {"description": "Analysts' corrections of labels (supplywatch label).", "facets": ["label", "value"]},
        "stories": {
            "description": "Documents about one event, across outlets and follow-ups.",
            "label_column": "title",
            "sort_desc": "last_published",
        },
        "story_documents": {"description": "Which story each document belongs to, and why.", "facets": ["reason"]},
        "sources": {"description": "Configured sources and their health.", "facets": ["kind", "last_status", "enabled"]},
        "fetches": {"description": "One row per fetch of a source.", "sort_desc": "started_at",
                    "facets": ["source", "status"]},
        "deliveries": {"description": "Digest e-mails: one row per day and recipient.", "facets": ["status"]},
        "document_vectors": {"hidden": True},
    }
    queries: dict[str, Any] = {
        BROWSE: {
            "title": "Documents: search and read",
            "description": "Every document as a reader wants it: title, source, day, flagged labels with their scores, "
                           "what they rest on (text_seen: 'feed summary only' when only a feed's title and summary "
                           "were seen), a snippet and its story. Type words to search titles and text: the best match comes "
                           "first (title hits weigh most), matches in [brackets]; leave it empty for the newest "
                           "first. The raw table is documents.",
            "sql": sql.BROWSE_DOCUMENTS,
            "params": ["search"],
            "hide_sql": True,  # people read the results; the SQL is one click away
        },
        "cert_compromises_30_days": {
            "title": "Supply-chain certificate compromises, last 30 days",
            "description": f"Documents flagged {vocabulary.headline()} published in the last 30 days, newest first, "
                           "with score, evidence and what the label rests on (text_seen).",
            "sql": sql.CERT_COMPROMISES_30_DAYS,
        },
        "documents_by_month": {
            "title": "Documents by month",
            "description": "How many documents, sources and flagged documents each month.",
            "sql": sql.DOCUMENTS_BY_MONTH,
        },
        "documents_by_label": {
            "title": "Flagged documents by label",
            "description": "Documents flagged with a label (leave it empty for all labels), newest first.",
            "sql": sql.DOCUMENTS_BY_LABEL,
            "params": ["label"],
        },
    }
    if set(sql.SUPPLIER_TABLES) <= tables:
        table_meta["suppliers"] = {"description": "The supplier register.", "label_column": "name",
                                   "facets": ["tier", "owner"]}
        table_meta["supplier_matches"] = {"description": "Which documents name which supplier, where, and as what.",
                                          "facets": ["supplier_id", "role", "field"]}
        queries["stories_for_supplier"] = {
            "title": "Stories for a supplier",
            "description": "Stories with a document matched to the supplier (its name or an alias), newest first.",
            "sql": sql.STORIES_FOR_SUPPLIER,
            "params": ["supplier"],
        }
    if set(sql.IMPACT_TABLES) <= tables:  # fourth parties (issue 15)
        table_meta["supplier_relations"] = {
            "description": "What suppliers use, integrate with, hand data to and build in, and what we use (we_use).",
            "facets": ["relation", "target", "source"]}
        table_meta["supplier_impacts"] = {
            "description": "Who each document affects: the suppliers it names and, through the relations, the parties "
                           "related to a compromised one, each with its path. Facet by status for affected or "
                           "possibly affected.",
            "facets": ["status", "hops", "party"], "label_column": "party"}
        queries["affected_suppliers"] = {
            "title": "Affected suppliers",
            "description": "Who the documents affect, with the path that says why, newest first; status: affected, "
                           "possibly affected or mentioned (empty for all).",
            "sql": sql.AFFECTED_SUPPLIERS,
            "params": ["status"],
        }
    for name in ("supplier_register", "supplier_match_state"):
        if name in tables:
            table_meta[name] = {"hidden": True}
    return {
        "title": "supplywatch archive",
        "description": "The supplywatch archive, read-only: search documents, browse labels, stories and sources.",
        "databases": {
            DB_NAME: {
                "description": "Crawled documents with their labels, stories and sources.",
                "tables": {name: meta for name, meta in table_meta.items() if name in tables},
                "queries": queries,
            }
        },
    }


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise InputError(f"port {port} on {host} is already in use (choose another with --port)") from None
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def build(path: str | Path) -> Any:
    """A Datasette instance over the store at ``path``: read-only, with supplywatch's metadata and settings."""
    from datasette.app import Datasette
    from datasette.database import Database

    class ReadOnlyDatabase(Database):
        """Datasette's database, minus its write path: reads go through ``?mode=ro`` connections (``immutable=1``
        on read-only media), each with a cap on one value's size and an authorizer."""

        def connect(self, write: bool = False) -> Any:
            if write:
                raise StorageError(f"{self.path}: the archive is served read-only")
            conn = guarded_connection(Path(self.path))
            self._all_file_connections.append(conn)
            return conn

        async def execute_write_fn(self, fn: Any, block: bool = True) -> Any:
            raise StorageError(f"{self.path}: the archive is served read-only")

    # Datasette prints every error, a 400 for a refused statement too, as a rich traceback with its locals
    # when rich is importable (it is: Scrapy's dependencies bring it); the page or JSON says enough.
    import datasette.handle_exception

    datasette.handle_exception.rich = None
    path = Path(path)
    with Store.open_readonly(path) as store:  # one-line errors: missing, not a database; an old schema is migrated once
        tables = store.table_names()
    ds = Datasette(metadata=metadata(tables), settings=SETTINGS)
    ds.add_database(ReadOnlyDatabase(ds, path=str(path.resolve()), is_mutable=True), name=DB_NAME)
    return ds


def serve(path: str | Path, *, host: str = "127.0.0.1", port: int = 8001, ready: Any = None) -> None:
    """Serve the archive until Ctrl-C (uvicorn's graceful shutdown; the CLI then says "Interrupted.").

    ``ready``: called with the URL once the socket is bound (port 0 becomes the port chosen).
    """
    import uvicorn

    ds = build(path)
    sock = _bind(host, port)
    url_host = f"[{host}]" if ":" in host else host
    url = f"http://{url_host}:{sock.getsockname()[1]}/{DB_NAME}"
    try:
        config = uvicorn.Config(ds.app(), log_config=None, log_level="warning", access_log=False, lifespan="on")
        server = uvicorn.Server(config)
        if ready is not None:
            ready(url)
        server.run(sockets=[sock])
    finally:
        sock.close()
