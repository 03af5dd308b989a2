"""How many headline items a reader gets a day from one much-covered incident, with the digest telling a day's
stories of an incident once (``reports.digest``, session 28) against one item per story as before.

Builds a SQLite store through the store's API from the 3,000 modern feed items of
../shared/corpus/news-metadata/cybersecurity-news-en-title-3000.csv (title + description as text, each with its own
publication day and outlet), then runs the product's own `cluster` and `classify` commands on it (the packaged head,
the incident memory on, as `run` does) and builds each day's digest. "Per story" is the headline section's items
plus the stories folded into them: what the digest showed before.

Usage:  .venv/bin/python benchmarks/followup_digest.py [--keep DIR]     (~5 min on 2 cores, most of it encoding)
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from supplywatch.reports.digest import build_digest  # noqa: E402
from supplywatch.store import Document, Store  # noqa: E402
from supplywatch.store.models import FetchOutcome  # noqa: E402

NEWS = ROOT.parent / "shared" / "corpus" / "news-metadata" / "cybersecurity-news-en-title-3000.csv"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", help="build the store in this folder and keep it")
    args = ap.parse_args()
    if not NEWS.exists():
        print(f"followup_digest: {NEWS} is missing (a clone without ../shared)", file=sys.stderr)
        return 2
    folder = Path(args.keep or tempfile.mkdtemp(prefix="followup-digest-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = str(folder / "news.db")
    with NEWS.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    outlets: dict[str, list[Document]] = {}
    for r in rows:
        name = re.sub(r"[^a-z0-9]+", "-", (r["source_title"] or "unknown").lower()).strip("-")[:40] or "unknown"
        outlets.setdefault(name, []).append(Document(
            source=name, guid=r["id"], title=r["title"], text=r["description"] or "", url=r["article_link"],
            published=r["pub_date"][:19] + "Z"))
    with Store.open(db) as store:
        store.sync_sources([{"name": n, "kind": "feed", "url": f"https://{n}.example/rss"} for n in outlets])
        for name, docs in outlets.items():
            store.save_fetch(docs, FetchOutcome(name, "ok", "2026-02-12T00:00:00Z", "2026-02-12T00:00:00Z"))
    cli = [sys.executable, "-m", "supplywatch", "--db", db, "-q"]
    for step in ("cluster", "classify"):
        subprocess.run([*cli, step], check=True, cwd=str(folder))
    days = sorted({r["pub_date"][:10] for r in rows})
    per_story, per_incident = Counter(), Counter()
    with Store.open(db) as store:
        for day in days:
            items = build_digest(store, day).headline.items
            per_incident[day] = len(items)
            per_story[day] = len(items) + sum(len(i.same_incident) for i in items)
    busy = [d for d in days if per_story[d]]
    print(f"{len(rows)} items, {len(outlets)} outlets, {len(days)} days; store {db}")
    print(f"days with a headline item: {len(busy)}")
    print(f"headline items, one per story (before): {sum(per_story.values())}, most in a day "
          f"{max(per_story.values())}")
    print(f"headline items, one per incident a day (now): {sum(per_incident.values())}, most in a day "
          f"{max(per_incident.values())}")
    for day in sorted(busy, key=lambda d: -per_story[d])[:5]:
        print(f"  {day}: {per_story[day]} stories -> {per_incident[day]} items")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
