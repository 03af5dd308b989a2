"""`supplywatch demo`: the embedded demo site served on 127.0.0.1, crawled into a fresh database.

Shows the whole collection path working offline: feeds of three formats, a paginated advisory
index, a CSAF ROLIE feed; then a second crawl to show conditional GET and deduplication.
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

import click

from supplywatch.store import SupplywatchError, vocabulary

from . import config as configuration
from .localsite import LocalServer
from .output import table
from .pipeline import Pipeline, make_pipeline

DEMO_DAY = "2021-01-12"
DEMO_CRAWL = """
[crawl]
# The demo site is on this machine: allow loopback, and start fast.
private_allowlist = ["127.0.0.1"]
autothrottle_start_delay = 0.0
download_delay = 0.0
"""


def demo_site_root() -> Path:
    return Path(str(resources.files("supplywatch").joinpath("demo_site")))


def write_demo_config(path: Path, base: str) -> Path:
    sources = (demo_site_root() / "sources.toml").read_text("utf-8").replace("{{BASE}}", base)
    path.write_text(f"# Written by `supplywatch demo` for the site at {base}\n{DEMO_CRAWL}\n{sources}", "utf-8")
    return path


def run_demo(out: Path, *, port: int = 0, serve: bool = False) -> None:
    out.mkdir(parents=True, exist_ok=True)
    db = out / "supplywatch-demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    try:
        server = LocalServer(demo_site_root(), port=port).start()
    except OSError as exc:
        raise SupplywatchError(f"cannot serve the demo site on 127.0.0.1:{port}: {exc.strerror}") from None
    try:
        click.echo(f"Demo site: {server.base}/  (three outlets, an advisory index, a CSAF feed)")
        cfg = configuration.load(write_demo_config(out / "supplywatch.toml", server.base))
        with make_pipeline(cfg, str(db)) as pipeline:
            _demo_rounds(pipeline, out)
        click.echo(f"\nTry: supplywatch --db {db} search \"signing key\" --label supply_chain_cert_compromise"
                   f"   |   supplywatch --db {db} sources")
        if serve:
            click.echo(f"\nServing {server.base}/ until Ctrl-C.")
            while True:
                time.sleep(3600)
    finally:
        server.stop()


def _demo_rounds(pipeline: Pipeline, out: Path) -> None:
    """Crawl twice, show the archive, label, cluster, and write the founding example's digest."""
    db = pipeline.db
    started = time.monotonic()
    reports = pipeline.crawl()
    elapsed = time.monotonic() - started
    click.echo(f"\nFirst crawl ({elapsed:.1f} s):")
    click.echo(table(reports, [("source", "SOURCE"), ("kind", "KIND"), ("status", "STATUS"), ("new", "NEW"),
                               ("failed_pages", "FAILED PAGES"), ("error", "ERROR")]))
    again = pipeline.crawl()
    click.echo(
        f"\nSecond crawl: {sum(r.get('new') or 0 for r in again)} new documents "
        f"(statuses: {', '.join(sorted({r['status'] for r in again}))}): conditional GET and dedup at work."
    )
    docs = pipeline.store.recent_documents(limit=100)
    click.echo(f"\nStored {len(docs)} documents in {db}:")
    click.echo(table(docs, [("id", "ID"), ("published", "PUBLISHED"), ("source", "SOURCE"), ("kind", "KIND"),
                            ("chars", "CHARS"), ("title", "TITLE")], max_width=70))
    hits = pipeline.store.search("certificate compromised", limit=5)
    click.echo('\nsupplywatch search "certificate compromised":')
    for hit in hits:
        click.echo(f"  #{hit['id']} [{hit['source']}] {hit['title']}\n      {' '.join(hit['snippet'].split())}")
    click.echo("\nClassifying (loads the transformer model once)...")
    counts = pipeline.classify()
    grouped = pipeline.cluster()  # the classifier's encoder, already loaded
    flagged = pipeline.store.flagged(vocabulary.headline())
    click.echo(f"Labelled {counts.documents} documents with model {counts.model_version}.")
    click.echo(f"Grouped them into {grouped.new_stories} stories (one event, every outlet that carried it).")
    click.echo(f"\nFlagged as supply-chain certificate / signing-key compromises ({len(flagged)}):")
    for row in sorted(flagged, key=lambda r: -r["score"]):
        click.echo(f"  {row['score']:.2f}  [{row['source']}] {row['title']}\n        evidence: {row['evidence'][:200]}")
    # The founding example's day: the digest a vendor-risk analyst would have opened that morning.
    rendered = pipeline.digest(DEMO_DAY, out=str(out))
    click.echo(f"\nDigest for {DEMO_DAY}: " + "  ".join(rendered["paths"]))
