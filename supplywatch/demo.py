"""`supplywatch demo`: the embedded demo site served on 127.0.0.1, crawled into a fresh database.

Shows the whole collection path working offline: feeds of three formats, a paginated advisory
index, a CSAF ROLIE feed; then a second crawl to show conditional GET and deduplication.
"""

from __future__ import annotations

import json
import os
import re
import time
from importlib import resources
from pathlib import Path
from typing import Any

import click

from supplywatch.store import SupplywatchError, vocabulary
from supplywatch.store.text import clip

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
            _demo_rounds(pipeline, out, server.base)
        click.echo(f"\nTry: supplywatch --db {db} search \"signing key\" --label supply_chain_cert_compromise"
                   f"   |   supplywatch --db {db} sources")
        if serve:
            click.echo(f"\nServing {server.base}/ until Ctrl-C.")
            while True:
                time.sleep(3600)
    finally:
        server.stop()


def answer_key() -> dict[str, bool]:
    """The demo site's answer key (``expected.json``): title (case and spacing folded) -> whether it is a
    supply-chain certificate / signing-key compromise."""
    expected = json.loads((demo_site_root() / "expected.json").read_text("utf-8"))
    return {_fold(row["title"]): bool(row["positive"]) for rows in expected.values() for row in rows}


def _fold(title: str) -> str:
    return " ".join((title or "").split()).casefold()


def headline_scores(store: Any) -> dict[str, Any]:
    """The headline flags of the demo's database against :func:`answer_key`: counts, precision, recall, and
    the flagged (with whether each is right) and missed documents."""
    key = answer_key()
    flagged = store.flagged(vocabulary.headline())
    docs = store.recent_documents(limit=10_000)
    hits = {_fold(r["title"]) for r in flagged}
    tp = sum(key.get(t, False) for t in hits)
    fp = len(hits) - tp
    missed = [d for d in docs if key.get(_fold(d["title"])) and _fold(d["title"]) not in hits]
    return {"flagged": len(hits), "tp": tp, "fp": fp, "fn": len(missed),
            "precision": tp / len(hits) if hits else 0.0, "recall": tp / (tp + len(missed)) if tp + len(missed) else 0.0,
            "rows": [{**r, "right": key.get(_fold(r["title"]), False)} for r in flagged], "missed": missed}


def _relative_links(out: Path, base: str) -> None:
    """Point the demo digest's links at the demo site's files instead of the server that is gone after the demo."""
    site = Path(os.path.relpath(demo_site_root(), out)).as_posix()
    pattern = re.compile(re.escape(base) + r"(/[^\s\"'<>]*)")

    def local(m: re.Match[str]) -> str:
        path = m.group(1)
        return f"{site}{path}{'index.html' if path.endswith('/') else ''}"

    for path in [*out.glob("digest-*.html"), *out.glob("digest-*.txt")]:
        path.write_text(pattern.sub(local, path.read_text("utf-8")), "utf-8")


def _demo_rounds(pipeline: Pipeline, out: Path, base: str = "") -> None:
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
    grouped = pipeline.cluster()  # first, so an account of an incident's story follows the incident when labelled
    counts = pipeline.classify()  # the encoder clustering loaded
    click.echo(f"Labelled {counts.documents} documents with model {counts.model_version}.")
    click.echo(f"Grouped them into {grouped.new_stories} stories (one event, every outlet that carried it).")
    scores = headline_scores(pipeline.store)
    click.echo(
        "\nSupply-chain certificate / signing-key compromises against the demo site's answer key (expected.json):\n"
        f"  flagged {scores['flagged']}: {scores['tp']} right, {scores['fp']} wrong; missed {scores['fn']}"
        f"  ->  precision {scores['precision']:.2f}, recall {scores['recall']:.2f}")
    for row in sorted(scores["rows"], key=lambda r: -r["score"]):
        mark = "right" if row["right"] else "WRONG"
        click.echo(f"  {mark}  {row['score']:.2f}  [{row['source']}] {row['title']}\n"
                   f"        evidence: {clip(row['evidence'] or '', 200)}")
    for doc in scores["missed"]:
        click.echo(f"  MISSED       [{doc['source']}] {doc['title']}")
    # The founding example's day: the digest a vendor-risk analyst would have opened that morning.
    rendered = pipeline.digest(DEMO_DAY, out=str(out))
    if base:
        _relative_links(out, base)
    click.echo(f"\nDigest for {DEMO_DAY}: " + "  ".join(rendered["paths"]))
