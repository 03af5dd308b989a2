"""`supplywatch` commands over the archive: init, crawl, sources, search, serve, and the exports feed and stix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from supplywatch.store import ConfigError, InputError, QuerySyntaxError, StorageError

from . import config as configuration
from .cli import DATE, LABEL_NAMES, Env, Period, check_order, cli, pass_env
from .output import echo_csv, echo_json, table
from .pipeline import crawl_failure


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
        raise InputError(f"{path} exists; --force to overwrite")
    try:
        path.write_text(resources.files("supplywatch").joinpath("starter.toml").read_text("utf-8"), "utf-8")
    except OSError as exc:
        raise StorageError(f"{path}: cannot write: {exc.strerror}") from None
    cfg = configuration.load(path)
    with env.pipeline(create=True) as pipeline:
        pipeline.store.sync_sources(cfg.sources)
    click.echo(f"Wrote {path} ({len(cfg.sources)} sources) and created {env.db}.")
    click.echo("Next: supplywatch crawl")


def _crawl_report(reports: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        echo_json(reports)
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
    never stops the others (see `supplywatch sources` for their health); when not one source is
    healthy the crawl exits 4. Needs a configuration file: without one nothing is created.

    Example: supplywatch crawl --source cisa-csaf
    """
    from .pipeline import CrawlNotStored

    cfg = env.require_config()  # before the database is opened: no configuration, no new ./supplywatch.db
    if not cfg.sources:
        raise ConfigError(f"{cfg.path}: no sources configured: add [[sources]] (supplywatch init writes examples)")
    with env.pipeline(create=True) as pipeline:
        try:
            reports = pipeline.crawl(source=source, force=force)
        except CrawlNotStored as exc:
            _crawl_report(exc.reports, as_json)
            raise
    _crawl_report(reports, as_json)
    failure = crawl_failure(reports)
    if failure is not None:
        raise failure


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
@click.option("--since", type=DATE, metavar="DATE", help="Only documents published on or after DATE (UTC): a day, "
              "or the first day of a month or year. Example: --since 2026-01")
@click.option("--until", type=DATE, metavar="DATE", help="Only documents published on or before DATE (UTC): a day, "
              "or the last day of a month or year. Example: --until 2026-01-31")
@click.option("--raw", is_flag=True, help="Parse QUERY as FTS5 syntax: \"phrases\", NEAR(a b, 5), prefix*, AND/OR/NOT, "
              "title:word. Example: --raw 'title:\"signing key\" OR NEAR(stolen certificate, 5)'")
@click.option("--json", "as_json", is_flag=True, help="Print results as a JSON list of objects. Example: --json")
@click.option("--csv", "as_csv", is_flag=True, help="Print results as CSV with a header row (cells that a spreadsheet "
              "would run as a formula are prefixed with '). Example: --csv > hits.csv")
@pass_env
def search(env: Env, query: str, limit: int, label: str | None, min_score: float, supplier: str | None,
           source: str | None, since: Period | None, until: Period | None, raw: bool, as_json: bool,
           as_csv: bool) -> None:
    """Full-text search of titles and article text, best match (bm25, title weighted) first, with snippets.

    Your words are searched as words (quotes, NEAR and * have no special meaning) unless --raw.
    The database is opened read-only.

    Example: supplywatch search "stolen certificate" --since 2026-01-01 --label supply_chain_cert_compromise
    """
    if as_json and as_csv:
        raise InputError("--json and --csv cannot be used together")
    check_order(since, until)
    with env.pipeline(readonly=True) as pipeline:
        if source is not None and (known := pipeline.store.source_names(source)) != [source]:
            raise InputError(f"no source named {source!r} (sources: {', '.join(known) or 'none yet'})")
        try:
            rows = pipeline.store.search(query, limit=limit, label=label, min_score=min_score, supplier=supplier,
                                         source=source, since=since and since.first, until=until and until.last,
                                         raw=raw)
        except QuerySyntaxError as exc:
            raise InputError(f"{exc}; leave out --raw to search the words as written") from None
    if as_json:
        echo_json(rows)
        return
    if as_csv:
        # follow_up: why an article that never restates the theft carries the label; impact (with --supplier): the
        # path by which the document reaches that supplier -- what a spreadsheet of hits is read for
        echo_csv(rows, ["id", "published", "source", "title", "url", "snippet", "rank", "follow_up"]
                 + (["impact"] if supplier else []))
        return
    if not rows:
        click.echo("No matches.")
        return
    for row in rows:
        marker = "  (feed summary only)" if row.get("feed_only") else ""
        click.echo(f"#{row['id']}  {(row['published'] or '')[:10]}  [{row['source']}]  {row['title']}{marker}")
        click.echo(f"    {' '.join(row['snippet'].split())}")
        if row.get("follow_up"):
            click.echo(f"    {row['follow_up']}")
        if row.get("impact"):  # with --supplier: how the document reaches that supplier (issue 15)
            click.echo(f"    {row['impact']}")
        click.echo(f"    {row['url'] or ''}")


@cli.command()
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port). Example: --port 8080")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; the archive has no login, so keep it on loopback. Example: --host 127.0.0.1")
@pass_env
def serve(env: Env, port: int, host: str) -> None:
    """Browse and search the archive in a web browser (Datasette), read-only, until Ctrl-C.

    /archive/browse lists documents for people (title, source, day, labels with scores, snippet,
    story; best match first when searching). Full-text search of the raw tables, facets by source,
    kind, label and supplier, and canned queries (supply-chain certificate compromises of the last 30 days, documents by month,
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
