"""Digest benchmark: building and rendering the digest of one big day (2,000 documents in ~600 stories).

Builds a temporary SQLite store through the store's own API (``Store.sync_sources``, ``save_fetch``,
``save_labels``, ``assign_story``/``assign_stories``; no SQL here): N documents published on one UTC day, titles and
outlets from ../shared/corpus/news-metadata/cybersecurity-news-en-title-3000.csv (generated titles, with
a note, when ../shared is missing), bodies of 5-8 paragraphs (about 2,800 characters; one document in
three has sentences asking something of customers), five labels per document as the classifier writes
them (a realistic share flagged: ~3% of stories supply-chain compromises, about 60% one or two topics,
the rest nothing), grouped into ~600 stories of skewed sizes (many single reports, a few covered by
20+ outlets), and a few failing sources for the footer.

Then, in a fresh Python process (so that its peak memory is the digest's, not the set-up's), it times
``reports.digest.build_digest`` (store reads + grouping + action extraction), ``reports.render.render_digest``
(Jinja2, HTML and text) and both together: the median of --runs runs each, after one warm-up (the cold
first run is shown too), plus the process's peak RSS (``getrusage``) and tracemalloc peaks of one build
and one render.

Usage:  .venv/bin/python benchmarks/digest_bench.py [--docs 2000] [--stories 600] [--runs 5] [--profile]
        [--json FILE] [--keep DIR]
Exit code 0 when it ran (aim met or not), 1 with --check when the total is over the aim (1 s).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "news-metadata" / "cybersecurity-news-en-title-3000.csv"
DAY = "2025-11-04"
FETCHED = "2025-11-05T06:00:00Z"
AIM_S = 1.0
LABELS = ["supply_chain_cert_compromise", "vulnerability", "malware", "cyber_attack", "data_breach"]
THRESHOLD = 0.5

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# -- the day's documents ------------------------------------------------------------------------

VENDORS = ["Quillmail", "Helix Identity", "Orbitline", "Acme Networks", "Veltrix", "Northwind", "Corvane",
           "Tarnwell", "Gatekeep", "Pinecrest Software", "Brightlane", "Kestrel", "TrustHarbor", "Nimbus Edge"]
PRODUCTS = ["Mail Archiver", "SSO", "FleetPilot", "EdgeRouter", "driver suite", "FlowLogic PLC", "UPS Manager",
            "EDR agent", "SecureVPN", "accounting suite", "mobile app", "build server", "CA portal", "CDN"]
FILLER = [
    "{vendor} said the issue affects {product} deployments and that it had informed regulators on {weekday}.",
    "Researchers who found the problem said they had reported it to {vendor} {n} weeks ago.",
    "The company has engaged an outside forensics firm and said its investigation is continuing.",
    "Attackers appear to have had access for about {n} days before the intrusion was noticed.",
    "There is no evidence so far that data belonging to {vendor}'s customers was taken, the statement said.",
    "Analysts at {n} firms have published indicators of compromise for defenders to hunt with.",
    "The attack follows a similar incident at a competitor earlier this year.",
    "A spokesperson declined to say how many of the company's {k},000 customers were affected.",
    "Exploitation attempts began within {n} hours of the technical details appearing online.",
    "The flaw is tracked as CVE-2025-{cve} and rated {cvss} out of 10 for severity.",
    "Shares in {vendor} fell {n} percent in early trading after the disclosure.",
    "The group behind the campaign has targeted software suppliers in at least {n} countries.",
]
ACTIONS = [
    "Customers are advised to rotate any API keys used with {product} and to review access logs.",
    "Administrators should update to version {major}.{minor}.{patch} or later as soon as possible.",
    "{vendor} recommends disabling the affected component until the patch is applied.",
    "Users who installed the update are urged to reinstall from a clean image.",
    "Organisations must revoke the old certificate and re-establish trust with the new one.",
    "Customers who use the integration need to delete the existing connection and create a new one.",
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
TITLE_FORMS = ["{t}", "{t}", "{t}, researchers say", "Update: {t}", "{t} (report)", "What we know: {t}",
               "{t} - analysis", "{t}, company confirms"]


def load_titles(n: int) -> tuple[list[tuple[str, str]], str]:
    """(title, outlet) pairs: the corpus's, or generated ones when ../shared is missing (said in the note)."""
    if CORPUS.exists():
        with CORPUS.open(newline="", encoding="utf-8") as fh:
            rows = [(r["title"].strip(), r["source_title"].strip() or "unknown") for r in csv.DictReader(fh)]
        rows = [r for r in rows if r[0]]
        note = f"titles and outlets: {CORPUS.relative_to(ROOT.parent)} ({len(rows)} rows)"
        return (rows * (n // len(rows) + 1))[:n], note
    rng = random.Random(7)
    rows = [(f"{rng.choice(VENDORS)} {rng.choice(PRODUCTS)} {rng.choice(['flaw', 'breach', 'outage', 'attack'])} "
             f"#{i}", f"Outlet {i % 60}") for i in range(n)]
    return rows, f"NOTE: {CORPUS} is missing; titles and outlets are generated"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "outlet"


def body(rng: random.Random, title: str, with_actions: bool) -> str:
    def fill(template: str) -> str:
        return template.format(vendor=rng.choice(VENDORS), product=rng.choice(PRODUCTS), weekday=rng.choice(WEEKDAYS),
                               n=rng.randint(2, 40), k=rng.randint(2, 90), cve=rng.randint(10000, 59999),
                               cvss=f"{rng.uniform(4, 10):.1f}", major=rng.randint(1, 12), minor=rng.randint(0, 9),
                               patch=rng.randint(0, 20))

    paragraphs = [f"{title}. " + " ".join(fill(rng.choice(FILLER)) for _ in range(rng.randint(2, 4)))]
    for _ in range(rng.randint(4, 7)):
        paragraphs.append(" ".join(fill(rng.choice(FILLER)) for _ in range(rng.randint(3, 6))))
    if with_actions:
        for _ in range(rng.randint(1, 3)):
            para = rng.randrange(1, len(paragraphs))
            sentences = paragraphs[para].split(". ")
            sentences.insert(rng.randint(0, len(sentences)), fill(rng.choice(ACTIONS)).rstrip("."))
            paragraphs[para] = ". ".join(sentences)
    return "\n\n".join(paragraphs)


def story_sizes(docs: int, stories: int, rng: random.Random) -> list[int]:
    """``stories`` sizes summing to ``docs``: most stories one or two reports, a few covered everywhere."""
    weights = [rng.paretovariate(1.3) for _ in range(stories)]
    extra = docs - stories
    sizes = [1 + int(extra * w / sum(weights)) for w in weights]
    for i in rng.sample(range(stories), docs - sum(sizes)):  # the rounding remainder
        sizes[i] += 1
    return sizes


def story_labels(rng: random.Random) -> dict[str, float]:
    """The flagged labels of one story, with scores over the threshold."""
    flagged: dict[str, float] = {}
    if rng.random() < 0.03:
        flagged[LABELS[0]] = rng.uniform(0.6, 0.99)
    roll = rng.random()
    if roll < 0.6 or flagged:
        for label in rng.sample(LABELS[1:], k=2 if rng.random() < 0.25 else 1):
            flagged[label] = rng.uniform(0.5, 0.99)
    return flagged


def build_store(db: str, n_docs: int, n_stories: int, seed: int = 1) -> dict[str, Any]:
    """The benchmark's day in a fresh store at ``db``; returns what it holds."""
    from supplywatch.store import Document, FetchOutcome, Label, Store

    rng = random.Random(seed)
    titles, note = load_titles(n_stories)
    outlets = sorted({outlet for _, outlet in titles}) or ["outlet"]
    pool = outlets if len(outlets) >= 30 else outlets + [f"wire-{i}" for i in range(30)]
    sizes = story_sizes(n_docs, n_stories, rng)
    by_source: dict[str, list[Any]] = {}
    members: list[list[tuple[str, str]]] = []  # per story: (source, url) of its documents, first report first
    flagged_by_story: list[dict[str, float]] = []
    minute = 0
    for s, ((title, outlet), size) in enumerate(zip(titles, sizes, strict=True)):
        sources = [outlet] + rng.sample([o for o in pool if o != outlet], k=min(size - 1, len(pool) - 1))
        sources += [rng.choice(pool) for _ in range(size - len(sources))]
        flagged_by_story.append(story_labels(rng))
        story: list[tuple[str, str]] = []
        for i, source in enumerate(sources):
            minute = (minute + rng.randint(0, 2)) % (24 * 60)
            name = slug(source)
            url = f"https://{name}.example/{DAY}/story-{s}-{i}"
            text = body(rng, title, with_actions=rng.random() < 0.33)
            by_source.setdefault(name, []).append(Document(
                source=name, guid=f"{s}-{i}", title=rng.choice(TITLE_FORMS).format(t=title) if i else title,
                text=text, url=url, published=f"{DAY}T{minute // 60:02d}:{minute % 60:02d}:{rng.randint(0, 59):02d}Z"))
            story.append((name, url))
        members.append(story)
    failing = sorted(by_source)[:: max(1, len(by_source) // 4)][:4]
    with Store.open(db) as store:
        store.sync_sources([{"name": name, "kind": "feed", "url": f"https://{name}.example/feed"} for name in by_source])
        for name, docs in by_source.items():
            store.save_fetch(docs, FetchOutcome(name, "ok", FETCHED, FETCHED))
        for name in failing:  # the footer: a few sources whose last fetch failed
            store.save_fetch([], FetchOutcome(name, "blocked", FETCHED, FETCHED, http_status=403, error="HTTP 403 Forbidden"))
        ids = {(d["source"], d["url"]): d["id"] for d in store.digest_documents(DAY)}
        labels = []
        for story, flagged in zip(members, flagged_by_story, strict=True):
            for key in story:
                # Each member gets its story's labels, with its own scores; some members fall under the threshold.
                own = {lab: min(0.999, max(0.01, score + rng.uniform(-0.15, 0.05))) for lab, score in flagged.items()}
                labels.append((ids[key], [(Label(lab, own.get(lab, rng.uniform(0.01, 0.3)),
                                                 "Evidence sentence from the article." if own.get(lab, 0) >= THRESHOLD else ""),
                                           own.get(lab, 0) >= THRESHOLD) for lab in LABELS]))
        store.save_labels(labels, "bench-v1", FETCHED)
        # Stories as the clustering step records them: the first report opens one, the others join it.
        for story in members:
            first, *rest = [ids[key] for key in story]
            story_id = store.assign_story(first)
            if rest:
                store.assign_stories([(doc_id, story_id, 0.8, "embedding") for doc_id in rest])
    flagged_docs = sum(1 for _, labs in labels if any(f for _, f in labs))
    return {"note": note, "documents": len(ids), "stories": len(members), "sources": len(by_source),
            "failing_sources": len(failing), "flagged_documents": flagged_docs,
            "flagged_stories": sum(1 for f in flagged_by_story if f),
            "headline_stories": sum(1 for f in flagged_by_story if LABELS[0] in f),
            "largest_story": max(sizes), "single_report_stories": sizes.count(1)}


# -- the measurement (a fresh process) ------------------------------------------------------------

def measure(db: str, runs: int, profile: bool) -> dict[str, Any]:
    from supplywatch.reports.digest import build_digest
    from supplywatch.reports.render import render_digest
    from supplywatch.store import Store

    out: dict[str, Any] = {"rss_start_mb": rss_mb()}
    with Store.open(db, readonly=True) as store:
        t0 = time.perf_counter()
        digest = build_digest(store, DAY)
        t1 = time.perf_counter()
        rendered = render_digest(digest)
        t2 = time.perf_counter()
        out["cold"] = {"build": t1 - t0, "render": t2 - t1}

        def timed(step: Any) -> tuple[float, float]:
            """Wall and CPU seconds of ``step()``: CPU time says how much of the wall time a busy machine took."""
            w, c = time.perf_counter(), time.process_time()
            step()
            return time.perf_counter() - w, time.process_time() - c

        builds = [timed(lambda: build_digest(store, DAY)) for _ in range(runs)]
        renders = [timed(lambda: render_digest(digest)) for _ in range(runs)]
        totals = [timed(lambda: render_digest(build_digest(store, DAY))) for _ in range(runs)]
        for name, pairs in (("build", builds), ("render", renders), ("total", totals)):
            out[name] = [w for w, _ in pairs]
            out[name + "_cpu"] = [c for _, c in pairs]
        out["rss_peak_mb"] = rss_mb()
        tracemalloc.start()
        digest = build_digest(store, DAY)
        out["tracemalloc_build_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        rendered = render_digest(digest)
        out["tracemalloc_render_mb"] = (tracemalloc.get_traced_memory()[1] - base) / 2**20
        tracemalloc.stop()
        docs = store.digest_documents(DAY)
        out["digest"] = {
            "documents_read": len(docs), "flagged_read": sum(1 for d in docs if d["labels"]),
            "text_chars_avg": sum(len(d["text"] or "") for d in docs) / max(1, len(docs)),
            "sections": {s.label: [len(s.items), s.total] for s in [digest.headline, *digest.topics]},
            "html_kb": len(rendered.html.encode()) / 1024, "text_kb": len(rendered.text.encode()) / 1024,
        }
        if profile:
            import cProfile
            import io
            import pstats

            prof = cProfile.Profile()
            prof.enable()
            render_digest(build_digest(store, DAY))
            prof.disable()
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(25)
            buf.write("\n")
            pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(15)
            out["profile"] = buf.getvalue()
    return out


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    cpu = "?"
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    except OSError:
        cpu = platform.processor() or "?"
    import sqlite3

    import jinja2

    return (f"{cpu}, {len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}, Jinja2 {jinja2.__version__}")


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} ms (min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f})"


def child(*args: str) -> dict[str, Any]:
    """Run this script with ``args`` in a fresh Python process; return the JSON it prints."""
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"error: {' '.join(args[:2])} failed:\n{done.stderr}")
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=2000, help="documents on the day (default 2000)")
    ap.add_argument("--stories", type=int, default=600, help="stories they form (default 600)")
    ap.add_argument("--runs", type=int, default=5, help="timed runs of each step; the median is reported (default 5)")
    ap.add_argument("--profile", action="store_true", help="also print a cProfile of one build + render")
    ap.add_argument("--json", help="write the figures to this file as JSON")
    ap.add_argument("--keep", help="build the store in this folder and keep it (default: a temporary folder)")
    ap.add_argument("--check", action="store_true", help=f"exit 1 when the median total is over {AIM_S:.0f} s")
    ap.add_argument("--_build", help=argparse.SUPPRESS)
    ap.add_argument("--_measure", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._build:  # the set-up process started below
        print(json.dumps(build_store(args._build, args.docs, args.stories)))
        return 0
    if args._measure:  # the fresh measuring process started below
        print(json.dumps(measure(args._measure, args.runs, args.profile)))
        return 0
    if not 1 <= args.stories <= args.docs:
        ap.error("need 1 <= --stories <= --docs")

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="supplywatch-digest-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return run(args, folder / "digest-bench.db")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


def run(args: argparse.Namespace, db: Path) -> int:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}")
    t0 = time.perf_counter()
    # Set-up and measurement each in a child process of this small one: Linux carries a parent's peak RSS
    # over into a child's getrusage() figure, so the set-up must not run here.
    built = child("--_build", str(db), "--docs", str(args.docs), "--stories", str(args.stories))
    print(built.pop("note"))
    print(f"store: {db} ({db.stat().st_size / 2**20:.1f} MB), built in {time.perf_counter() - t0:.1f} s: "
          + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in built.items()))
    res = child("--_measure", str(db), "--runs", str(args.runs), *(["--profile"] if args.profile else []))
    d = res["digest"]
    print(f"day {DAY}: {d['documents_read']} documents read ({d['flagged_read']} flagged, "
          f"{d['text_chars_avg']:.0f} text characters on average); sections (shown/stories): "
          + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in d["sections"].items())
          + f"; HTML {d['html_kb']:.0f} KB, text {d['text_kb']:.0f} KB")
    cold = res["cold"]
    print(f"cold first run: build_digest {cold['build'] * 1000:.0f} ms, render_digest {cold['render'] * 1000:.0f} ms")
    print(f"median of {args.runs}:")
    for name, label in (("build", "build_digest "), ("render", "render_digest"), ("total", "total        ")):
        print(f"  {label}  {ms(res[name])}; CPU {statistics.median(res[name + '_cpu']) * 1000:.0f} ms")
    total = statistics.median(res["total"])
    print(f"peak RSS of the measuring process: {res['rss_peak_mb']:.0f} MB ({res['rss_start_mb']:.0f} MB after imports)")
    print(f"tracemalloc peak: build_digest {res['tracemalloc_build_mb']:.1f} MB, render_digest "
          f"{res['tracemalloc_render_mb']:.1f} MB")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (other processes on {len(os.sched_getaffinity(0))} cores)")
    met = total <= AIM_S
    print(f"aim: total <= {AIM_S:.0f} s: {'met' if met else 'NOT met'} ({total:.3f} s)")
    if "profile" in res:
        print("\ncProfile of one build_digest + render_digest:\n" + res["profile"])
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "machine": machine(), "store": built, **res}, indent=1))
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
