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


def open_readonly(db: str) -> Store:
    """The store opened read-only (search, serve); an archive of an older schema is migrated once first."""
    from store.errors import SchemaBehind

    try:
        return Store.open(db, readonly=True)
    except SchemaBehind:
        Store.open(db, create=False).close()  # migrating needs a writable file; a read-only one fails here, one line
        return Store.open(db, readonly=True)


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
             progress: Any = None, clf: Any = None) -> dict[str, Any]:
    """Label every document without a label from the current model version; returns counts.

    ``clf``: a Classifier already loaded (``run`` and the demo share one with clustering).
    """
    from datetime import UTC, datetime, timedelta

    from classifiers import HEADLINE
    from classifiers.memory import IncidentMemory
    from store import utcnow

    clf = clf or classifier(config)
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


def digest(db: str, day: str | None = None, *, out: str | None = None, templates_dir: str | None = None,
           config: Config | None = None) -> dict[str, Any]:
    """Build and render the digest of ``day`` (default yesterday UTC); with ``out``, write it there.

    ``out`` gets ``digest-DATE.html``, ``digest-DATE.txt`` and ``digest-DATE.eml``: the message as
    ``--send`` would mail it to the first configured recipient (placeholders for a missing sender or
    recipient; the Message-ID a delivery already holds, else a fresh one). Nothing is sent or marked.
    Returns the day, the rendered ``html`` and ``text``, and the ``paths`` written (none without ``out``).
    """
    from pathlib import Path

    from reports.digest import build_digest, parse_day
    from reports.render import render_digest
    from store import SupplywatchError

    day = parse_day(day)
    eml = None
    with open_store(db, create=False) as store:
        built = build_digest(store, day)
        if out is not None:
            eml = _preview_message(store, day, config, templates_dir)
    rendered = render_digest(built, templates_dir=templates_dir)
    paths: list[str] = []
    if out is not None:
        folder = Path(out)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for ext, body in (("html", rendered.html), ("txt", rendered.text), ("eml", eml)):
                path = folder / f"digest-{day}.{ext}"
                if isinstance(body, bytes):
                    path.write_bytes(body)
                else:
                    path.write_text(body, "utf-8")
                paths.append(str(path))
        except OSError as exc:
            raise SupplywatchError(f"{folder}: cannot write the digest: {exc.strerror or exc}") from None
    return {"day": day, "html": rendered.html, "text": rendered.text, "paths": paths}


def _preview_message(store: Store, day: str, config: Config | None, templates_dir: str | None) -> bytes:
    """The .eml written beside the digest: what the first recipient would get, as bytes with CRLF line ends."""
    from reports import mail
    from reports.digest import build_digest

    opts = config.email if config is not None and config.email else _email_defaults()
    recipients = [mail.Recipient.from_config(r) for r in opts.get("recipients", [])]
    rcpt = recipients[0] if recipients else mail.Recipient(mail.PLACEHOLDER_TO)
    sender = opts.get("from") or mail.PLACEHOLDER_FROM
    row = store.delivery(day, rcpt.address)
    full = build_digest(store, day, topic_limit=mail.UNCUT)
    msg = mail.build_message(mail.for_recipient(full, rcpt), sender=sender, to=rcpt.address,
                             subject_template=opts["subject"], list_id=opts["list_id"],
                             message_id=row["message_id"] if row else None,
                             templates_dir=templates_dir)
    return msg.as_bytes()


def _email_defaults() -> dict[str, Any]:
    from .config import packaged_defaults

    return {**packaged_defaults()["email"], "recipients": []}


def send_digest(config: Config, db: str, day: str | None = None, *, to: str | None = None, force: bool = False,
                templates_dir: str | None = None, report: Any = None,
                environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Mail the digest of ``day`` (default yesterday UTC) to the configured recipients, or to ``to`` alone.

    Send-then-mark (see :func:`reports.mail.deliver`): a recipient already sent this day's digest
    is skipped unless ``force``. A day with no documents stored at all is refused unless ``force``:
    the crawl probably did not run, and an empty digest must not arrive by mistake. ``report`` is
    called with each recipient's result as it happens. Returns the day, the ``results`` and counts;
    raises DeliveryError (after every recipient was tried) when any delivery failed.
    """
    import os

    from reports import mail
    from reports.digest import build_digest, parse_day
    from store import UsageError
    from store.errors import DeliveryError

    from .config import check_address

    day = parse_day(day)
    opts = config.email or _email_defaults()
    if to is not None:
        try:
            recipients = [mail.Recipient(check_address(to))]
        except ValueError as exc:
            raise UsageError(f"--to: {exc}") from None
    else:
        recipients = [mail.Recipient.from_config(r) for r in opts.get("recipients", [])]
    if not recipients:
        where = config.path or "the configuration"
        raise UsageError(f"{where}: no recipients: add [[email.recipients]] with an address, or pass --to ADDRESS")
    with open_store(db, create=False) as store:
        if not force and store.count_day_documents(day) == 0:
            raise DeliveryError(f"no documents stored for {day}: the crawl may not have run, so the digest is not "
                                "sent (check `supplywatch sources`; --force sends it anyway)")
        built = build_digest(store, day, topic_limit=mail.UNCUT)
        results = mail.deliver(store, built, recipients, opts, environ=os.environ if environ is None else environ,
                               force=force, templates_dir=templates_dir, report=report)
    counts = {status: sum(r["status"] == status for r in results)
              for status in (mail.SENT, mail.SKIPPED, mail.REFUSED, mail.FAILED)}
    failed = [r for r in results if r["status"] in (mail.REFUSED, mail.FAILED)]
    if failed:
        why = "; ".join(f"{r['recipient']}: {r['error']}" for r in failed)
        raise DeliveryError(f"{len(failed)} of {len(results)} deliveries of the {day} digest failed "
                            f"(retried by the next --send): {why}", results)
    return {"day": day, "results": results, **counts}


CLUSTER_BATCH = 1000


def cluster(config: Config, db: str, *, rebuild: bool = False, encoder: Any = None,
            progress: Any = None) -> dict[str, Any]:
    """Put every document not yet in a story into one (an existing story in the window, or a new one).

    Documents go in publication order, in batches; each batch is compared with the members of
    stories active within the window around it, including stories made by earlier batches.
    ``encoder`` lets a caller that already loaded the model (``run``, the demo) share it.
    """
    from datetime import timedelta

    import numpy as np

    from classifiers.encoder import Encoder
    from classifiers.stories import StoryIndex, lead_text, parse_time
    from classifiers.stories import cluster as decide

    opts = config.classifier
    enc = encoder or Encoder(opts["model"] or None, batch_size=opts["batch_size"], max_length=opts["max_length"])
    index_params = {"window_days": opts["story_window_days"]}
    window = timedelta(days=index_params["window_days"])
    counts = {"documents": 0, "new_stories": 0, "joined": 0, "reset": 0}
    with open_store(db) as store:
        if rebuild:
            counts["reset"] = store.reset_stories()
        todo = store.documents_without_story()
        for start in range(0, len(todo), CLUSTER_BATCH):
            batch = todo[start:start + CLUSTER_BATCH]
            times = [t for t in (parse_time(d["published"]) for d in batch) if t]
            members = []
            if times:
                since = (min(times) - window).strftime("%Y-%m-%dT%H:%M:%SZ")
                until = (max(times) + window).strftime("%Y-%m-%dT%H:%M:%SZ")
                members = store.story_candidates(since, until)
            by_id = {d["id"]: d for d in batch} | {m["document_id"]: m for m in members}
            vectors = {i: np.frombuffer(b, dtype=np.float32) for i, b in store.vectors(enc.name, list(by_id)).items()}
            missing = [i for i in by_id if i not in vectors or vectors[i].shape[0] != enc.dim]
            if missing:
                fresh = enc.encode([lead_text(by_id[i]) for i in missing])
                store.save_vectors(enc.name, [(i, v.astype(np.float32).tobytes()) for i, v in zip(missing, fresh, strict=True)])
                vectors.update(zip(missing, fresh, strict=True))
            index = StoryIndex(index_params)
            for m in members:
                index.add(m["story_id"], m["title"] or "", vectors[m["document_id"]], m["published"], source=m["source"],
                          kind=m["kind"])
            decisions = decide(batch, np.stack([vectors[d["id"]] for d in batch]), index)
            # Stories first made in this batch get their stored id before anyone joins them.
            made = dict(zip([f"new:{d.document_id}" for d in decisions if d.story is None],
                            store.assign_stories([(d.document_id, None, 1.0, "first") for d in decisions
                                                  if d.story is None]), strict=True))
            store.assign_stories([(d.document_id, made.get(d.story, d.story), d.similarity, d.reason)  # type: ignore[arg-type]
                                  for d in decisions if d.story is not None])
            counts["documents"] += len(decisions)
            counts["new_stories"] += len(made)
            counts["joined"] += len(decisions) - len(made)
            if progress:
                progress(counts["documents"])
    return counts


def match_suppliers(config: Config | None, db: str, *, progress: Any = None) -> dict[str, Any]:
    """Match every document that is new, edited, or not yet matched against the current supplier register.

    The register and its automaton are read once; documents go in batches, each batch's matches saved
    in one transaction. ``config`` is unused today (the register lives in the database). Returns counts:
    documents matched, suppliers in the register, matches found, register version.
    """
    from .matching import matcher_for

    counts = {"documents": 0, "suppliers": 0, "matches": 0, "register_version": 0}
    with open_store(db) as store:
        version = store.register_version()
        suppliers = store.suppliers()
        counts.update(suppliers=len(suppliers), register_version=version)
        matcher = matcher_for(suppliers)
        for batch in store.documents_to_match(version):
            results = [(doc["id"], doc["content_hash"], [m.as_dict() for m in matcher.match(doc)]) for doc in batch]
            store.save_supplier_matches(results, version)
            counts["documents"] += len(results)
            counts["matches"] += sum(len(r[2]) for r in results)
            if progress:
                progress(counts["documents"])
    return counts


def import_suppliers(db: str, path: str, *, match: bool = True) -> dict[str, Any]:
    """Read the supplier register CSV at ``path`` into the store (merging by name), then match the documents again.

    Returns imported/merged counts, ``problems`` (one "line N: why" per skipped row) and ``matched``
    (match_suppliers' counts; None without ``match``).
    """
    from .register import parse_csv

    parsed = parse_csv(path)
    with open_store(db, create=False) as store:
        counts = store.import_suppliers(parsed.rows)
    matched = match_suppliers(None, db) if match else None
    return {**counts, "problems": parsed.problems, "matched": matched}


def supplier_timeline(db: str, name: str, *, since: str | None = None) -> Any:
    """The timeline of supplier ``name`` (a :class:`reports.timeline.Timeline`); UsageError with close names if unknown."""
    from reports.timeline import build_timeline

    with open_store(db, create=False) as store:
        return build_timeline(store, name, since=since)


def digest_due(config: Config, now: Any = None) -> tuple[str, bool]:
    """Yesterday's UTC day, and whether its digest is due at ``now`` (UTC; default the current time)."""
    from datetime import UTC, datetime, timedelta

    now = now or datetime.now(UTC)
    hour, minute = (int(x) for x in config.digest["send_at"].split(":"))
    return (now - timedelta(days=1)).strftime("%Y-%m-%d"), (now.hour, now.minute) >= (hour, minute)


def run(config: Config, db: str, *, crawl_sources: bool = True, digest_now: bool = False, now: Any = None,
        report: Any = None) -> dict[str, Any]:
    """One unattended round, under the run lock: crawl, classify, cluster, then yesterday's digest when due.

    Each step runs even if an earlier one failed (a dead source or SMTP server must not stop the
    archive growing); the failures are collected and raised together at the end as one error, so
    cron sees a non-zero exit. ``report(step, result)`` is called after each step.
    """
    from store import SupplywatchError

    from .lock import exclusive

    done: dict[str, Any] = {}
    errors: list[str] = []

    def step(name: str, fn: Any) -> Any:
        try:
            done[name] = fn()
        except SupplywatchError as exc:
            done[name] = {"error": str(exc)}
            errors.append(f"{name}: {exc}")
        if report:
            report(name, done[name])
        return done[name]

    with exclusive(db):
        if crawl_sources:
            step("crawl", lambda: crawl(config, db))
        holder: dict[str, Any] = {}

        def _classify() -> dict[str, Any]:
            holder["clf"] = classifier(config)
            return classify(config, db, clf=holder["clf"])

        step("classify", _classify)
        step("cluster", lambda: cluster(config, db, encoder=holder["clf"].encoder if "clf" in holder else None))
        step("suppliers", lambda: match_suppliers(config, db))
        day, due = digest_due(config, now)
        templates = config.digest["templates"] or None
        if not (due or digest_now):
            done["digest"] = {"day": day, "due": False, "send_at": config.digest["send_at"]}
            if report:
                report("digest", done["digest"])
        else:
            if config.digest["out_dir"]:
                step("digest files", lambda: digest(db, day, out=config.digest["out_dir"], templates_dir=templates,
                                                    config=config)["paths"])
            if config.email.get("recipients"):
                step("digest", lambda: send_digest(config, db, day, templates_dir=templates))
            else:
                done["digest"] = {"day": day, "due": True, "note": "no [[email.recipients]] configured: nothing sent"}
                if report:
                    report("digest", done["digest"])
    if errors:
        raise SupplywatchError(f"{len(errors)} step(s) of the run failed: " + " | ".join(errors))
    return done


# -- the browser archive and exports ----------------------------------------------------------------


def serve(db: str, *, host: str = "127.0.0.1", port: int = 8001, ready: Any = None) -> None:
    """Serve the archive read-only in Datasette until Ctrl-C (imports Datasette: only this command does)."""
    from .archive import serve as serve_archive

    serve_archive(db, host=host, port=port, ready=ready)


def _write_atomically(out: str, data: str) -> None:
    import os
    from pathlib import Path

    from store import UsageError

    path = Path(out)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(data, "utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None


def export_feed(db: str, out: str | None, *, label: str | None = None, days: int | None = None,
                supplier: str | None = None) -> dict[str, Any]:
    """The Atom feed of flagged stories, written to ``out`` (returned as ``xml`` when ``out`` is None)."""
    from reports.exports import render_feed

    with open_store(db, create=False) as store:
        xml, entries = render_feed(store, label=label, days=days, supplier=supplier)
    if out is not None:
        _write_atomically(out, xml)
    return {"entries": entries, "path": out, "xml": xml}


def export_stix(db: str, out: str | None, *, label: str | None = None, days: int | None = None,
                supplier: str | None = None) -> dict[str, Any]:
    """The STIX 2.1 bundle of flagged stories, written to ``out`` (returned as ``json`` when ``out`` is None)."""
    import json

    from reports.exports import export_stix as bundle_of

    with open_store(db, create=False) as store:
        bundle = bundle_of(store, label=label, days=days, supplier=supplier)
    text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
    if out is not None:
        _write_atomically(out, text)
    reports = sum(1 for o in bundle["objects"] if o["type"] == "report")
    return {"reports": reports, "objects": len(bundle["objects"]), "path": out, "json": text}
