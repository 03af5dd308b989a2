"""`supplywatch backfill` interrupted (Ctrl-C during the crawl, SIGKILL during classify) and called again ends with
the same archive as an uninterrupted backfill: same documents, labels, stories and supplier matches, each
document labelled once.

Real `supplywatch` processes, the real model, a real crawl of a local site of 160 feed-only articles (short
texts, so the model's share stays small), real signals.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from supplywatch.store import Store
from tests.conftest import static, write_config

ROOT = Path(__file__).resolve().parents[1]
FEEDS, PER_FEED = 4, 40
VENDORS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Soylent", "Wonka", "Tyrell"]
EVENTS = [("patches critical flaw in {v} Gateway", "{v} fixed a remote code execution flaw in its gateway. "
           "Customers should update now."),
          ("ransomware attack disrupts {v} operations", "A ransomware gang encrypted servers at {v}. "
           "The company restored systems from backups."),
          ("data breach exposes {v} customer records", "Hackers stole customer records from {v}. "
           "The firm notified regulators."),
          ("{v} warns of phishing campaign", "Phishing emails impersonating {v} support are circulating. "
           "Users should not click the links.")]
START = datetime(2021, 3, 1, 8, 0, tzinfo=UTC)
GATE = threading.Event()  # closed: outlet 2's feed waits


def _feed(server: Any, n: int) -> str:
    items = []
    for i in range(PER_FEED):
        k = n * PER_FEED + i
        vendor = VENDORS[(k // 3) % len(VENDORS)]  # three outlets in a row tell one vendor's event
        title, text = (part.format(v=vendor) for part in EVENTS[(k // 3) % len(EVENTS)])
        when = format_datetime(START + timedelta(hours=7 * (k // 3), minutes=k % 3))
        items.append(f"<item><title>{title} ({n})</title><link>{server.base}/{n}/{i}</link><guid>f{n}-{i}</guid>"
                     f"<pubDate>{when}</pubDate><description>{text}</description></item>")
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>outlet {n}</title>{"".join(items)}</channel></rss>'


@pytest.fixture
def site(server, tmp_path):
    for n in range(FEEDS):
        route = static(_feed(server, n), headers={"ETag": f'"feed-{n}"'})
        if n == 2:  # the second chunk's first source answers only when the test opens the gate, so Ctrl-C
            # lands inside a crawl however loaded the machine is (a fixed delay was a race on 2 busy cores)
            def route(handler: Any, inner: Any = route) -> Any:
                GATE.wait(120)
                return inner(handler)
        server.routes[f"/{n}.xml"] = route
    cfg = write_config(tmp_path / "supplywatch.toml",
                       [{"name": f"outlet-{n}", "url": f"{server.base}/{n}.xml"} for n in range(FEEDS)],
                       fetch_pages=False)
    return cfg


def _command(cfg: Path, db: Path) -> list[str]:
    return [sys.executable, "-m", "supplywatch", "--config", str(cfg), "--db", str(db), "backfill", "--chunk", "2",
            "--json"]


def _count(db: Path, sql: str) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute(sql).fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:  # not created yet, or mid-migration
        return 0


def _interrupt(cfg: Path, db: Path, sql: str, at: int, sig: int) -> tuple[subprocess.CompletedProcess[str], int]:
    """Start a backfill and send ``sig`` once ``sql`` counts ``at``; returns its outcome and the count then."""
    # A shell that starts pytest in the background ignores SIGINT and the child would inherit that: give it the
    # default disposition, so Ctrl-C reaches it as at a terminal.
    proc = subprocess.Popen(_command(cfg, db), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        seen = _count(db, sql)
        if seen >= at:
            os.kill(proc.pid, sig)
            break
        time.sleep(0.05)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), seen


def _snapshot(db: Path) -> dict[str, Any]:
    with Store.open(db) as store:
        q = store.db.execute
        stories: dict[int, set[str]] = {}
        for story, url in q("select s.story_id, d.canonical_url from story_documents s join documents d "
                            "on d.id = s.document_id"):
            stories.setdefault(story, set()).add(url)
        return {
            "documents": set(q("select canonical_url, title, content_hash, published from documents")),
            "labels": set(q("select d.canonical_url, l.label, round(l.score, 6), l.flagged, l.evidence, l.model_version "
                            "from labels l join documents d on d.id = l.document_id")),
            "stories": {frozenset(urls) for urls in stories.values()},
            "reasons": set(q("select d.canonical_url, s.reason from story_documents s join documents d "
                             "on d.id = s.document_id")),
            "matches": set(q("select d.canonical_url, m.role from supplier_matches m join documents d "
                             "on d.id = m.document_id")),
        }


@pytest.mark.slow
def test_an_interrupted_backfill_resumes_to_the_same_archive_and_does_nothing_twice(tmp_path, site):
    total = FEEDS * PER_FEED
    register = tmp_path / "suppliers.csv"
    register.write_text("name,aliases,domains,products,tier,owner\n" + "".join(f"{v},,,,1,\n" for v in VENDORS), "utf-8")
    for name in ("clean.db", "cut.db"):
        Store.open(tmp_path / name).close()
        subprocess.run([sys.executable, "-m", "supplywatch", "--db", str(tmp_path / name), "-q", "suppliers", "import",
                        str(register)], cwd=ROOT, check=True, capture_output=True)

    GATE.set()
    clean = subprocess.run(_command(site, tmp_path / "clean.db"), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert clean.returncode == 0, clean.stderr
    done = json.loads(clean.stdout)
    assert (done["new"], done["classified"], done["clustered"], done["matched"]) == (total, total, total, total)

    cut = tmp_path / "cut.db"
    # Ctrl-C while the second chunk is being crawled: the first chunk's sources are stored, nothing is labelled.
    GATE.clear()
    try:
        first, seen = _interrupt(site, cut, "select count(*) from documents", 2 * PER_FEED, signal.SIGINT)
    finally:
        GATE.set()
    assert first.returncode == 130 and "Interrupted." in first.stderr, first.stderr
    assert _count(cut, "select count(*) from documents") < total
    assert _count(cut, "select count(*) from labels") == 0
    # SIGKILL in the middle of classify (after its first batch of 64 was stored).
    second, labelled = _interrupt(site, cut, "select count(distinct document_id) from labels", 64, signal.SIGKILL)
    assert second.returncode == -signal.SIGKILL
    labelled = _count(cut, "select count(distinct document_id) from labels")
    assert 0 < labelled < total
    stored = _count(cut, "select count(*) from documents")
    assert stored == total

    last = subprocess.run(_command(site, cut), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert last.returncode == 0, last.stderr
    resumed = json.loads(last.stdout)
    assert resumed["new"] == 0  # nothing crawled twice: the finished sources answered 304, stored nothing
    assert resumed["classified"] == total - labelled  # nothing labelled twice
    assert resumed["documents"] == total
    assert "classify: done: " in last.stderr  # not a terminal: one summary line per step, on stderr

    a, b = _snapshot(tmp_path / "clean.db"), _snapshot(cut)
    assert len(a["documents"]) == total and len(a["stories"]) < total and a["matches"]
    for key in a:
        assert a[key] == b[key], key
    assert _count(cut, "select count(*) from (select 1 from labels group by document_id, label having count(*) > 1)") == 0
