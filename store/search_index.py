"""The search side index: a tantivy index beside the SQLite file that finds the few documents worth ranking.

The SQLite file stays the one source of truth. On a large archive FTS5 must score every match of a common
word (600 ms for a word in 185,000 of 1,000,000 documents), so ``Store.search`` first asks this index
(tantivy's block-max WAND top-k over one field holding the title five times and the text: the FTS5
ranking's weighting) for the best candidates; store/search_side.py says how FTS5 then ranks or confirms them.

Kept in step, never trusted blindly:

* migration 8 logs every insert, edit and delete of a document in ``search_changes`` (triggers);
* ``state.json`` in the index folder records the last change applied and the document of that change;
* before each search the store compares it with the log: behind by a few changes, the index catches up
  (deletes and re-adds those documents); far behind, from another file (the change it names is not in
  the log) or unreadable, it is rebuilt from the SQLite file, or the search runs on FTS5 alone.

The folder is ``<database>.search-index``; deleting it loses nothing. Measured in benchmarks/SEARCH.md.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FORMAT = 1  # bump when the fields or the analyzer change: an index of another format is rebuilt
ANALYZER = "sw_en"
TITLE_WEIGHT = 5  # as search.WEIGHTS: the title's words count five times
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def index_dir(db_path: Path) -> Path:
    return Path(f"{db_path}.search-index")


def day_key(published: str | None) -> int | None:
    """YYYYMMDD of an ISO timestamp: the day the search's date filters compare."""
    m = _DAY.match(published or "")
    return int("".join(m.groups())) if m else None


def _analyzer() -> Any:
    import tantivy

    # As FTS5's "porter unicode61": split on what is not a letter or digit, lower case, fold accents, stem.
    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.ascii_fold()).filter(tantivy.Filter.stemmer("english")).build())


def _schema() -> Any:
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", indexed=True, fast=True)
    builder.add_text_field("body", tokenizer_name=ANALYZER, index_option="position")
    builder.add_text_field("source", tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("day", fast=True)
    return builder.build()


class Unusable(Exception):
    """The side index cannot answer now (locked by another writer, unwritable folder...): use FTS5 alone."""


class SideIndex:
    """One open tantivy index for one database file."""

    def __init__(self, db_path: Path):
        import tantivy

        self.dir = index_dir(db_path)
        self.state_file = self.dir / "state.json"
        self.tantivy = tantivy
        self.analyzer = _analyzer()
        self.index: Any = None
        self.schema: Any = None
        self.applied: tuple[int, int] | None = None  # (seq, document id of that change) the searcher reflects

    # -- state ---------------------------------------------------------------------------------

    def read_state(self) -> dict[str, Any] | None:
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) and state.get("format") == FORMAT else None

    def _write_state(self, seq: int, doc: int) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"format": FORMAT, "seq": seq, "document_id": doc}))
        os.replace(tmp, self.state_file)

    def _open(self, create: bool) -> None:
        if self.dir.exists() and not self.dir.is_dir():
            raise Unusable(f"{self.dir} is not a folder")  # someone else's file: never removed
        try:
            if create:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir.mkdir(parents=True)
        except OSError as exc:
            raise Unusable(f"cannot create the search index {self.dir}: {exc}") from exc
        self.schema = _schema()
        try:
            self.index = self.tantivy.Index(self.schema, path=str(self.dir), reuse=not create)
        except (OSError, ValueError) as exc:
            raise Unusable(f"cannot open the search index {self.dir}: {exc}") from exc
        self.index.register_tokenizer(ANALYZER, self.analyzer)

    def _writer(self) -> Any:
        try:
            return self.index.writer(heap_size=64_000_000, num_threads=1)
        except (OSError, ValueError) as exc:  # another process holds the writer lock
            raise Unusable(f"search index busy: {exc}") from exc

    # -- keeping in step -------------------------------------------------------------------------

    def rebuild(self, rows: Iterable[tuple[int, str, str, str, str | None]], seq: int, doc: int) -> None:
        """A new index from every document (id, source, title, text, published), reflecting change ``seq``."""
        self._open(create=True)
        writer = self._writer()
        for row in rows:
            writer.add_document(self._document(*row))
        writer.commit()
        writer.wait_merging_threads()
        self._write_state(seq, doc)
        self.index.reload()
        self.applied = (seq, doc)

    def apply(self, changed: list[int], rows: Iterable[tuple[int, str, str, str, str | None]], seq: int,
              doc: int) -> None:
        """Catch up: drop every changed document, add back those still in the file (``rows``)."""
        if self.index is None:
            self._open(create=False)
        writer = self._writer()
        try:
            for doc_id in changed:
                writer.delete_documents_by_term("id", doc_id)
            for row in rows:
                writer.add_document(self._document(*row))
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            writer.rollback()
            raise
        self._write_state(seq, doc)
        self.index.reload()
        self.applied = (seq, doc)

    def load(self, state: dict[str, Any]) -> None:
        """Read the index as another process left it (its state.json says it is current)."""
        if self.index is None:
            self._open(create=False)
        self.index.reload()
        self.applied = (state["seq"], state["document_id"])

    def _document(self, doc_id: int, source: str, title: str, text: str, published: str | None) -> Any:
        fields: dict[str, Any] = {"id": doc_id, "source": source or "",
                                  "body": " \n ".join([title or ""] * TITLE_WEIGHT + [text or ""])}
        day = day_key(published)
        if day is not None:
            fields["day"] = day
        return self.tantivy.Document(**fields)

    # -- searching ---------------------------------------------------------------------------------

    def candidates(self, tree: Any, *, k: int, source: str | None = None, first_day: int | None = None,
                   last_day: int | None = None) -> tuple[list[tuple[int, float]], int]:
        """The best ``k`` (id, bm25 score) for a parsed query (``fts5query`` tree), and how many documents match."""
        q = self.tantivy.Query
        query = self._query(tree)
        filters = []
        if source is not None:
            filters.append(q.term_query(self.schema, "source", source, index_option="basic"))
        if first_day is not None or last_day is not None:
            filters.append(q.range_query(self.schema, "day", self.tantivy.FieldType.Integer, first_day, last_day))
        if filters:
            # Filters restrict but do not score (a constant 0 keeps the bm25 of the words alone).
            query = q.boolean_query([(self.tantivy.Occur.Must, query)] + [
                (self.tantivy.Occur.Must, q.const_score_query(f, 0.0)) for f in filters])
        searcher = self.index.searcher()
        result = searcher.search(query, limit=max(k, 1), count=True)
        hits = result.hits[:k]
        ids = searcher.fast_field_values("id", [address for _, address in hits]) if hits else []
        return ([(int(i), float(score)) for i, (score, _) in zip(ids, hits, strict=True) if i is not None],
                int(result.count or 0))

    def _query(self, node: Any) -> Any:
        """The tantivy query for a node of ``fts5query``'s tree: what FTS5 would match, or more."""
        q, occur = self.tantivy.Query, self.tantivy.Occur
        kind = node[0]
        if kind == "phrase":
            tokens = [t for word in node[1] for t in self.analyzer.analyze(word)]
            if not tokens:
                raise Unusable("a phrase without words")
            if len(tokens) == 1:
                return q.term_query(self.schema, "body", tokens[0])
            return q.phrase_query(self.schema, "body", tokens)
        parts = [self._query(child) for child in node[1]]
        if kind == "and":
            return q.boolean_query([(occur.Must, p) for p in parts])
        if kind == "or":
            return q.boolean_query([(occur.Should, p) for p in parts])
        raise Unusable(f"unknown node {kind}")
