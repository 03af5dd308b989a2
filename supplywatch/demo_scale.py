"""`supplywatch demo --scale`: the demo site through scale mode on this machine.

Starts a local redis-server (the scale extra's), then 2 crawl workers, the one writer and a classify
worker as separate processes, exactly as they would run on several machines, and prints what each did.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from supplywatch.store import Store, SupplywatchError

from . import config as configuration
from .demo import demo_site_root, headline_scores, write_demo_config
from .localsite import LocalServer
from .redis_server import RedisServer

# A source checkout runs its own code in the workers too (supplywatch/__init__.py looks beside itself).
_CHECKOUT = Path(__file__).resolve().parents[1]
CWD = str(_CHECKOUT) if (_CHECKOUT / "pyproject.toml").is_file() else None


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "supplywatch", *args], env=env, text=True, cwd=CWD,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(name: str, proc: subprocess.Popen[str], timeout: float = 600) -> None:
    out, err = proc.communicate(timeout=timeout)
    lines = [line for line in (out + err).splitlines() if line.strip()]
    click.echo(f"  {name} (exit {proc.returncode}): " + (lines[-1] if lines else "no output"))
    if proc.returncode != 0:
        raise SupplywatchError(f"{name} failed (exit {proc.returncode}): " + " | ".join(lines[-3:]))


def _drain(server: object, keys: object, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (server.xlen(keys.stream) or  # type: ignore[attr-defined]
                                           server.xpending(keys.stream, keys.group)["pending"]):  # type: ignore[attr-defined]
        time.sleep(0.2)


def run_scale_demo(out: Path, *, port: int = 0) -> None:
    from .scale import connect, enqueue_sources
    from .scale_jobs import enqueue_classify

    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    db = out / "supplywatch-scale-demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    with LocalServer(demo_site_root(), port=port) as site, RedisServer() as rs:
        click.echo(f"Demo site: {site.base}/   Redis: {rs.url} (bundled redis-server, no persistence)")
        path = write_demo_config(out / "supplywatch-scale.toml", site.base)
        cfg = configuration.load(path, env={**os.environ, "SUPPLYWATCH_REDIS_URL": rs.url})
        env = {**os.environ, "SUPPLYWATCH_CONFIG": str(path), "SUPPLYWATCH_DB": str(db), "SUPPLYWATCH_REDIS_URL": rs.url}
        server, keys, _ = connect(cfg.scale)
        Store.open(db).close()
        counts = enqueue_sources(server, keys, str(db), cfg.sources)
        click.echo(f"\nenqueue: {counts['enqueued']} sources queued")
        started = time.monotonic()
        writer = _spawn(["worker", "store"], env)
        crawlers = [_spawn(["worker", "crawl", "--max-idle", "2"], env) for _ in range(2)]
        click.echo("2 crawl workers and the writer are running...")
        for i, proc in enumerate(crawlers, 1):
            _finish(f"crawl worker {i}", proc)
        _drain(server, keys)
        click.echo(f"crawl done in {time.monotonic() - started:.1f} s")
        jobs = enqueue_classify(server, keys, str(db), cfg)
        click.echo(f"\nenqueue --classify: {jobs['documents']} documents in {jobs['jobs']} jobs; a classify worker "
                   "loads the model once and labels them...")
        _finish("classify worker", _spawn(["worker", "classify", "--burst"], env))
        _drain(server, keys)
        writer.send_signal(signal.SIGTERM)
        _finish("writer", writer)
        st = subprocess.run([sys.executable, "-m", "supplywatch", "status"], env=env, capture_output=True, text=True,
                            cwd=CWD)
        click.echo("\nsupplywatch status:\n" + st.stdout.rstrip())
        with Store.open(db) as store:
            scores = headline_scores(store)
            click.echo(f"\nStored {store.count_documents()} documents in {db}; headline flags: {scores['flagged']} "
                       f"({scores['tp']} right, {scores['fp']} wrong, {scores['fn']} missed)")
        server.close()
