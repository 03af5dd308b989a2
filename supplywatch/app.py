"""The composition root: builds each part from the configuration and passes it what it needs.

The CLI calls these functions; nothing else wires crawlers, store (and later classifiers and
reports) together.
"""

from __future__ import annotations

from typing import Any

from store import Store

from .config import Config


def open_store(db: str, *, create: bool = True, readonly: bool = False) -> Store:
    return Store.open(db, create=create, readonly=readonly)


def crawl(config: Config, db: str, *, source: str | None = None, force: bool = False) -> list[dict[str, Any]]:
    """Sync the configured sources into the store, then crawl them (or the one named)."""
    import crawlers

    sources = [config.source(source)] if source else config.sources
    with open_store(db) as store:
        store.sync_sources(config.sources)
    if not sources:
        return []
    return crawlers.run_crawl(db, sources, config.crawl, force=force)


def classifier(config: Config) -> Any:
    """The classifier as configured (loads torch and the model: call only where labels are made)."""
    from classifiers import Classifier

    opts = config.classifier
    return Classifier(opts["model"] or None, opts["head"] or None, batch_size=opts["batch_size"],
                      max_length=opts["max_length"])


def classify(config: Config, db: str, *, relabel: bool = False, limit: int | None = None,
             progress: Any = None) -> dict[str, Any]:
    """Label every document without a label from the current model version; returns counts."""
    from datetime import UTC, datetime, timedelta

    from classifiers import HEADLINE
    from classifiers.memory import IncidentMemory
    from store import utcnow

    clf = classifier(config)
    memory = IncidentMemory()
    counts = {"documents": 0, "flagged": {}, "model_version": clf.version}
    with open_store(db) as store:
        since = (datetime.now(UTC) - timedelta(days=memory.window)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for row in reversed(store.flagged(HEADLINE, since=since)):
            memory.adjust(row, row["score"], 0.0)  # seed: incidents the pipeline already flagged
        for batch in store.documents_to_label(clf.version, relabel=relabel, limit=limit):
            results = []
            for doc, labels in zip(batch, clf.classify(batch), strict=True):
                adjusted = []
                for lab, flagged in labels:
                    if lab.label == HEADLINE:
                        lab.score = memory.adjust(doc, lab.score, clf.head.threshold)
                        flagged = lab.score >= clf.head.threshold
                    if flagged:
                        counts["flagged"][lab.label] = counts["flagged"].get(lab.label, 0) + 1
                    adjusted.append((lab, flagged))
                results.append((doc["id"], adjusted))
            store.save_labels(results, clf.version, utcnow())
            counts["documents"] += len(results)
            if progress:
                progress(counts["documents"])
    return counts


def train(config: Config, db: str | None, *, data: list[str], out: str, include_examples: bool = True,
          until: str | None = None) -> Any:
    """Fit a new head on the project's examples, analysts' corrections and any labelled JSONL files."""
    from classifiers import HEADLINE, examples
    from classifiers.encoder import Encoder
    from classifiers.evaluate import read_jsonl
    from classifiers.features import Featurizer
    from classifiers.train import fit
    from store import UsageError

    rows: list[dict[str, Any]] = []
    sources: dict[str, int] = {}
    if include_examples:
        rows += examples()
        sources["project examples"] = len(rows)
    for path in data:
        extra = read_jsonl(path, until=until)
        sources[str(path) + (f" (before {until})" if until else "")] = len(extra)
        rows += extra
    if db:
        from pathlib import Path

        if Path(db).exists():
            with open_store(db) as store:
                corrections = store.corrections()
            by_doc: dict[int, dict[str, Any]] = {}
            for c in corrections:
                doc = by_doc.setdefault(c["document_id"], {"title": c["title"], "text": c["text"], "labels": [],
                                                             "categories": []})
                key = "labels" if c["label"] == HEADLINE else "categories"
                if c["value"]:
                    doc[key].append(c["label"])
            rows += list(by_doc.values())
            if by_doc:
                sources["analyst corrections"] = len(by_doc)
    if not rows:
        raise UsageError("nothing to train on")
    opts = config.classifier
    encoder = Encoder(opts["model"] or None, batch_size=opts["batch_size"], max_length=opts["max_length"])
    try:
        head = fit(rows, Featurizer(encoder), sources=sources, encoder_name=encoder.name)
    except ValueError as exc:
        raise UsageError(f"cannot train: {exc}") from None
    head.save(out)
    return head


def evaluate(config: Config, path: str, *, head: str | None = None, since: str | None = None,
             until: str | None = None, memory: bool = True) -> dict[str, Any]:
    from classifiers import Head, resolve_head
    from classifiers.encoder import Encoder
    from classifiers.evaluate import evaluate as run
    from classifiers.evaluate import read_jsonl
    from classifiers.features import Featurizer

    rows = read_jsonl(path, since=since, until=until)
    opts = config.classifier
    fitted = Head.load(resolve_head(head or opts["head"] or None))
    encoder = Encoder(opts["model"] or None, batch_size=opts["batch_size"], max_length=opts["max_length"])
    return run(rows, fitted, Featurizer(encoder), memory=memory)


def digest(db: str, day: str | None = None, *, out: str | None = None,
           templates_dir: str | None = None) -> dict[str, Any]:
    """Build and render the digest of ``day`` (default yesterday UTC); with ``out``, write both files there.

    Returns the day, the rendered ``html`` and ``text``, and the ``paths`` written (none without ``out``).
    """
    from pathlib import Path

    from reports.digest import build_digest, parse_day
    from reports.render import render_digest
    from store import SupplywatchError

    day = parse_day(day)
    with open_store(db, create=False) as store:
        built = build_digest(store, day)
    rendered = render_digest(built, templates_dir=templates_dir)
    paths: list[str] = []
    if out is not None:
        folder = Path(out)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for ext, body in (("html", rendered.html), ("txt", rendered.text)):
                path = folder / f"digest-{day}.{ext}"
                path.write_text(body, "utf-8")
                paths.append(str(path))
        except OSError as exc:
            raise SupplywatchError(f"{folder}: cannot write the digest: {exc.strerror or exc}") from None
    return {"day": day, "html": rendered.html, "text": rendered.text, "paths": paths}
