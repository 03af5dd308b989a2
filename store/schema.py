"""Schema of the supplywatch SQLite file, as numbered migrations.

``PRAGMA user_version`` holds the number of migrations applied; each migration and its version
bump run in one ``BEGIN IMMEDIATE`` transaction, so a file is never left between two versions.
Never edit a released migration: append a new one.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils


def _v1(db: sqlite_utils.Database) -> None:
    db["sources"].create(
        {
            "name": str,
            "kind": str,
            "url": str,
            "vendor": str,
            "enabled": int,
            "etag": str,
            "last_modified": str,
            "last_attempt": str,
            "last_success": str,
            "last_status": str,  # ok | not_modified | not_a_feed | blocked | gone | rate_limited | ...
            "http_status": int,
            "consecutive_failures": int,
            "last_error": str,
            "warnings": str,  # JSON list of survivable problems seen on the last fetch
            "retry_after": str,  # do not fetch before this time (from a Retry-After header)
        },
        pk="name",
        not_null={"kind", "url"},
        defaults={"enabled": 1, "consecutive_failures": 0, "vendor": ""},
    )
    db["documents"].create(
        {
            "id": int,
            "source": str,
            "kind": str,  # article | advisory | csaf
            "url": str,
            "canonical_url": str,
            "guid": str,
            "title": str,
            "text": str,
            "summary": str,
            "author": str,
            "vendor": str,
            "products": str,  # JSON list
            "cves": str,  # JSON list
            "published": str,
            "fetched_at": str,
            "updated_at": str,
            "content_hash": str,  # hash of title + text: a change means the article was edited
            "entry_hash": str,  # hash of the feed entry: unchanged means the page need not be re-fetched
            "text_source": str,  # page | feed | csaf: where the main text came from
            "flags": str,  # JSON list: no_date, future_date, feed_content_only, sanitized_title, ...
        },
        pk="id",
        foreign_keys=[("source", "sources", "name")],
        not_null={"source", "title", "fetched_at", "content_hash"},
    )
    # Identity: a canonical URL is one document whatever feed carried it; a GUID is unique per source.
    db["documents"].create_index(["canonical_url"], unique=True, index_name="documents_canonical_url")
    db["documents"].create_index(["source", "guid"], unique=True, index_name="documents_source_guid")
    db["documents"].create_index(["published"], index_name="documents_published")
    db["documents"].enable_fts(["title", "text"], create_triggers=True, tokenize="porter unicode61")
    db["fetches"].create(
        {
            "id": int,
            "source": str,
            "started_at": str,
            "finished_at": str,
            "status": str,
            "http_status": int,
            "new": int,
            "updated": int,
            "unchanged": int,
            "failed_pages": int,
            "error": str,
            "warnings": str,  # JSON list
        },
        pk="id",
        foreign_keys=[("source", "sources", "name")],
    )
    db["fetches"].create_index(["source", "started_at"])


def _v2(db: sqlite_utils.Database) -> None:
    """Labels from the classifier, and analysts' corrections of them."""
    db["labels"].create(
        {
            "document_id": int,
            "label": str,
            "score": float,  # calibrated probability, 0..1
            "flagged": int,  # 1 when the score reaches the model's threshold for this label
            "evidence": str,  # the sentence that most supports the label
            "model_version": str,
            "labelled_at": str,
        },
        pk=("document_id", "label"),
        foreign_keys=[("document_id", "documents", "id")],
        not_null={"score", "model_version"},
    )
    db["labels"].create_index(["label", "score"])
    db["labels"].create_index(["model_version"])
    db["corrections"].create(
        {
            "document_id": int,
            "label": str,
            "value": int,  # 1: the label applies, 0: it does not
            "note": str,
            "created_at": str,
        },
        pk=("document_id", "label"),
        foreign_keys=[("document_id", "documents", "id")],
        not_null={"value", "created_at"},
    )


def _v3(db: sqlite_utils.Database) -> None:
    """Stories (documents about one event, across outlets and follow-ups) and digest deliveries."""
    db["stories"].create(
        {
            "id": int,
            "title": str,  # the title of the story's first document
            "first_published": str,
            "last_published": str,
            "documents": int,  # members, kept in step by the store
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
    )
    db["stories"].create_index(["last_published"])
    db["story_documents"].create(
        {
            "document_id": int,
            "story_id": int,
            "similarity": float,  # to the story when the document joined it; 1.0 for the first
            "reason": str,  # first | embedding | title | manual
            "assigned_at": str,
        },
        pk="document_id",
        foreign_keys=[("document_id", "documents", "id"), ("story_id", "stories", "id")],
        not_null={"story_id"},
    )
    db["story_documents"].create_index(["story_id"])
    # Title + lead embedding per document and encoder, so clustering never re-embeds the archive.
    db["document_vectors"].create(
        {"document_id": int, "model": str, "vector": bytes},
        pk=("document_id", "model"),
        foreign_keys=[("document_id", "documents", "id")],
    )
    db["deliveries"].create(
        {
            "day": str,  # the digest's day, YYYY-MM-DD
            "recipient": str,
            "message_id": str,  # chosen at the first attempt and reused by every retry
            "status": str,  # pending | sent | failed; from v5 also sending | uncertain
            "attempts": int,
            "first_attempt": str,
            "last_attempt": str,
            "sent_at": str,
            "last_error": str,
        },
        pk=("day", "recipient"),
        not_null={"message_id", "status"},
        defaults={"attempts": 0},
    )


def _v4(db: sqlite_utils.Database) -> None:
    """The supplier register, which documents name which supplier, and what has been matched against which register."""
    db["suppliers"].create(
        {
            "id": int,
            "name": str,
            "name_key": str,  # casefolded name: one supplier per name whatever its case
            "aliases": str,  # JSON list
            "domains": str,  # JSON list of host names (a subdomain matches too)
            "products": str,  # JSON list
            "tier": str,
            "owner": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"name", "name_key"},
        defaults={"aliases": "[]", "domains": "[]", "products": "[]", "tier": "", "owner": ""},
    )
    db["suppliers"].create_index(["name_key"], unique=True, index_name="suppliers_name_key")
    db["supplier_matches"].create(
        {
            "document_id": int,
            "supplier_id": int,
            "role": str,  # subject (named in the title or lead) | mentioned
            "field": str,  # title | lead | text | link: where it was found
            "term": str,  # the name, alias, product or domain that matched
        },
        pk=("document_id", "supplier_id"),
        foreign_keys=[("document_id", "documents", "id"), ("supplier_id", "suppliers", "id")],
        not_null={"role", "field"},
    )
    db["supplier_matches"].create_index(["supplier_id"], index_name="supplier_matches_supplier")
    # One row: bumped whenever the register changes in a way that can add matches, so every document is matched again.
    db["supplier_register"].create({"id": int, "version": int}, pk="id", not_null={"version"})
    db["supplier_register"].insert({"id": 1, "version": 0})
    # Per document: the register version and content hash it was last matched with (stale when either differs).
    db["supplier_match_state"].create(
        {"document_id": int, "register_version": int, "content_hash": str, "matched_at": str},
        pk="document_id",
        foreign_keys=[("document_id", "documents", "id")],
    )


def _v5(db: sqlite_utils.Database) -> None:
    """Issue 16: why the headline was (not) flagged, and which text a label was computed from."""
    db["labels"].add_column("reason", str)  # the guard's words: why flagged, or why a high score is not
    db["labels"].add_column("content_hash", str)  # the document's content_hash when labelled; a change relabels


def _v6(db: sqlite_utils.Database) -> None:
    """Delivery claims and unconfirmed transfers: concurrent senders send once, a lost reply is retried once."""
    deliveries = db["deliveries"]
    deliveries.add_column("claimed_at", str)  # when a sender took the row (status "sending"); a lease, not a lock
    # Transfers the server may have accepted but never confirmed (reply lost, sender killed mid-send).
    deliveries.add_column("unconfirmed", int, not_null_default=0)


def _v7(db: sqlite_utils.Database) -> None:
    """Issue 15, fourth parties: typed relations between register parties, and who a document affects through them."""
    db["supplier_relations"].create(
        {
            "id": int,
            "supplier": str,  # the party that depends ("" for we_use: ourselves)
            "supplier_key": str,  # casefolded, whitespace collapsed
            "relation": str,  # uses | integrates_with | subprocessor | component_of | we_use
            "target": str,  # the party depended on (a registered supplier or not)
            "target_key": str,
            "product": str,  # the target's product or service ("" when the relation is to the company)
            "versions": str,  # the version(s) in use, as written ("" unknown)
            "source": str,  # where the relation is known from (contract, SBOM file, questionnaire); "" unconfirmed
            "as_of": str,  # the day it was known to hold (YYYY-MM-DD or "")
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"supplier_key", "relation", "target", "target_key"},
        defaults={"supplier": "", "product": "", "versions": "", "source": "", "as_of": ""},
    )
    # One relation per (supplier, kind, target, product): importing it again updates versions, source, as_of.
    db["supplier_relations"].create_index(["supplier_key", "relation", "target_key", "product"], unique=True,
                                          index_name="supplier_relations_identity")
    db["supplier_relations"].create_index(["target_key"], index_name="supplier_relations_target")
    # Per document: each party it affects (directly or through relations), how surely, and the path that says why.
    db["supplier_impacts"].create(
        {
            "document_id": int,
            "party_key": str,  # the affected party's key ("you" for ourselves, "KEY|tenant" for our tenant at KEY)
            "party": str,  # as shown: "Acme", "Microsoft 365 (your tenant)", "you"
            "supplier_id": int,  # the registered supplier this party is, if any
            "status": str,  # affected | possibly affected | mentioned
            "hops": int,  # 0: named by the document itself; 1 or 2: through that many relations
            "path": str,  # "Acme → uses → SolarWinds Orion 2020.2.1 (affected versions 2019.4 HF5–2020.2.1 HF1)"
            "edges": str,  # JSON list of [supplier, relation, target/product] of the path, nearest the document first
        },
        pk=("document_id", "party_key"),
        foreign_keys=[("document_id", "documents", "id")],
        not_null={"party", "status", "hops"},
    )
    db["supplier_impacts"].create_index(["supplier_id"], index_name="supplier_impacts_supplier")
    db["supplier_impacts"].create_index(["status"], index_name="supplier_impacts_status")
    # Documents matched before this migration are matched again, so their impacts are computed.
    db.execute("update supplier_register set version = version + 1 where id = 1 "
               "and exists (select 1 from supplier_match_state)")


def _v8(db: sqlite_utils.Database) -> None:
    """Issue 13: a log of changed documents, so the search side index (store/search_index.py) can catch up.

    One row per insert, update of a searched column, or delete of a document, written by triggers so no
    writer can forget it. The side index records the last ``seq`` it applied; the log may be pruned up to it.
    """
    db["search_changes"].create({"seq": int, "document_id": int}, pk="seq", not_null={"document_id"})
    for event, row, when in (("insert", "new", ""), ("update", "new", " of title, text, source, published"),
                             ("delete", "old", "")):
        db.execute(f"create trigger search_changes_{event[0]} after {event}{when} on documents "
                   f"begin insert into search_changes (document_id) values ({row}.id); end")


def _v9(db: sqlite_utils.Database) -> None:
    """Issue 10: incidents (who was compromised, through which artefact, since when) and their member documents."""
    db["incidents"].create(
        {
            "id": int,
            "party": str,  # the compromised organisation or product
            "artefact": str,  # code-signing certificate, token-signing key, build system, update channel ...
            "first_document_id": int,
            "first_published": str,
            "last_published": str,  # the last member's day: the follow-up window runs from it
            "title": str,
            "evidence": str,  # the first document's evidence sentence (a prototype once confirmed)
            "status": str,  # open | confirmed | rejected (an analyst's answer)
            "updated_at": str,
        },
        pk="id",
        not_null={"party", "first_document_id", "status"},
        defaults={"status": "open"},
    )
    db["incidents"].create_index(["first_document_id"], unique=True, index_name="incidents_first_document")
    db["incidents"].create_index(["last_published"], index_name="incidents_last_published")
    db["incident_members"].create(
        {"incident_id": int, "document_id": int},
        pk=("incident_id", "document_id"),
        foreign_keys=[("incident_id", "incidents", "id"), ("document_id", "documents", "id")],
    )
    db["incident_members"].create_index(["document_id"], index_name="incident_members_document")
    db["corrections"].add_column("evidence", str)  # the sentence an answer is about: a prototype for classify


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8, _v9]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite_utils.Database) -> int:
    """Apply pending migrations; return the number applied. Raises ValueError for a newer file."""
    current = db.execute("PRAGMA user_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise ValueError(
            f"database schema version {current} is newer than this supplywatch ({SCHEMA_VERSION})"
        )
    for version in range(current, SCHEMA_VERSION):
        # BEGIN IMMEDIATE, then the version again: of two processes opening an old file at once, one
        # migrates and the other waits (busy timeout) and then finds nothing left to do.
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("PRAGMA user_version").fetchone()[0] == version:
                MIGRATIONS[version](db)
                db.execute(f"PRAGMA user_version = {version + 1}")
        except BaseException:
            if db.conn.in_transaction:
                db.conn.rollback()
            raise
        else:
            if db.conn.in_transaction:
                db.conn.commit()
    return SCHEMA_VERSION - current
