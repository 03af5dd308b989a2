"""The composition root: one :class:`Pipeline`, made once from the configuration, owns the store, the
classifier (loaded on first use) and the stages. The CLI, `run` and the demo all go through it.

Each stage's loop lives in its own package and returns a result object; this module only wires them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from supplywatch.store import CrawlError, InputError, StorageError, Store, SupplywatchError

from .config import Config
from .progress import Reporter


class CrawlNotStored(StorageError):
    """The crawl ran but some sources' documents could not be written; ``reports`` still has every source's."""

    def __init__(self, message: str, reports: list[dict[str, Any]]):
        super().__init__(message)
        self.reports = reports


class Pipeline:
    """``config``: the Config, or a function that loads it when a stage first needs it (search never does).

    ``store`` / ``classifier``: parts already made (a real store opened read-only, a fake classifier);
    ``sink``: where crawled documents go (a :class:`crawlers.DocumentSink`; default the store writer).
    ``create=False`` refuses a missing database; ``readonly`` opens it read-only (search, serve).
    ``progress``: a :class:`supplywatch.progress.Reporter` that sees each long stage (default: silent).
    """

    def __init__(self, config: Config | Callable[[], Config], db: str, *, store: Store | None = None,
                 classifier: Any = None, sink: Any = None, create: bool = True, readonly: bool = False,
                 progress: Reporter | None = None):
        self._config, self.db, self.sink = config, db, sink
        self.progress = progress or Reporter()
        self._store, self._classifier = store, classifier
        self._encoder: Any = None
        self._create, self._readonly = create, readonly

    @property
    def config(self) -> Config:
        if callable(self._config):
            self._config = self._config()
        return self._config

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store.open_readonly(self.db) if self._readonly else Store.open(self.db, create=self._create)
        return self._store

    @property
    def classifier(self) -> Any:
        """The encoder and head as configured (loads torch and the model: only stages that label call this)."""
        if self._classifier is None:
            from supplywatch.classifiers import Classifier

            opts = self.config.classifier
            self._classifier = Classifier(opts["model"] or None, opts["head"] or None, batch_size=opts["batch_size"],
                                          max_length=opts["max_length"], backend=opts["backend"],
                                          embedding_cache=opts["embedding_cache"], encoder=self._encoder)
        return self._classifier

    def encoder(self) -> Any:
        """The classifier's encoder once it is loaded, else the encoder alone (clustering needs no head), which
        the classifier then takes over: `run` clusters before it classifies, and loads the model once."""
        if self._classifier is not None:
            return self._classifier.encoder
        if self._encoder is None:
            from supplywatch.classifiers.encoder import Encoder

            opts = self.config.classifier
            self._encoder = Encoder(opts["model"] or None, batch_size=opts["batch_size"], max_length=opts["max_length"],
                                    backend=opts["backend"])
        return self._encoder

    def _embedding_cache(self, encoder: Any) -> Any:
        """The sentence-embedding cache across runs for ``encoder`` (None when [classifier] embedding_cache = 0)."""
        from supplywatch.store.embcache import for_encoder

        return for_encoder(encoder.identity, self.config.classifier["embedding_cache"])

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the stages ----------------------------------------------------------------------------------

    def crawl(self, *, source: str | None = None, force: bool = False, names: list[str] | None = None) -> list[dict[str, Any]]:
        """Sync the configured sources into the store, then crawl them (or the one named, or those in ``names``)."""
        from supplywatch.crawlers import run_crawl

        names = [source] if source else names
        sources = [self.config.source(name) for name in names] if names else self.config.sources
        self.store.sync_sources(self.config.sources)
        reports = []
        if sources:
            with self.progress.stage("crawl", unit="sources") as tick:
                tick(0, len(sources))
                reports = run_crawl(self.db, sources, self.config.crawl, force=force, sink=self.sink, progress=tick)
        self.store.refresh_search_index()  # a large archive's search side index catches up now, not at a search
        unstored = [r for r in reports if r.get("status") == "store_error"]
        if unstored:
            # Fetched but not kept is the database's failure, not the sources': the command fails (exit 3).
            names = ", ".join(r["source"] for r in unstored[:5]) + (" ..." if len(unstored) > 5 else "")
            raise CrawlNotStored(f"{len(unstored)} of {len(reports)} sources could not be stored ({names}): "
                                 f"{unstored[0].get('error') or 'storage failed'}", reports)
        return reports

    def enqueue_crawl(self) -> dict[str, int]:
        """Scale mode: push the due sources to the crawl workers."""
        from .scale import enqueue_sources

        return self._on_redis(lambda server, keys: enqueue_sources(server, keys, self.db, self.config.sources))

    def enqueue_classify(self) -> dict[str, int]:
        """Scale mode: queue unlabelled documents in batches for the classify workers."""
        from .scale_jobs import enqueue_classify

        return self._on_redis(lambda server, keys: enqueue_classify(server, keys, self.db, self.config))

    def _on_redis(self, fn: Callable[[Any, Any], Any]) -> Any:
        """``fn(server, keys)`` on a connection to the configured Redis, closed afterwards."""
        from .scale import connect

        server, keys, _ = connect(self.config.scale)
        try:
            return fn(server, keys)
        finally:
            server.close()

    def classify(self, *, relabel: bool = False, limit: int | None = None) -> Any:
        from supplywatch.classifiers.labelling import classify_archive

        classifier = self.classifier  # the model's errors before the database's, as always
        with self.progress.stage("classify") as tick:
            return classify_archive(self.store, classifier, relabel=relabel, limit=limit, progress=tick)

    def cluster(self, *, rebuild: bool = False, batch: int | None = None) -> Any:
        from supplywatch.classifiers.clustering import BATCH, cluster_archive

        encoder = self.encoder()
        with self.progress.stage("cluster") as tick:
            return cluster_archive(self.store, encoder, window_days=self.config.classifier["story_window_days"],
                                   rebuild=rebuild, batch=batch or BATCH, progress=tick)

    def match_suppliers(self) -> Any:
        from supplywatch.classifiers.suppliers import match_archive

        with self.progress.stage("suppliers match") as tick:
            return match_archive(self.store, progress=tick)

    def import_suppliers(self, path: str, *, match: bool = True) -> dict[str, Any]:
        """Read the register CSV at ``path`` into the store (merging by name), then match the documents again.

        Returns imported/merged counts, ``problems`` (one "line N: why" per skipped row) and ``matched``.
        """
        from supplywatch.classifiers.register import parse_csv

        parsed = parse_csv(path)
        counts = self.store.import_suppliers(parsed.rows)
        matched = self.match_suppliers().as_dict() if match else None
        return {**counts, "problems": parsed.problems, "matched": matched}

    def train(self, *, data: list[str], out: str, include_examples: bool = True, until: str | None = None,
              whose_key: bool = False) -> Any:
        """Fit a new head on the project's examples, analysts' corrections and labelled JSONL files; save it in ``out``
        (``whose_key``: with the sentence model of :mod:`supplywatch.classifiers.ownership`)."""
        from pathlib import Path

        from supplywatch.classifiers.train import train_head, training_rows

        corrections = self.store.corrections() if Path(self.db).exists() else []
        rows, sources = training_rows(data, corrections=corrections, include_examples=include_examples, until=until)
        with self.progress.stage("train") as tick:
            return train_head(rows, sources, self.encoder, out, progress=tick, ownership=whose_key,
                              cache=self._embedding_cache)

    def answer(self, doc_id: int, value: bool, note: str = "") -> dict[str, Any] | None:
        """An analyst's answer on a document's headline label, applied to its incident (no model is loaded)."""
        from supplywatch.classifiers.labelling import answer

        return answer(self.store, doc_id, value, note)

    def evaluate(self, path: str, *, head: str | None = None, since: str | None = None, until: str | None = None,
                 memory: bool = True, folds: str | None = None, allow_overlap: bool = False,
                 warn: Callable[[str], None] | None = None, progress: Any = None,
                 analyst: tuple[int, ...] = (), whose_key: bool = False, errors: bool = False) -> dict[str, Any]:
        """Measure a fitted head on ``path``; refuse (InputError) when the head was fitted on it.

        ``allow_overlap``: measure anyway; ``warn`` gets the warning and the result carries ``training_overlap``.
        With ``folds`` ("incident", "time"), fit one head per fold from ``path`` and the project's examples and
        measure each on what it never saw (:func:`supplywatch.classifiers.folds.evaluate_folds`; the time split
        cuts at ``since``, default 2015; ``analyst``: also with a simulated analyst answering N items a week).
        ``errors``: also the articles the headline got wrong, with score, threshold, reason and evidence.
        """
        from supplywatch.classifiers import Head, resolve_head
        from supplywatch.classifiers.evaluate import evaluate, read_jsonl, training_overlap
        from supplywatch.classifiers.features import Featurizer

        if folds:
            from supplywatch.classifiers.folds import check_incidents, evaluate_folds

            rows = read_jsonl(path, until=until)
            if folds == "incident":
                check_incidents(rows, path)  # before the model loads
            encoder = self.encoder()
            # every sentence (select off): the folds fit prototypes and features from all of them, as `train` does
            with self.progress.stage("eval (encoding)") as tick:
                return evaluate_folds(rows, Featurizer(encoder, tick, cache=self._embedding_cache(encoder)), folds=folds,
                                      cut=since or "2015", encoder_name=encoder.name, progress=progress, analyst=analyst,
                                      ownership=whose_key, errors=errors)
        rows = read_jsonl(path, since=since, until=until)
        folder = resolve_head(head or self.config.classifier["head"] or None)
        fitted = Head.load(folder)
        overlap = training_overlap(fitted.manifest, path, since=since)
        if overlap is not None:
            why = (f"{path} overlaps the data head {folder} was fitted on (its manifest lists {overlap!r}), so "
                   f"its figures would be in-sample")
            if not allow_overlap:
                raise InputError(f"{why}; measure the held-out head instead ({_held_out(path)}), "
                                 f"or pass --allow-training-overlap")
            if warn is not None:
                warn(f"WARNING: {why}: they do not measure the model on new articles.")
        encoder = self.encoder()
        # select on, as `classify` does: eval measures what users get
        with self.progress.stage("eval") as tick:
            tick(0, len(rows))
            result = evaluate(rows, fitted, Featurizer(encoder, lambda done: tick(done, len(rows)), select=True,
                                                       lead=fitted.embedded_lead, cache=self._embedding_cache(encoder)),
                              memory=memory, errors=errors)
        return {**result, "training_overlap": overlap} if overlap is not None else result

    # -- outputs -------------------------------------------------------------------------------------

    def output(self, name: str, **options: Any) -> Any:
        """Hand the store to the output registered as ``name`` (see :mod:`reports.outputs`)."""
        from supplywatch.reports.outputs import OUTPUTS

        return OUTPUTS[name](self.store, **options)

    def email(self) -> dict[str, Any]:
        from .config import packaged_defaults

        return self.config.email or {**packaged_defaults()["email"], "recipients": []}

    def digest(self, day: str | None = None, *, out: str | None = None) -> dict[str, Any]:
        from supplywatch.reports.digest import parse_day

        return self.output("files", day=parse_day(day), out=out, email=self.email(),
                           templates_dir=self.config.digest["templates"] or None)

    def send_digest(self, day: str | None = None, *, to: str | None = None, force: bool = False, report: Any = None,
                    environ: dict[str, str] | None = None, unattended: bool = False) -> dict[str, Any]:
        """Mail the digest of ``day`` (default yesterday UTC) to the configured recipients, or to ``to`` alone."""
        import os

        from supplywatch.reports import mail
        from supplywatch.reports.digest import parse_day

        from .config import check_address

        day, opts = parse_day(day), self.email()
        if to is not None:
            try:
                recipients = [mail.Recipient(check_address(to))]
            except ValueError as exc:
                raise InputError(f"--to: {exc}") from None
        else:
            recipients = [mail.Recipient.from_config(r) for r in opts.get("recipients", [])]
        if not recipients:
            where = self.config.path or "the configuration"
            raise InputError(f"{where}: no recipients: add [[email.recipients]] with an address, or pass --to ADDRESS")
        return self.output("mail", day=day, recipients=recipients, email=opts, force=force, report=report,
                           environ=os.environ if environ is None else environ, unattended=unattended,
                           templates_dir=self.config.digest["templates"] or None)

    # -- one unattended round ------------------------------------------------------------------------

    def run(self, *, crawl_sources: bool = True, digest_now: bool = False, now: Any = None,
            report: Any = None) -> dict[str, Any]:
        """One round, under the run lock: crawl, cluster, classify, match suppliers, then yesterday's digest when due.

        Clustering comes before classifying so that a new document clustered into the story of an incident's
        member is labelled as that incident's follow-up (:mod:`supplywatch.classifiers.incidents`).

        Each step runs even if an earlier one failed (a dead source or SMTP server must not stop the
        archive growing); the failures are raised together at the end as one error, so cron sees a
        non-zero exit. ``report(step, result)`` is called after each step with the result as a dict.
        """
        from .lock import exclusive

        done: dict[str, Any] = {}
        errors: list[str] = []
        kinds: set[type[SupplywatchError]] = set()

        def step(name: str, fn: Any) -> None:
            try:
                result = fn()
                done[name] = result.as_dict() if hasattr(result, "as_dict") else result
            except SupplywatchError as exc:
                done[name] = {"error": str(exc)}
                errors.append(f"{name}: {exc}")
                kinds.add(StorageError if isinstance(exc, StorageError) else type(exc))
            if report:
                report(name, done[name])

        # Scale mode ([scale] redis_url): crawl and classify are queued for the workers (supplywatch/scale.py);
        # what they produce reaches the store through the writer, and the next round clusters it.
        scaled = bool(self.config.scale.get("redis_url"))
        with exclusive(self.db):
            if crawl_sources:
                step("crawl", self.enqueue_crawl if scaled else self.crawl)
                failure = crawl_failure(done["crawl"]) if isinstance(done["crawl"], list) else None
                if failure is not None:
                    errors.append(f"crawl: {failure}")
            step("cluster", self.cluster)
            step("classify", self.enqueue_classify if scaled else self.classify)
            step("suppliers", self.match_suppliers)
            day, due = digest_due(self.config, now)
            if not (due or digest_now):
                step("digest", lambda: {"day": day, "due": False, "send_at": self.config.digest["send_at"]})
            else:
                if self.config.digest["out_dir"]:
                    step("digest files", lambda: self.digest(day, out=self.config.digest["out_dir"])["paths"])
                if self.config.email.get("recipients"):
                    step("digest", lambda: self.send_digest(day, unattended=True))
                else:
                    step("digest", lambda: {"day": day, "due": True,
                                            "note": "no [[email.recipients]] configured: nothing sent"})
        if errors:
            # Failures of one meaning keep it (a storage failure exits 3, a dead crawler 4); mixed ones exit 1.
            kind = kinds.pop() if len(kinds) == 1 else SupplywatchError
            raise kind(f"{len(errors)} step(s) of the run failed: " + " | ".join(errors))
        return done


def _held_out(path: str) -> str:
    """How to measure the packaged time-split head on ``path`` without overlap: its --head and --since."""
    from pathlib import Path

    from supplywatch.classifiers import PACKAGED_HEAD, Head
    from supplywatch.classifiers.evaluate import training_overlap

    folder = PACKAGED_HEAD.parent / "head-timesplit"
    try:
        shown = folder.relative_to(Path.cwd())
    except ValueError:
        shown = folder
    try:
        manifest = Head.load(folder).manifest
    except SupplywatchError:
        return f"--head {shown}"
    entry = training_overlap(manifest, path)
    cut = entry.rsplit("before ", 1)[1].rstrip(")") if entry and "before " in entry else None
    return f"--head {shown}" + (f" --since {cut}" if cut else "")


def crawl_failure(reports: list[dict[str, Any]]) -> CrawlError | None:
    """The error of a crawl in which not one source was healthy, else None.

    A partial failure is not an error of the crawl: it stored what it got and the health table says the rest.
    """
    failed = [r for r in reports if r.get("error")]
    if not reports or len(failed) < len(reports):
        return None
    why = "; ".join(f"{r['source']}: {' '.join(str(r['error']).split())}" for r in failed[:3])
    more = f"; and {len(failed) - 3} more" if len(failed) > 3 else ""
    return CrawlError(f"0 of {len(reports)} sources healthy: {why}{more}")


def make_pipeline(config: Config, db: str, **parts: Any) -> Pipeline:
    """The one way to build the pipeline (see :class:`Pipeline` for ``parts``)."""
    return Pipeline(config, db, **parts)


def digest_due(config: Config, now: Any = None) -> tuple[str, bool]:
    """Yesterday's UTC day, and whether its digest is due at ``now`` (UTC; default the current time)."""
    from datetime import UTC, datetime, timedelta

    now = now or datetime.now(UTC)
    hour, minute = (int(x) for x in config.digest["send_at"].split(":"))
    return (now - timedelta(days=1)).strftime("%Y-%m-%d"), (now.hour, now.minute) >= (hour, minute)
