"""`supplywatch` commands of the reports and the round: demo, digest, suppliers, supplier, run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from supplywatch.store import InputError, StorageError

from .cli import CONTEXT, DATE, Env, Group, Period, cli, pass_env
from .output import echo_json, table
from .pipeline import make_pipeline


@cli.command()
@click.option("--out", default="demo-output", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the demo database and config. Example: --out /tmp/sw-demo")
@click.option("--port", default=0, type=click.IntRange(0, 65535),
              help="Port for the demo site on 127.0.0.1 (0: any free port). Example: --port 8639")
@click.option("--serve", is_flag=True, help="Keep serving the demo site after the crawl, until Ctrl-C. Example: --serve")
@click.option("--scale", is_flag=True, help="Run it in scale mode: a local Redis, 2 crawl workers, the writer and a "
              "classify worker (needs supplywatch[scale]). Example: --scale")
def demo(out: str, port: int, serve: bool, scale: bool) -> None:
    """Serve the embedded demo site on 127.0.0.1, crawl it into a fresh demo database, show the result.

    No internet needed: three news outlets (RSS 2.0, Atom, RSS 1.0), a paginated vendor advisory
    index and a CSAF ROLIE feed, all local.

    Example: supplywatch demo --out demo-output
    """
    if scale:
        from .demo_scale import run_scale_demo

        run_scale_demo(Path(out), port=port)
        return
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
@click.option("--since", type=DATE, metavar="DATE", help="Only documents published on or after DATE: a day, or the first "
              "day of a month or year. Example: --since 2021-01")
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as JSON. Example: --json")
@click.option("--html", "html_file", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write the timeline as an HTML page to FILE. Example: --html acme.html")
@pass_env
def supplier(env: Env, name: str, since: Period | None, as_json: bool, html_file: str | None) -> None:
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
        timeline = build_timeline(pipeline.store, name, since=since and since.first)
    if as_json:
        echo_json(timeline.as_dict())
        return
    if html_file:
        try:
            Path(html_file).write_text(render_timeline_html(timeline), "utf-8")
        except OSError as exc:
            raise StorageError(f"{html_file}: cannot write: {exc.strerror or exc}") from None
        click.echo(html_file)
        return
    click.echo(timeline_text(timeline), nl=False)


def _delivery_line(result: dict[str, Any]) -> None:
    status, who = result["status"], result["recipient"]
    if status == "sent":
        click.echo(f"{who}: sent")
    elif status == "skipped" and result.get("error"):
        click.echo(f"{who}: skipped: {result['error']}")
    elif status == "skipped":
        click.echo(f"{who}: already sent, skipped (--force sends it again)")
    elif status == "held":  # the store gave up on it (lost replies, or the day's attempts used up)
        click.echo(f"{who}: {status}: {result['error']} (--force sends it again)")
    else:
        click.echo(f"{who}: {status}: {result['error']}")


def _run_line(step: str, result: Any) -> None:
    if isinstance(result, dict) and "error" in result:
        line = f"failed: {result['error']}"
    elif isinstance(result, dict) and "enqueued" in result:  # scale mode: the workers do it
        line = f"{result['enqueued']} sources queued for the crawl workers ({result['skipped']} rate-limited)"
    elif isinstance(result, dict) and "jobs" in result:
        line = f"{result['documents']} documents queued in {result['jobs']} jobs for the classify workers"
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
    """One unattended round: crawl, cluster, classify, and send yesterday's digest once it is due.

    Runs under a lock beside the database, so overlapping cron runs cannot collide (a second one
    exits 75 at once). A failing step does not stop the others; any failure makes the exit
    non-zero. The digest goes out at the first run at or after [digest] send_at (UTC), to each
    recipient once; later runs that day retry only recipients that failed.

    Example: supplywatch --config /etc/supplywatch.toml run
    """
    with make_pipeline(env.require_config(), env.db) as pipeline:
        pipeline.run(crawl_sources=not no_crawl, digest_now=digest_now, report=_run_line)
