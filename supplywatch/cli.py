"""The `supplywatch` command line: one click group, every command documented with an example.

Turns every SupplywatchError into a one-line message and its exit code; a traceback is a bug.
Heavy libraries (Scrapy, later torch) are imported inside the commands that need them.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from supplywatch.store import (
    BusyError,
    ConfigError,
    CrawlError,
    DeliveryError,
    InputError,
    StorageError,
    SupplywatchError,
    is_day,
    vocabulary,
)

from . import config as configuration
from .output import echo_csv, echo_json, table
from .pipeline import Pipeline, make_pipeline

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
LABEL_NAMES = vocabulary.label_names()


# The one table of exit statuses, by the error's meaning (the README's "Errors" paragraph says the same).
EXIT_CODES: dict[type[SupplywatchError], int] = {
    ConfigError: 2,
    InputError: 2,
    StorageError: 3,
    CrawlError: 4,
    DeliveryError: 5,
    BusyError: 75,  # EX_TEMPFAIL from sysexits.h: another run holds the lock, try again later
    SupplywatchError: 1,
}


def exit_code(exc: SupplywatchError) -> int:
    """The exit status of ``exc``: its nearest class in EXIT_CODES."""
    return next(EXIT_CODES[cls] for cls in type(exc).__mro__ if cls in EXIT_CODES)


class Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SupplywatchError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exit_code(exc))
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)


class Env:
    """What every command gets from the group's options."""

    def __init__(self, config_path: str | None, db: str | None):
        self.config_path = config_path
        self.db_option = db
        self._config: configuration.Config | None = None

    @property
    def config(self) -> configuration.Config:
        if self._config is None:
            self._config = configuration.load(self.config_path)
        return self._config

    @property
    def db(self) -> str:
        return configuration.db_path(self.db_option)

    def pipeline(self, *, create: bool = False, readonly: bool = False) -> Pipeline:
        """The pipeline over this database; the configuration is loaded only if a stage asks for it.

        ``create=False`` (the default): a missing database is an error, not a new empty one.
        """
        return make_pipeline(lambda: self.config, self.db, create=create, readonly=readonly)


pass_env = click.make_pass_decorator(Env)

# Libraries whose own log lines a user sees only with -vv (Scrapy logs every request at DEBUG).
NOISY = ("scrapy", "twisted", "py.warnings", "trafilatura", "htmldate", "charset_normalizer", "filelock")


def _configure_logging(verbose: int) -> None:
    # Filter on the handler, not the loggers: Scrapy reconfigures logger levels when it starts.
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING if verbose == 0 else logging.DEBUG if verbose > 1 else logging.INFO)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    if verbose < 2:
        handler.addFilter(lambda record: not record.name.startswith(NOISY))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_supplywatch", False)]:
        root.removeHandler(old)
    handler._supplywatch = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(handler.level)


@click.group(cls=Group, context_settings=CONTEXT)
@click.option("--config", "config_path", metavar="FILE", envvar="SUPPLYWATCH_CONFIG",
              help="Configuration file (default ./supplywatch.toml). Example: --config ~/sw/supplywatch.toml")
@click.option("--db", metavar="FILE", envvar="SUPPLYWATCH_DB",
              help="SQLite database (default ./supplywatch.db). Example: --db /var/lib/supplywatch/archive.db")
@click.option("-v", "--verbose", count=True, help="More log output; twice for Scrapy's own log. Example: -vv")
@click.version_option(package_name="supplywatch", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, db: str | None, verbose: int) -> None:
    """supplywatch: know the morning after when one of your suppliers is hit.

    Crawls security news feeds, vendor advisory pages and CSAF advisory feeds into one
    searchable SQLite archive.

    Example: supplywatch init && supplywatch crawl && supplywatch search "signing key"
    """
    _configure_logging(verbose)
    ctx.obj = Env(config_path, db)


@cli.command()
@click.option("--force", is_flag=True, help="Overwrite an existing configuration file. Example: --force")
@pass_env
def init(env: Env, force: bool) -> None:
    """Write a commented starter configuration and create the database.

    The starter lists real security-news feeds, CISA advisories and a few vendor PSIRTs.

    Example: supplywatch init && $EDITOR supplywatch.toml
    """
    from importlib import resources

    path = Path(env.config_path or configuration.DEFAULT_CONFIG)
    if path.exists() and not force:
        raise SupplywatchError(f"{path} already exists (use --force to overwrite)")
    try:
        path.write_text(resources.files("supplywatch").joinpath("starter.toml").read_text("utf-8"), "utf-8")
    except OSError as exc:
        raise SupplywatchError(f"{path}: cannot write: {exc.strerror}") from None
    cfg = configuration.load(path)
    with env.pipeline(create=True) as pipeline:
        pipeline.store.sync_sources(cfg.sources)
    click.echo(f"Wrote {path} ({len(cfg.sources)} sources) and created {env.db}.")
    click.echo("Next: supplywatch crawl")


def _crawl_report(reports: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        echo_json(reports)
        return
    if not reports:
        click.echo("No sources configured: add [[sources]] to the configuration (see supplywatch init).")
        return
    click.echo(table(reports, [("source", "SOURCE"), ("kind", "KIND"), ("status", "STATUS"), ("new", "NEW"),
                               ("updated", "UPDATED"), ("unchanged", "UNCHANGED"), ("failed_pages", "FAILED PAGES"),
                               ("error", "ERROR")]))
    new = sum(r.get("new") or 0 for r in reports)
    failed = [r["source"] for r in reports if r.get("error")]
    click.echo(f"\n{new} new documents; {len(reports) - len(failed)} of {len(reports)} sources healthy.")


@cli.command()
@click.option("--source", "source", metavar="NAME", help="Crawl only this source. Example: --source bleepingcomputer")
@click.option("--force", is_flag=True, help="Crawl sources even while a Retry-After asks us to wait. Example: --force")
@click.option("--json", "as_json", is_flag=True, help="Print the per-source report as JSON. Example: --json")
@pass_env
def crawl(env: Env, source: str | None, force: bool, as_json: bool) -> None:
    """Fetch every configured source and store new and changed documents.

    Feeds use conditional GET, so an unchanged feed costs one cheap request. One failing source
    never stops the others; see `supplywatch sources` for their health.

    Example: supplywatch crawl --source cisa-csaf
    """
    with env.pipeline(create=True) as pipeline:
        _crawl_report(pipeline.crawl(source=source, force=force), as_json)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the health table as JSON. Example: --json")
@pass_env
def sources(env: Env, as_json: bool) -> None:
    """Show each source's health: last status, last success, failures in a row, last error.

    Example: supplywatch sources --json | jq '.[] | select(.consecutive_failures > 2)'
    """
    with env.pipeline() as pipeline:
        rows = pipeline.store.sources()
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No sources yet: run `supplywatch crawl` after configuring [[sources]].")
        return
    click.echo(table(rows, [("name", "SOURCE"), ("kind", "KIND"), ("last_status", "STATUS"),
                            ("http_status", "HTTP"), ("last_success", "LAST SUCCESS"),
                            ("consecutive_failures", "FAILS"), ("documents", "DOCS"), ("last_error", "LAST ERROR")]))


def _check_days(since: str | None, until: str | None) -> None:
    """--since / --until as the user typed them, checked here so the error names the option."""
    for option, value in (("--since", since), ("--until", until)):
        if value is not None and not is_day(value):
            raise InputError(f"{option}: {value!r} is not a date (YYYY-MM-DD)")
    if since and until and since > until:
        raise InputError(f"--since {since} is after --until {until}")


@cli.command()
@click.argument("query")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000),
              help="At most this many results. Example: --limit 5")
@click.option("--label", type=click.Choice(LABEL_NAMES), help="Only documents the classifier flagged with this label. "
              "Example: --label supply_chain_cert_compromise")
@click.option("--min-score", default=0.0, type=click.FloatRange(0, 1),
              help="With --label: only scores at least this high. Example: --min-score 0.8")
@click.option("--supplier", metavar="NAME", help="Only documents matched to this supplier of the register (any case). "
              "Example: --supplier 'Acme Corp'")
@click.option("--source", metavar="NAME", help="Only documents of this source (exact name). Example: --source bleepingcomputer")
@click.option("--since", metavar="YYYY-MM-DD", help="Only documents published on or after this day (UTC). "
              "Example: --since 2026-01-01")
@click.option("--until", metavar="YYYY-MM-DD", help="Only documents published on or before this day (UTC). "
              "Example: --until 2026-01-31")
@click.option("--raw", is_flag=True, help="Parse QUERY as FTS5 syntax: \"phrases\", NEAR(a b, 5), prefix*, AND/OR/NOT, "
              "title:word. Example: --raw 'title:\"signing key\" OR NEAR(stolen certificate, 5)'")
@click.option("--json", "as_json", is_flag=True, help="Print results as a JSON list of objects. Example: --json")
@click.option("--csv", "as_csv", is_flag=True, help="Print results as CSV with a header row (cells that a spreadsheet "
              "would run as a formula are prefixed with '). Example: --csv > hits.csv")
@pass_env
def search(env: Env, query: str, limit: int, label: str | None, min_score: float, supplier: str | None,
           source: str | None, since: str | None, until: str | None, raw: bool, as_json: bool, as_csv: bool) -> None:
    """Full-text search of titles and article text, best match (bm25, title weighted) first, with snippets.

    Your words are searched as words (quotes, NEAR and * have no special meaning) unless --raw.
    The database is opened read-only.

    Example: supplywatch search "stolen certificate" --since 2026-01-01 --label supply_chain_cert_compromise
    """
    if as_json and as_csv:
        raise InputError("--json and --csv cannot be used together")
    _check_days(since, until)
    with env.pipeline(readonly=True) as pipeline:
        rows = pipeline.store.search(query, limit=limit, label=label, min_score=min_score, supplier=supplier, source=source,
                            since=since, until=until, raw=raw)
    if as_json:
        echo_json(rows)
        return
    if as_csv:
        echo_csv(rows, ["id", "published", "source", "title", "url", "snippet", "rank"])
        return
    if not rows:
        click.echo("No matches.")
        return
    for row in rows:
        click.echo(f"#{row['id']}  {(row['published'] or '')[:10]}  [{row['source']}]  {row['title']}")
        click.echo(f"    {' '.join(row['snippet'].split())}")
        click.echo(f"    {row['url'] or ''}")


@cli.command()
@click.option("--relabel", is_flag=True, help="Label every document again, not only new ones. Example: --relabel")
@click.option("--limit", type=click.IntRange(1), help="At most this many documents. Example: --limit 100")
@pass_env
def classify(env: Env, relabel: bool, limit: int | None) -> None:
    """Label every stored document that has no label from the current model version.

    Each document gets a calibrated score for supply_chain_cert_compromise and the topic labels,
    with the sentence that most supports each; a new model version relabels everything.

    Example: supplywatch classify && supplywatch search key --label supply_chain_cert_compromise
    """
    with env.pipeline(create=True) as pipeline:
        result = pipeline.classify(relabel=relabel, limit=limit)
    flagged = ", ".join(f"{k} {v}" for k, v in sorted(result.flagged.items())) or "none"
    click.echo(f"Labelled {result.documents} documents with model {result.model_version}; flagged: {flagged}.")


@cli.command()
@click.option("--rebuild", is_flag=True, help="Forget every story and cluster the whole archive again. Example: --rebuild")
@click.option("--story", "story_id", type=int, metavar="ID", help="Show one story and its documents instead. Example: --story 12")
@click.option("--json", "as_json", is_flag=True, help="Print the counts (or the story) as JSON. Example: --json")
@pass_env
def cluster(env: Env, rebuild: bool, story_id: int | None, as_json: bool) -> None:
    """Group documents about the same event into stories: across outlets, and follow-ups within the window.

    Two documents are one story when their title+lead embeddings are very close, or close and
    their titles share distinctive names; each new document joins the best story of the last
    [classifier] story_window_days days, or starts its own. The digest shows one item per story.

    Example: supplywatch cluster && supplywatch cluster --story 3
    """
    if story_id is not None:
        with env.pipeline() as pipeline:
            story = pipeline.store.story(story_id)
        if story is None:
            raise InputError(f"no story with id {story_id}")
        if as_json:
            echo_json(story)
            return
        click.echo(f"Story {story['id']}: {story['title']}  ({story['documents']} documents, "
                   f"{story['first_published']} .. {story['last_published']})")
        click.echo(table(story["members"], [("id", "ID"), ("published", "PUBLISHED"), ("source", "SOURCE"),
                                            ("reason", "WHY"), ("similarity", "SIM"), ("title", "TITLE")], max_width=70))
        return
    with env.pipeline(create=True) as pipeline:
        counts = pipeline.cluster(rebuild=rebuild).as_dict()
    if as_json:
        echo_json(counts)
        return
    click.echo(f"Clustered {counts['documents']} documents: {counts['new_stories']} new stories, "
               f"{counts['joined']} joined a story." + (f" (Forgot {counts['reset']} stories first.)" if rebuild else ""))


@cli.command()
@click.argument("doc_id", type=int)
@click.argument("label", type=click.Choice(LABEL_NAMES))
@click.option("--yes/--no", "value", required=True, help="Whether the label applies. Example: --no")
@click.option("--note", default="", help="Why, for the record. Example: --note 'expiry outage, no theft'")
@pass_env
def label(env: Env, doc_id: int, label: str, value: bool, note: str) -> None:
    """Record an analyst's correction of a label; `supplywatch train` learns from it.

    Example: supplywatch label 42 supply_chain_cert_compromise --no --note "TLS bug, nothing stolen"
    """
    from supplywatch.store import utcnow

    with env.pipeline() as pipeline:
        pipeline.store.add_correction(doc_id, label, value, utcnow(), note)
    click.echo(f"Recorded: document {doc_id} {'is' if value else 'is not'} {label}.")


@cli.command()
@click.option("--data", "data", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Labelled JSONL to train on as well (fields title, text, labels, categories). "
                   "Example: --data ../shared/eval/dev.jsonl")
@click.option("--until", metavar="DATE", help="Use only --data articles published before DATE. Example: --until 2015")
@click.option("--no-examples", is_flag=True, help="Leave out the project's own examples. Example: --no-examples")
@click.option("--out", default="supplywatch-head", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the new head (classify uses ./supplywatch-head when present). Example: --out heads/v2")
@pass_env
def train(env: Env, data: tuple[str, ...], until: str | None, no_examples: bool, out: str) -> None:
    """Fit a new classifier head on the project's examples, your corrections and any JSONL you pass.

    Takes minutes on a laptop CPU; writes a new model version, so the next classify relabels.

    Example: supplywatch train --data my-labelled.jsonl --out supplywatch-head
    """
    with env.pipeline(create=True) as pipeline:
        head = pipeline.train(data=list(data), out=out, include_examples=not no_examples, until=until)
    click.echo(f"Wrote head {head.version} to {out}/ ({head.manifest['examples']} examples, "
               f"{head.manifest['positives']} positive); threshold {head.threshold:.3f}.")


@cli.command(name="eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--head", metavar="DIR", help="Head folder to measure (default: the one classify uses). Example: --head heads/v2")
@click.option("--since", metavar="DATE", help="Only articles published on or after DATE. Example: --since 2015")
@click.option("--until", metavar="DATE", help="Only articles published before DATE. Example: --until 2018")
@click.option("--no-memory", is_flag=True, help="Score each article alone, without the incident memory. Example: --no-memory")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object. Example: --json")
@pass_env
def eval_cmd(env: Env, file: str, head: str | None, since: str | None, until: str | None, no_memory: bool,
             as_json: bool) -> None:
    """Measure the classifier on labelled articles: precision, recall, F1 per label, and a keyword baseline.

    Never trains on FILE. Articles are processed in publication order, as the pipeline meets them.

    Example: supplywatch eval ../shared/eval/dev.jsonl --since 2015 --json
    """
    with env.pipeline() as pipeline:
        result = pipeline.evaluate(file, head=head, since=since, until=until, memory=not no_memory)
    if as_json:
        echo_json(result)
        return
    rows = [{"label": name, **vals} for name, vals in result["labels"].items()]
    rows += [{"label": name, **vals} for name, vals in result["categories"].items() if isinstance(vals, dict)]
    rows += [{"label": f"baseline: {name}", **vals} for name, vals in result["baseline"]["labels"].items()]
    click.echo(table(rows, [("label", "LABEL"), ("precision", "P"), ("recall", "R"), ("f1", "F1"),
                            ("support", "SUPPORT"), ("threshold", "THRESHOLD")]))
    click.echo(f"\ntopic macro-F1 {result['categories']['macro_f1']}; {result['n']} articles, "
               f"{result['docs_per_second']} documents/s; model {result['model_version']}")


@cli.command()
@click.option("--out", default="demo-output", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the demo database and config. Example: --out /tmp/sw-demo")
@click.option("--port", default=0, type=click.IntRange(0, 65535),
              help="Port for the demo site on 127.0.0.1 (0: any free port). Example: --port 8639")
@click.option("--serve", is_flag=True, help="Keep serving the demo site after the crawl, until Ctrl-C. Example: --serve")
def demo(out: str, port: int, serve: bool) -> None:
    """Serve the embedded demo site on 127.0.0.1, crawl it into a fresh demo database, show the result.

    No internet needed: three news outlets (RSS 2.0, Atom, RSS 1.0), a paginated vendor advisory
    index and a CSAF ROLIE feed, all local.

    Example: supplywatch demo --out demo-output
    """
    from .demo import run_demo

    run_demo(Path(out), port=port, serve=serve)


@cli.command()
@click.option("--date", "day", metavar="YYYY-MM-DD",
              help="The UTC day whose documents to report (default: yesterday, UTC). Example: --date 2021-01-12")
@click.option("--out", metavar="DIR", type=click.Path(file_okay=False),
              help="Write digest-DATE.html, digest-DATE.txt and digest-DATE.eml (the message as --send would mail it) "
                   "into DIR and print their paths, instead of printing the text. Example: --out digests/")
@click.option("--send", is_flag=True,
              help="Mail the digest to the [[email.recipients]] of the configuration; each gets a day's digest once. "
                   "Example: --send")
@click.option("--to", metavar="ADDRESS",
              help="With --send: mail only this address, instead of the configured recipients. "
                   "Example: --to alice@example.com")
@click.option("--force", is_flag=True,
              help="With --send: mail again recipients who already have the day's digest, and send even when no "
                   "documents are stored for the day. Example: --send --force")
@pass_env
def digest(env: Env, day: str | None, out: str | None, send: bool, to: str | None, force: bool) -> None:
    """The daily digest: one day's flagged documents, supply-chain compromises first, then the topics.

    Each item has its sources, date, label, score, evidence sentence and the actions asked of
    customers; failing sources close the digest. Prints the plain text unless --out or --send is
    given. --send mails it over SMTP ([email] in the configuration) and prints one line per
    recipient; a recipient is marked sent only once the server accepted the message, and a
    failed delivery is retried by the next --send.

    Example: supplywatch digest --date 2021-01-12 --send
    """
    if (to or force) and not send:
        raise InputError("--to and --force go with --send")
    _ = env.config  # a bad configuration is an error before anything is read, as it always was
    with env.pipeline() as pipeline:
        if out is not None or not send:
            result = pipeline.digest(day, out=out)
            if out is None:
                click.echo(result["text"], nl=False)
            for path in result["paths"]:
                click.echo(path)
        if send:
            sent = pipeline.send_digest(day, to=to, force=force, report=_delivery_line)
            click.echo(f"Digest of {sent['day']}: {sent['sent']} sent, {sent['skipped']} already sent.")


@cli.group(cls=Group, context_settings=CONTEXT)
def suppliers() -> None:
    """The supplier register: the companies whose incidents you must hear about, with aliases, domains and products.

    Documents naming a supplier (name, alias or product as a whole word; a domain in a link) are
    matched as they arrive (`supplywatch run`) and all again whenever the register changes.

    Example: supplywatch suppliers import suppliers.csv && supplywatch suppliers list
    """


@suppliers.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False))
@pass_env
def suppliers_import(env: Env, file: str) -> None:
    """Add the suppliers of a CSV file to the register, then match every document against it again.

    Columns: name,aliases,domains,products,tier,owner; aliases, domains and products separated by
    ";". A supplier already registered (same name, any case) is merged: the lists are joined, a
    given tier or owner replaces the old one. Bad rows are reported by line number and skipped.

    Example: supplywatch suppliers import suppliers.csv
    """
    with env.pipeline() as pipeline:
        result = pipeline.import_suppliers(file)
    for problem in result["problems"]:
        click.echo(f"{file}: {problem} (skipped)", err=True)
    matched = result["matched"]
    click.echo(f"Imported {result['imported']} suppliers, merged {result['merged']} into existing ones"
               + (f", skipped {len(result['problems'])} bad rows" if result["problems"] else "") + "; "
               f"matched {matched['documents']} documents ({matched['matches']} matches).")


@suppliers.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print the register as JSON. Example: --json")
@pass_env
def suppliers_list(env: Env, as_json: bool) -> None:
    """Show the register: each supplier's aliases, domains, products, tier, owner and matched documents.

    Example: supplywatch suppliers list --json | jq '.[] | select(.tier == "1")'
    """
    with env.pipeline() as pipeline:
        rows = pipeline.store.suppliers()
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No suppliers yet: supplywatch suppliers import FILE.csv")
        return
    shown = [{**r, **{k: "; ".join(r[k]) for k in ("aliases", "domains", "products")}} for r in rows]
    click.echo(table(shown, [("name", "NAME"), ("aliases", "ALIASES"), ("domains", "DOMAINS"), ("products", "PRODUCTS"),
                             ("tier", "TIER"), ("owner", "OWNER"), ("documents", "DOCS")], max_width=40))


@suppliers.command(name="match")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON. Example: --json")
@pass_env
def suppliers_match(env: Env, as_json: bool) -> None:
    """Match the documents that are new or edited since the last match (`supplywatch run` does this after each crawl).

    Example: supplywatch crawl && supplywatch suppliers match && supplywatch supplier Acme
    """
    with env.pipeline() as pipeline:
        counts = pipeline.match_suppliers().as_dict()
    if as_json:
        echo_json(counts)
        return
    click.echo(f"Matched {counts['documents']} documents against {counts['suppliers']} suppliers: "
               f"{counts['matches']} matches.")


@suppliers.command(name="remove")
@click.argument("name")
@pass_env
def suppliers_remove(env: Env, name: str) -> None:
    """Remove a supplier (by name, any case) from the register, with its matches.

    Example: supplywatch suppliers remove "Acme Corp"
    """
    from supplywatch.reports.timeline import unknown_supplier

    with env.pipeline() as pipeline:
        removed = pipeline.store.remove_supplier(name)
        if removed is None:
            raise unknown_supplier(name, pipeline.store.suppliers())
    click.echo(f"Removed {removed['name']} and its {removed['matches']} matches.")


@cli.command()
@click.argument("name")
@click.option("--since", metavar="DATE", help="Only documents published on or after DATE. Example: --since 2021-01-01")
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as JSON. Example: --json")
@click.option("--html", "html_file", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write the timeline as an HTML page to FILE. Example: --html acme.html")
@pass_env
def supplier(env: Env, name: str, since: str | None, as_json: bool, html_file: str | None) -> None:
    """A supplier's stories over time: each with its labels, scores, evidence and sources, oldest first.

    NAME is the supplier's name or one of its aliases, in any case. Documents of one story (see
    `supplywatch cluster`) are one entry; a story is "subject" when a document names the supplier
    in its title or lead, else "mentioned".

    Example: supplywatch supplier Quillmail --since 2021-01-01 --html quillmail.html
    """
    from supplywatch.reports.timeline import render_timeline_html, timeline_text

    if as_json and html_file:
        raise InputError("--json and --html cannot be used together")
    from supplywatch.reports.timeline import build_timeline

    with env.pipeline() as pipeline:
        timeline = build_timeline(pipeline.store, name, since=since)
    if as_json:
        echo_json(timeline.as_dict())
        return
    if html_file:
        try:
            Path(html_file).write_text(render_timeline_html(timeline), "utf-8")
        except OSError as exc:
            raise SupplywatchError(f"{html_file}: cannot write: {exc.strerror or exc}") from None
        click.echo(html_file)
        return
    click.echo(timeline_text(timeline), nl=False)


def _delivery_line(result: dict[str, Any]) -> None:
    status, who = result["status"], result["recipient"]
    if status == "sent":
        click.echo(f"{who}: sent")
    elif status == "skipped":
        click.echo(f"{who}: already sent, skipped (--force sends it again)")
    else:
        click.echo(f"{who}: {status}: {result['error']}")


def _run_line(step: str, result: Any) -> None:
    if isinstance(result, dict) and "error" in result:
        line = f"failed: {result['error']}"
    elif step == "crawl":
        failed = [r["source"] for r in result if r.get("status") not in ("ok", "not_modified", "skipped")]
        line = f"{len(result)} sources, {sum(r.get('new') or 0 for r in result)} new documents" + (
            f"; failing: {', '.join(failed)}" if failed else "")
    elif step == "classify":
        line = f"{result['documents']} documents labelled"
    elif step == "cluster":
        line = f"{result['documents']} documents: {result['new_stories']} new stories, {result['joined']} joined one"
    elif step == "suppliers":
        line = (f"{result['documents']} documents matched against {result['suppliers']} suppliers, "
                f"{result['matches']} matches")
    elif step == "digest files":
        line = " ".join(result)
    elif step == "digest" and "results" in result:
        line = f"{result['day']}: sent {result['sent']}, already sent {result['skipped']}"
    elif step == "digest" and not result.get("due", True):
        line = f"{result['day']}: not due before {result['send_at']} UTC"
    else:
        line = f"{result.get('day', '')}: {result.get('note', '')}"
    click.echo(f"{step:>12}: {line}")


@cli.command()
@click.option("--no-crawl", is_flag=True, help="Skip the crawl (label, cluster and send only). Example: --no-crawl")
@click.option("--digest-now", is_flag=True,
              help="Make yesterday's digest now even before [digest] send_at. Example: --digest-now")
@pass_env
def run(env: Env, no_crawl: bool, digest_now: bool) -> None:
    """One unattended round: crawl, classify, cluster, and send yesterday's digest once it is due.

    Runs under a lock beside the database, so overlapping cron runs cannot collide (a second one
    exits 75 at once). A failing step does not stop the others; any failure makes the exit
    non-zero. The digest goes out at the first run at or after [digest] send_at (UTC), to each
    recipient once; later runs that day retry only recipients that failed.

    Example: supplywatch --config /etc/supplywatch.toml run
    """
    with make_pipeline(env.config, env.db) as pipeline:
        pipeline.run(crawl_sources=not no_crawl, digest_now=digest_now, report=_run_line)


@cli.command()
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port). Example: --port 8080")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; the archive has no login, so keep it on loopback. Example: --host 127.0.0.1")
@pass_env
def serve(env: Env, port: int, host: str) -> None:
    """Browse and search the archive in a web browser (Datasette), read-only, until Ctrl-C.

    Full-text search of documents, facets by source, kind, label and supplier, and canned
    queries (supply-chain certificate compromises of the last 30 days, documents by month,
    stories for a supplier). The database file is opened read-only: nothing is written to it.

    Example: supplywatch serve --port 8001  (then open http://127.0.0.1:8001/archive)
    """

    def ready(url: str) -> None:
        click.echo(f"Serving {env.db} read-only at {url}  (Ctrl-C to stop)")

    with env.pipeline(readonly=True) as pipeline:
        pipeline.output("archive", host=host, port=port, ready=ready)


def _story_filters(fn: Any) -> Any:
    """The options that choose which flagged stories an export carries (feed and stix alike)."""
    for option in reversed([
        click.option("--supplier", metavar="NAME", help="Only stories matched to this supplier. Example: --supplier SolarWinds"),
        click.option("--label", type=click.Choice(LABEL_NAMES),
                     help="Only stories flagged with this label. Example: --label supply_chain_cert_compromise"),
        click.option("--days", type=click.IntRange(1), metavar="N",
                     help="Only stories with a document from the last N days. Example: --days 30"),
    ]):
        fn = option(fn)
    return fn


@cli.command()
@click.option("--out", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write the feed to FILE (default: print it). Example: --out alerts.xml")
@_story_filters
@pass_env
def feed(env: Env, out: str | None, supplier: str | None, label: str | None, days: int | None) -> None:
    """Export flagged stories as an Atom 1.0 feed, one entry per story, for feed readers and chat bots.

    Each entry links the best document, carries the evidence sentence and sources, and has one
    category per flagged label with its score; entry ids stay the same across exports.

    Example: supplywatch feed --out alerts.xml --label supply_chain_cert_compromise --days 30
    """
    with env.pipeline() as pipeline:
        result = pipeline.output("atom", out=out, label=label, days=days, supplier=supplier)
    if out is None:
        click.echo(result["xml"], nl=False)
    else:
        click.echo(f"Wrote {out} ({result['entries']} stories).")


@cli.command()
@click.option("--out", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write the bundle to FILE (default: print it). Example: --out bundle.json")
@_story_filters
@pass_env
def stix(env: Env, out: str | None, supplier: str | None, label: str | None, days: int | None) -> None:
    """Export flagged stories as a STIX 2.1 bundle for OpenCTI, MISP and other threat-intel platforms.

    One report per story (evidence, labels, document URLs), referring to the suppliers it names
    (or the documents' vendors) and its CVEs. Ids derive from story ids, so importing a later
    export updates the same objects instead of duplicating them.

    Example: supplywatch stix --out bundle.json --days 7
    """
    with env.pipeline() as pipeline:
        result = pipeline.output("stix", out=out, label=label, days=days, supplier=supplier)
    if out is None:
        click.echo(result["json"], nl=False)
    else:
        click.echo(f"Wrote {out} ({result['reports']} reports, {result['objects']} objects).")


def main() -> None:
    cli(prog_name="supplywatch")


if __name__ == "__main__":
    main()
