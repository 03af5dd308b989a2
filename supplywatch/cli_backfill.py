"""`supplywatch backfill`: the first, large crawl of a new archive, labelled, clustered and matched, resumable."""

from __future__ import annotations

import click

from supplywatch.store import ConfigError

from .cli import Env, cli, pass_env
from .output import echo_json


@cli.command()
@click.option("--chunk", default=10, show_default=True, type=click.IntRange(1),
              help="Sources crawled by one crawler process at a time. Example: --chunk 5")
@click.option("--source", "names", multiple=True, metavar="NAME",
              help="Only this source (repeatable). Example: --source bleepingcomputer")
@click.option("--no-crawl", is_flag=True, help="Only cluster, classify and match what is stored. Example: --no-crawl")
@click.option("--json", "as_json", is_flag=True, help="Print the counts and each step's seconds as JSON. Example: --json")
@pass_env
def backfill(env: Env, chunk: int, names: tuple[str, ...], no_crawl: bool, as_json: bool) -> None:
    """Crawl every source into a new (or old) archive, then label, cluster and match it: resumable.

    Stop it any time (Ctrl-C, kill, a reboot) and call it again: it goes on where it stopped. Where
    that is comes from the archive itself (documents stored, labelled, in a story, matched); each is
    done once. Holds the run lock: an hourly `run` meanwhile exits 75 and touches nothing.

    Example: supplywatch backfill --chunk 5 && supplywatch search "signing key"
    """
    from .backfill import backfill as run_backfill

    if not no_crawl:
        cfg = env.require_config()  # no configuration, no new ./supplywatch.db
        if not cfg.sources:
            raise ConfigError(f"{cfg.path}: no sources configured: add [[sources]] (supplywatch init writes examples)")
    with env.pipeline(create=True) as pipeline:
        result = run_backfill(pipeline, chunk=chunk, names=list(names) or None, crawl=not no_crawl)
    if as_json:
        echo_json(result.as_dict())
        return
    took = ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items())
    click.echo(f"Backfill done: {result.documents} documents in the archive; {result.new} new from "
               f"{result.sources} sources; labelled {result.classified}, clustered {result.clustered}, "
               f"matched {result.matched}. ({took})")
