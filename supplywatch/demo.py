"""`supplywatch demo`: the embedded demo site served on 127.0.0.1, crawled into a fresh database.

Shows the whole collection path working offline: feeds of three formats, a paginated advisory
index, a CSAF ROLIE feed; then a second crawl to show conditional GET and deduplication.
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

import click

from store import SupplywatchError

from . import app
from . import config as configuration
from .localsite import LocalServer
from .output import table

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
        started = time.monotonic()
        reports = app.crawl(cfg, str(db))
        elapsed = time.monotonic() - started
        click.echo(f"\nFirst crawl ({elapsed:.1f} s):")
        click.echo(table(reports, [("source", "SOURCE"), ("kind", "KIND"), ("status", "STATUS"), ("new", "NEW"),
                                   ("failed_pages", "FAILED PAGES"), ("error", "ERROR")]))
        again = app.crawl(cfg, str(db))
        click.echo(
            f"\nSecond crawl: {sum(r.get('new') or 0 for r in again)} new documents "
            f"(statuses: {', '.join(sorted({r['status'] for r in again}))}): conditional GET and dedup at work."
        )
        with app.open_store(str(db), create=False) as store:
            docs = store.recent_documents(limit=100)
            click.echo(f"\nStored {len(docs)} documents in {db}:")
            click.echo(table(docs, [("id", "ID"), ("published", "PUBLISHED"), ("source", "SOURCE"), ("kind", "KIND"),
                                    ("chars", "CHARS"), ("title", "TITLE")], max_width=70))
            hits = store.search("certificate compromised", limit=5)
            click.echo('\nsupplywatch search "certificate compromised":')
            for hit in hits:
                click.echo(f"  #{hit['id']} [{hit['source']}] {hit['title']}\n      {' '.join(hit['snippet'].split())}")
        click.echo("\nClassifying (loads the transformer model once)...")
        clf = app.classifier(cfg)
        counts = app.classify(cfg, str(db), clf=clf)
        grouped = app.cluster(cfg, str(db), encoder=clf.encoder)
        with app.open_store(str(db), create=False) as store:
            flagged = store.flagged("supply_chain_cert_compromise")
        click.echo(f"Labelled {counts['documents']} documents with model {counts['model_version']}.")
        click.echo(f"Grouped them into {grouped['new_stories']} stories (one event, every outlet that carried it).")
        click.echo(f"\nFlagged as supply-chain certificate / signing-key compromises ({len(flagged)}):")
        for row in sorted(flagged, key=lambda r: -r["score"]):
            click.echo(f"  {row['score']:.2f}  [{row['source']}] {row['title']}\n        evidence: {row['evidence'][:200]}")
        # The founding example's day: the digest a vendor-risk analyst would have opened that morning.
        rendered = app.digest(str(db), DEMO_DAY, out=str(out))
        click.echo(f"\nDigest for {DEMO_DAY}: " + "  ".join(rendered["paths"]))
        click.echo(f"\nTry: supplywatch --db {db} search \"signing key\" --label supply_chain_cert_compromise"
                   f"   |   supplywatch --db {db} sources")
        if serve:
            click.echo(f"\nServing {server.base}/ until Ctrl-C.")
            while True:
                time.sleep(3600)
    finally:
        server.stop()
