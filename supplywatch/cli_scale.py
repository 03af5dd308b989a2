"""`supplywatch` commands of scale mode (docs/scaling.md): worker crawl|store|classify, enqueue, status.

They need ``[scale] redis_url`` (or $SUPPLYWATCH_REDIS_URL) and the scale extra; nothing here imports redis,
Scrapy or RQ before a command runs.
"""

from __future__ import annotations

import json
from typing import Any

import click

from .cli import Env, cli, pass_env
from .output import echo_json

INSECURE = click.option("--allow-insecure-redis", is_flag=True,
                        help="Accept a Redis URL without a password on a non-loopback address (a trusted network "
                             "only). Example: --allow-insecure-redis")


def _connect(env: Env, allow_insecure: bool) -> tuple[Any, Any, str]:
    from .scale import connect

    return connect(env.config.scale, allow_insecure=allow_insecure)


@cli.group()
def worker() -> None:
    """Long-lived scale-mode workers; run any number of crawl and classify workers and exactly one store worker.

    Example: SUPPLYWATCH_REDIS_URL=redis://:secret@10.0.0.5:6379/0 supplywatch worker crawl
    """


@worker.command("crawl")
@click.option("--max-idle", type=click.IntRange(min=0), default=None,
              help="Exit after this many seconds with nothing to crawl anywhere (default [scale] max_idle; 0: never). "
                   "Example: --max-idle 30")
@INSECURE
@pass_env
def worker_crawl(env: Env, max_idle: int | None, allow_insecure_redis: bool) -> None:
    """Crawl what `supplywatch enqueue` pushed, sharing the queue (in Redis) with every other crawl worker.

    Never opens the database: documents go to the store worker through Redis.

    Example: supplywatch worker crawl --max-idle 60
    """
    from supplywatch.crawlers.distributed import run_worker

    _, keys, url = _connect(env, allow_insecure_redis)
    idle = env.config.scale["max_idle"] if max_idle is None else max_idle
    done = run_worker(url, keys, env.config.crawl, max_idle=idle)
    click.echo(f"crawl worker {done['worker']}: {done.get('sources', 0)} sources, {done.get('requests', 0)} responses, "
               f"{done.get('documents', 0)} documents queued", err=True)


@worker.command("store")
@click.option("--max-idle", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Exit after this many seconds without entries (0: run until stopped). Example: --max-idle 30")
@click.option("--batch", type=click.IntRange(min=1), default=None,
              help="Entries per transaction (default [scale] writer_batch). Example: --batch 1000")
@INSECURE
@pass_env
def worker_store(env: Env, max_idle: float, batch: int | None, allow_insecure_redis: bool) -> None:
    """The one writer: store what crawl and classify workers queued, in batches, then acknowledge it.

    Run exactly one, next to the database. Killed at any point, it loses nothing queued.

    Example: supplywatch --db /var/lib/supplywatch/archive.db worker store
    """
    from .scale import run_writer

    server, keys, _ = _connect(env, allow_insecure_redis)
    stats = run_writer(server, keys, env.db, batch=batch or env.config.scale["writer_batch"], max_idle=max_idle)
    click.echo(f"store worker: {stats.batches} batches, {stats.entries} entries, {stats.new} new documents, "
               f"{stats.labelled} labelled, {stats.bad} unreadable", err=True)


@worker.command("classify")
@click.option("--burst", is_flag=True, help="Exit once the queue is empty instead of waiting for jobs. Example: --burst")
@INSECURE
@pass_env
def worker_classify(env: Env, burst: bool, allow_insecure_redis: bool) -> None:
    """An RQ worker that labels batches of documents with a model it loads once; labels go to the store worker.

    Example: supplywatch worker classify
    """
    from .scale_jobs import run_classify_worker

    server, keys, _ = _connect(env, allow_insecure_redis)
    done = run_classify_worker(server, keys, env.config, burst=burst)
    click.echo(f"classify worker {done['worker']} ({done['model_version']}): {done['done']} jobs done, "
               f"{done['failed']} failed", err=True)


@cli.command()
@click.option("--source", "names", multiple=True, metavar="NAME", help="Only this source (repeatable). Example: --source cisa")
@click.option("--force", is_flag=True, help="Enqueue sources even while a Retry-After asks us to wait. Example: --force")
@click.option("--classify", is_flag=True, help="Also enqueue classify jobs for documents without labels. Example: --classify")
@INSECURE
@pass_env
def enqueue(env: Env, names: tuple[str, ...], force: bool, classify: bool, allow_insecure_redis: bool) -> None:
    """Push the configured sources (and, with --classify, unlabelled documents) to the scale-mode workers.

    Example: supplywatch enqueue && supplywatch status
    """
    from .scale import enqueue_sources

    cfg = env.require_config()
    server, keys, _ = _connect(env, allow_insecure_redis)
    sources = [cfg.source(n) for n in names] if names else cfg.sources
    counts = enqueue_sources(server, keys, env.db, sources, force=force)
    line = f"enqueued {counts['enqueued']} sources ({counts['skipped']} rate-limited, skipped)"
    if classify:
        from .scale_jobs import enqueue_classify

        jobs = enqueue_classify(server, keys, env.db, cfg)
        line += f"; {jobs['documents']} documents in {jobs['jobs']} classify jobs"
    click.echo(line)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON. Example: --json")
@click.option("--clear-failures", is_flag=True,
              help="Forget the recorded failures (after dealing with them): worker errors, unreadable entries, "
                   "failed classify jobs. Example: --clear-failures")
@INSECURE
@pass_env
def status(env: Env, as_json: bool, clear_failures: bool, allow_insecure_redis: bool) -> None:
    """Is the distributed pipeline healthy? Queue lengths, workers alive, the writer's last batch, failures.

    Exits 1 when a failure is recorded, so a monitor can run it.

    Example: supplywatch status --json
    """
    from .scale import clear_failures as clear
    from .scale import status as get_status

    server, keys, _ = _connect(env, allow_insecure_redis)
    if clear_failures:
        click.echo(f"cleared {clear(server, keys)} recorded failures", err=True)
    st = get_status(server, keys)
    if as_json:
        echo_json(st)
    else:
        q = st["queues"]
        click.echo(f"queues: {q['sources']} sources, {q['requests']} requests queued, {q['crawl_pending']} crawl "
                   f"pending in all, {q['to_writer']} entries for the writer ({q['writer_unacked']} being written), "
                   f"{q['bad_requests']} unreadable")
        if st["classify"]:
            click.echo(f"classify: {st['classify']['queued']} jobs queued, {st['classify']['failed']} failed")
        click.echo(f"workers alive: {len(st['workers'])}")
        for w in st["workers"]:
            extra = ", ".join(f"{k} {v}" for k, v in w.items() if k not in ("role", "worker", "seen_s_ago"))
            click.echo(f"  {w['role']:<9} {w['worker']}  seen {w['seen_s_ago']} s ago  {extra}")
        last = st["writer"]["last_batch"]
        click.echo("writer: last batch " + (json.dumps(last) if last else "none yet"))
        click.echo(f"failures: {len(st['failures'])}")
        for f in st["failures"]:
            click.echo(f"  {f['who']}: {f['error']}")
    if st["failures"]:
        raise SystemExit(1)
