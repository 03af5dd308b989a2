"""Backfill benchmark: `supplywatch backfill` end to end on a local news site, then again interrupted and resumed.

The site is crawl_bench.py's (one RSS feed per top outlet, "other-NN" feeds of 250 entries, one article page of
400-800 generated words per row of ../shared/corpus/news-metadata/cybersecurity-news-en-title-3000.csv), served
by supplywatch.localsite.LocalServer on 127.0.0.1 from this process. A supplier register of crawl_bench's vendors
is imported first, so the match step has work to do.

Two backfills of the same site into fresh databases, each `supplywatch -q backfill --json` as a real subprocess:

* clean: uninterrupted. Reported: the wall time of each step (crawl, classify, cluster, suppliers), documents/s
  over the whole backfill, and the peak RSS of the process tree (os.wait4's ru_maxrss: the largest of the
  backfill process and its waited-for children, i.e. the crawler and its extraction workers).
* interrupted: SIGKILLed once during the crawl (when a quarter of the documents are stored) and once during
  classify (when half are labelled), then called again until it exits 0.

The two final stores are compared: documents (canonical URL, title, content hash), labels (URL, label, score to
6 places, flag, evidence), stories (the set of member URLs of each story), supplier matches (URL, supplier,
role). Identical means equal sets; ids are not compared (two crawls may store sources in another order).

Usage:  nice -n 10 prlimit --as=8000000000 .venv/bin/python benchmarks/backfill_bench.py [--articles N] [--chunk K]
        [--json FILE] [--keep DIR] [--clean-only] [--distinct] [--artefact-share P] [--trace]

Past the corpus's 3,000 rows the site holds copies of them, each half a year further back (crawl_bench.load_rows).
Exit codes: 0 ran and the stores are identical, 1 they differ or a run failed, 2 the corpus is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

import crawl_bench  # noqa: E402

from supplywatch.localsite import LocalServer  # noqa: E402


def write_config(work: Path, base: str, feeds: list[dict[str, Any]]) -> Path:
    options = crawl_bench.crawl_options(max(f["entries"] for f in feeds), extract_workers=1)
    lines = ["[crawl]"] + [f"{k} = {crawl_bench.toml_value(v)}" for k, v in options.items()]
    for f in feeds:
        lines += ["", "[[sources]]", f"name = {crawl_bench.toml_value(f['name'])}", 'kind = "feed"',
                  f"url = {crawl_bench.toml_value(base + f['path'])}"]
    path = work / "supplywatch.toml"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    register = work / "suppliers.csv"
    register.write_text("name,aliases,domains,products,tier,owner\n" +
                        "".join(f"{v},,,,1,bench\n" for v in crawl_bench.VENDORS), "utf-8")
    return path


def cli(cfg: Path, db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "supplywatch", "--config", str(cfg), "--db", str(db), *args]


def prepare(cfg: Path, db: Path) -> None:
    from supplywatch.store import Store

    Store.open(db).close()
    subprocess.run(cli(cfg, db, "-q", "suppliers", "import", str(cfg.parent / "suppliers.csv")), check=True,
                   capture_output=True, cwd=ROOT)


def count(db: Path, sql: str) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute(sql).fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def backfill(cfg: Path, db: Path, chunk: int, kill_when: tuple[str, int] | None = None,
             trace: Path | None = None) -> dict[str, Any]:
    """One `backfill` process; with ``kill_when`` (SQL, threshold), SIGKILL it once the count reaches it; with
    ``trace`` (a TSV path), the RSS of each of its processes sampled over time (rss_trace.py)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cli(cfg, db, "-q", "backfill", "--chunk", str(chunk), "--json"), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tracer = None
    if trace is not None:
        from rss_trace import RssTrace

        tracer = RssTrace(proc.pid)
        tracer.start()
    killed = False
    # os.wait4, not Popen.wait: its rusage is the peak RSS of this run's process tree.
    pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
    while pid == 0 and kill_when is not None:
        if count(db, kill_when[0]) >= kill_when[1]:
            os.kill(proc.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.2)
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
    if pid == 0:
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = proc.stdout.read(), proc.stderr.read()
    wall = time.perf_counter() - started
    result = {"exit": proc.returncode, "killed": killed, "wall_s": round(wall, 2),
              "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1)}
    if tracer is not None:
        tracer.stop()
        tracer.write(trace)
        result["rss_by_process"] = tracer.peaks()
    if proc.returncode == 0:
        result["report"] = json.loads(out)
    elif not killed:
        result["stderr"] = err[-2000:]
    return result


def snapshot(db: Path) -> dict[str, Any]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    docs = set(con.execute("select canonical_url, title, content_hash from documents"))
    labels = set(con.execute("select d.canonical_url, l.label, round(l.score, 6), l.flagged, l.evidence "
                             "from labels l join documents d on d.id = l.document_id"))
    stories: dict[int, set[str]] = {}
    for story, url in con.execute("select s.story_id, d.canonical_url from story_documents s "
                                  "join documents d on d.id = s.document_id"):
        stories.setdefault(story, set()).add(url)
    matches = set(con.execute("select d.canonical_url, s.name, m.role from supplier_matches m "
                              "join documents d on d.id = m.document_id join suppliers s on s.id = m.supplier_id"))
    labelled_twice = con.execute("select count(*) from (select document_id, label from labels "
                                 "group by document_id, label having count(*) > 1)").fetchone()[0]
    con.close()
    return {"documents": docs, "labels": labels, "stories": {frozenset(v) for v in stories.values()},
            "matches": matches, "labelled_twice": labelled_twice}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=4, help="sources per crawl chunk")
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--keep", metavar="DIR", help="work here and keep the site and databases")
    parser.add_argument("--trace", action="store_true", help="sample each process's RSS during the clean run "
                        "(peaks per process in the JSON, the time series in DIR/rss-trace.tsv)")
    parser.add_argument("--clean-only", action="store_true", help="only the uninterrupted backfill (for sizes where "
                        "running it four times does not fit the time at hand)")
    parser.add_argument("--distinct", action="store_true", help="no sentence on two pages (crawl_bench.load_rows): "
                        "a real archive's cost to classify, which the embedding cache cannot shorten")
    parser.add_argument("--artefact-share", type=float, default=0.0, metavar="P",
                        help="give that share of the articles a sentence naming a signing artefact, which classify "
                             "embeds whole (dev.jsonl's real articles: 0.12; default 0: none added)")
    args = parser.parse_args(argv)
    if not crawl_bench.CORPUS.exists():
        print(f"corpus missing: {crawl_bench.CORPUS}", file=sys.stderr)
        return 2
    work = Path(args.keep or tempfile.mkdtemp(prefix="backfill-bench-"))
    site = work / "site"
    site.mkdir(parents=True, exist_ok=True)
    rows = crawl_bench.load_rows(args.articles, distinct=args.distinct, artefact_share=args.artefact_share)
    feeds = crawl_bench.build_site(rows, site)
    print(f"site: {len(rows)} articles in {len(feeds)} feeds under {site}", file=sys.stderr)
    results: dict[str, Any] = {"articles": len(rows), "distinct": args.distinct,
                               "artefact_share": args.artefact_share, "feeds": len(feeds), "chunk": args.chunk,
                               "machine": crawl_bench.machine_info(), "loadavg_start": os.getloadavg()}
    with LocalServer(site) as server:
        cfg = write_config(work, server.base, feeds)
        clean_db = work / "clean.db"
        prepare(cfg, clean_db)
        print("clean backfill ...", file=sys.stderr)
        results["clean"] = clean = backfill(cfg, clean_db, args.chunk,
                                            trace=work / "rss-trace.tsv" if args.trace else None)
        print(json.dumps(clean), file=sys.stderr)
        if not args.clean_only:
            results["interrupted"] = runs = interrupted(cfg, work / "interrupted.db", args.chunk, len(rows))
        results["loadavg_end"] = os.getloadavg()
    ok = clean["exit"] == 0
    if not args.clean_only:
        a, b = snapshot(clean_db), snapshot(work / "interrupted.db")
        same = {k: a[k] == b[k] for k in ("documents", "labels", "stories", "matches")}
        results["identical"] = same
        results["sizes"] = {k: len(a[k]) for k in ("documents", "labels", "stories", "matches")}
        results["labelled_twice"] = [a["labelled_twice"], b["labelled_twice"]]
        ok = ok and runs[-1]["exit"] == 0 and all(same.values())
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str), "utf-8")
    return 0 if ok else 1


def interrupted(cfg: Path, cut_db: Path, chunk: int, articles: int) -> list[dict[str, Any]]:
    """Backfill into ``cut_db``, SIGKILLed once a quarter of the documents are stored and once half are labelled,
    then called again until it exits 0 (at most six runs in all)."""
    prepare(cfg, cut_db)
    runs = []
    for kill_when in (("select count(*) from documents", articles // 4),
                      ("select count(distinct document_id) from labels", articles // 2), None):
        print(f"interrupted backfill, kill at {kill_when} ...", file=sys.stderr)
        runs.append(backfill(cfg, cut_db, chunk, kill_when))
        print(json.dumps(runs[-1]), file=sys.stderr)
    while runs[-1]["exit"] != 0 and len(runs) < 6:
        runs.append(backfill(cfg, cut_db, chunk))
    return runs


def report(r: dict[str, Any]) -> None:
    clean = r["clean"]
    print(f"machine: {r['machine'].get('cpu')}, {r['machine'].get('cores')}, {r['machine'].get('ram')}; "
          f"python {platform.python_version()}; load average at start {r['loadavg_start'][0]:.2f}, "
          f"at end {r['loadavg_end'][0]:.2f}")
    print(f"site: {r['articles']} articles, {r['feeds']} feeds, {r['chunk']} sources per crawl chunk")
    if clean["exit"] != 0:
        print(f"clean backfill FAILED: exit {clean['exit']}: {clean.get('stderr')}")
        return
    rep = clean["report"]
    docs = rep["documents"]
    print(f"clean backfill: {docs} documents in {clean['wall_s']:.1f} s wall = {docs / clean['wall_s']:.2f} documents/s; "
          f"peak RSS {clean['peak_rss_mb']:.0f} MB; CPU {clean['cpu_s']:.0f} s")
    for step, seconds in rep["seconds"].items():
        print(f"  {step:10s} {seconds:8.1f} s  {docs / seconds if seconds else 0:8.1f} documents/s")
    for i, run in enumerate(r.get("interrupted", []), 1):
        print(f"interrupted run {i}: exit {run['exit']}{' (SIGKILL)' if run['killed'] else ''}, {run['wall_s']:.1f} s, "
              f"peak RSS {run['peak_rss_mb']:.0f} MB" + (f"; {run['report']['classified']} labelled, "
                                                          f"{run['report']['new']} new" if 'report' in run else ""))
    if "interrupted" in r:
        total = sum(run["wall_s"] for run in r["interrupted"])
        print(f"interrupted and resumed: {total:.1f} s in all; identical to the clean run: {r['identical']} "
              f"(sizes {r['sizes']}); label rows duplicated: {r['labelled_twice']}")
    per_doc = clean["wall_s"] / docs
    cpu_per_doc = clean["cpu_s"] / docs
    print(f"EXTRAPOLATION (linear, not measured): 100,000 documents ~ {per_doc * 100_000 / 3600:.1f} h at this "
          f"wall rate on this shared machine; ~ {cpu_per_doc * 100_000 / 2 / 3600:.1f} h on 2 idle cores "
          f"({cpu_per_doc:.2f} CPU s a document, both cores busy throughout: a lower bound); "
          f"aim 2 h {'reached' if cpu_per_doc * 100_000 / 2 <= 7200 else 'NOT reached'}; "
          f"RSS aim 1.5 GB {'reached' if clean['peak_rss_mb'] < 1536 else 'NOT reached'} at this size")


if __name__ == "__main__":
    sys.exit(main())
