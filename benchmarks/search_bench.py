"""Search benchmark: `supplywatch search` (Store.search) on a large store, beside raw FTS5 and a LIKE scan.

The store is built through the store's own API (Store.insert_documents in transactions of --batch
documents, Store.save_labels for a share of them): titles from
../shared/corpus/news-metadata/cybersecurity-news-en-title-3000.csv, cycled with variations (a
prefix, a vendor, a part number), sources from its outlets, dates spread over 2016-2026, and bodies of
about 150 words drawn from a security-news vocabulary (Zipf-like weights, vendor names, CVE ids, a few
rare words planted in a handful of documents).

For each query it times, warm (the file in the page cache), the same Store.search call the CLI makes
(read-only store, 20 results with snippets), raw FTS5 on the same file - ``select rowid from
documents_fts where documents_fts match ? order by rank limit 20``, the limit - and, for a few queries
and iterations, a LIKE '%...%' scan of title and text (the naive way: newest 20 matching). Beside the
limit it times ``order by bm25(documents_fts, 5.0, 1.0) limit 20`` (SQLite's top-N sorter instead of
FTS5's full sort: what Store.search does), and with --alt the other plan for Store.search: FTS5's
``ORDER BY rank`` with the filters joined per row.

Usage:  .venv/bin/python benchmarks/search_bench.py [--docs N] [--db FILE] [--rebuild] [--iterations N]
        [--like-iterations N] [--alt] [--json FILE]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import re
import sqlite3
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from supplywatch.store import Document, Label, Store, utcnow  # noqa: E402
from supplywatch.store.search import quote  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "news-metadata" / "cybersecurity-news-en-title-3000.csv"
LABELS = ["supply_chain_cert_compromise", "vulnerability", "malware", "cyber_attack", "data_breach"]
VENDORS = ["Microsoft", "Cisco", "Fortinet", "Ivanti", "Citrix", "Okta", "SolarWinds", "Atlassian", "VMware", "Oracle",
           "Zyxel", "SonicWall", "Progress", "GitLab", "JetBrains", "Cloudflare", "Snowflake", "Salesforce", "Adobe",
           "Apple", "Google", "Samsung", "Nvidia", "Intel", "Broadcom", "Juniper", "Palo Alto Networks", "CrowdStrike",
           "Kaseya", "ConnectWise", "MOVEit", "Veeam", "Acronis", "TeamViewer", "AnyDesk", "Zoom", "Slack", "Twilio"]
COMMON = ("the a of to and in that for on with as by was is it from at its said has have were be an are this which "
          "after their been also had more than but not other they who would will about new over one into")
SECURITY = (
    "attack attackers hackers threat actors breach data stolen certificate signing key code update software supply "
    "chain vendor customers systems network access credentials password vulnerability exploit patch security flaw "
    "critical remote execution server cloud email phishing malware ransomware encrypted files ransom payment "
    "extortion leak site dark web forum incident response investigation forensic firm law enforcement police "
    "arrested charged sanctions government agency cisa advisory warned organizations users accounts compromised "
    "backdoor implant loader trojan infostealer botnet ddos outage disruption services restored backup recovery "
    "zero-day exploited wild authentication bypass privilege escalation injection sql cross-site scripting "
    "firmware router vpn appliance endpoint detection edr antivirus researchers discovered disclosed reported "
    "statement spokesperson confirmed affected million records personal information social security numbers "
    "hospital health school university bank financial retail manufacturing energy telecom airline insurer "
    "regulator fine lawsuit class action settlement notification mfa token session cookie api open-source "
    "package repository npm pypi maintainer dependency build pipeline ci signed binaries revoked intermediate "
    "root ca domain dns hijacked typosquatting campaign state-sponsored apt espionage north korean russian chinese "
    "iranian group affiliate operator negotiator decryptor leak published samples stolen internal documents"
).split()
RARE = ["xylography", "quillwort", "zymurgy", "frangipane", "obsidianite"]
CVES = ["CVE-2024-3094", "CVE-2023-34362", "CVE-2021-44228", "CVE-2024-21762", "CVE-2023-4966"]
PHRASES = ["signing key", "code-signing certificate", "supply chain attack", "stolen credentials",
           "root certificate", "data breach", "remote code execution", "private key"]
PATTERN = "cgcgtcgcgcgtcgcgctgc"
PREFIXES = ["", "Update: ", "Report: ", "Exclusive: ", "Analysis: ", "Breaking: ", "Opinion: ", "Explainer: "]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def load_corpus() -> list[dict[str, str]]:
    if not CORPUS.exists():
        sys.exit(f"{CORPUS} not found (the corpus lives in ../shared beside the project)")
    with CORPUS.open(encoding="utf-8", newline="") as fh:
        return [row for row in csv.DictReader(fh) if row["title"].strip()]


class Generator:
    """Deterministic documents: the corpus' titles cycled with variations, ~150-word bodies.

    A body is about 45% function words, 15% the document's topic (6 terms of the security vocabulary,
    the first terms of the list the likeliest: "attack" is in about 30% of documents, "certificate"
    and "stolen" in about 15%, "ransomware" in about 5%), 40% a general vocabulary of 40,000 made-up
    words with Zipf weights (standing in for the rest of English), plus the vendor (1-3 times), a CVE
    id in 2% of documents, a stock phrase ("signing key", "data breach", ...) in 10%
    and a rare word in 1 of 20,000.
    """

    def __init__(self, rows: list[dict[str, str]], seed: int = 7):
        self.rows = rows
        self.rng = random.Random(seed)
        top = [name for name, _ in sorted(self._counts().items(), key=lambda kv: -kv[1])[:19]]
        self.sources = {name: slug(name) for name in top}
        self.common = COMMON.split()
        self.common_cum = _cumulative([1.0 / (r + 2) for r in range(len(self.common))])
        self.topic_cum = _cumulative([1.0 / (r + 5) for r in range(len(SECURITY))])
        syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
        gen = random.Random(seed + 1)
        general: set[str] = set()
        while len(general) < 40_000:
            general.add("".join(gen.choice(syllables) for _ in range(gen.randint(2, 4))))
        self.general = sorted(general)
        gen.shuffle(self.general)
        self.general_cum = _cumulative([1.0 / (r + 10) for r in range(len(self.general))])
        self.start = date(2016, 1, 1)
        self.days = (date(2026, 11, 27) - self.start).days

    def _counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row["source_title"]] = counts.get(row["source_title"], 0) + 1
        return counts

    def source_names(self) -> list[str]:
        return sorted(set(self.sources.values()) | {"other"})

    def body(self) -> str:
        rng = self.rng
        n = rng.randint(120, 180)
        topic = list(set(rng.choices(SECURITY, cum_weights=self.topic_cum, k=6)))
        # Interleaved by a fixed pattern of 20 slots (9 function, 3 topic, 8 general) from a random offset:
        # as mixed as a shuffle, at a fifth of its cost.
        picks = {"c": iter(rng.choices(self.common, cum_weights=self.common_cum, k=n * 9 // 20 + 9)),
                 "t": iter(rng.choices(topic, k=n * 3 // 20 + 3)),
                 "g": iter(rng.choices(self.general, cum_weights=self.general_cum, k=n * 8 // 20 + 8))}
        offset = rng.randrange(len(PATTERN))
        words = [next(picks[PATTERN[(offset + i) % len(PATTERN)]]) for i in range(n)]
        vendor = rng.choice(VENDORS)
        for _ in range(rng.randint(1, 3)):
            words.insert(rng.randrange(len(words)), vendor)
        if rng.random() < 0.02:
            words.insert(rng.randrange(len(words)), rng.choice(CVES))
        if rng.random() < 0.1:
            words.insert(rng.randrange(len(words)), rng.choice(PHRASES))
        if rng.random() < 0.00005:
            words.insert(rng.randrange(len(words)), rng.choice(RARE))
        sentences = [" ".join(words[i:i + 15]) for i in range(0, len(words), 15)]
        return " ".join(s[0].upper() + s[1:] + "." for s in sentences), vendor

    def document(self, n: int) -> Document:
        rng = self.rng
        row = self.rows[n % len(self.rows)]
        cycle = n // len(self.rows)
        title = row["title"].strip()
        if cycle:
            title = f"{PREFIXES[cycle % len(PREFIXES)]}{title}"
            if cycle % 3 == 0:
                title += f" ({rng.choice(VENDORS)})"
            elif cycle % 3 == 1:
                title += f", part {cycle}"
        text, vendor = self.body()
        day = self.start + timedelta(days=rng.randrange(self.days))
        published = f"{day.isoformat()}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z"
        source = self.sources.get(row["source_title"], "other")
        url = f"https://{source}.example/{n}"
        return Document(source=source, title=title, text=text, url=url, canonical_url=url, guid=str(n),
                        published=published, vendor=vendor, text_source="page")


def _cumulative(weights: list[float]) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def build(path: Path, docs: int, batch: int, label_share: float) -> dict[str, float]:
    gen = Generator(load_corpus())
    started = time.perf_counter()
    labelled = 0
    with Store.open(path) as store:
        store.sync_sources([{"name": name, "kind": "feed", "url": f"https://{name}.example/feed"}
                            for name in gen.source_names()])
        now = utcnow()
        rng = random.Random(11)
        for first in range(0, docs, batch):
            chunk = [gen.document(n) for n in range(first, min(docs, first + batch))]
            store.insert_documents(chunk, now)
            # Ids follow insertion order in a fresh file: the batch's ids are first+1 .. first+len(chunk).
            results = []
            for doc_id in range(first + 1, first + len(chunk) + 1):
                if rng.random() < label_share:
                    labs = [(Label(name, round(rng.random(), 4), "evidence sentence"), rng.random() < 0.3)
                            for name in LABELS]
                    results.append((doc_id, labs))
            if results:
                labelled += store.save_labels(results, "bench-v1", now)
            done = first + len(chunk)
            if done % (batch * 10) == 0 or done == docs:
                elapsed = time.perf_counter() - started
                print(f"  built {done:,} documents in {elapsed:.0f} s", file=sys.stderr, flush=True)
    return {"build_s": time.perf_counter() - started, "labelled": labelled}


# (name, query, Store.search keyword arguments)
QUERIES: list[tuple[str, str, dict]] = [
    ("two words", "certificate stolen", {}),
    ("common word", "ransomware", {}),
    ("vendor name", "Fortinet", {}),
    ("CVE id", "CVE-2024-3094", {}),
    ("rare word", "xylography", {}),
    ("--raw phrase", '"signing key"', {"raw": True}),
    ("--raw NEAR/OR", "NEAR(stolen certificate, 5) OR revoked", {"raw": True}),
    ("--label", "ransomware", {"label": "malware"}),
    ("--label --min-score", "certificate stolen", {"label": "supply_chain_cert_compromise", "min_score": 0.8}),
    ("--since (last 30 days)", "certificate stolen", {"since": "2026-10-28"}),
    ("--source", "ransomware", {"source": "techradar"}),
    ("--source --since", "data breach", {"source": "the-register", "since": "2025-01-01"}),
]
LIKE_QUERIES = ["certificate stolen", "xylography", "CVE-2024-3094"]


def timed(fn, iterations: int, warmup: int = 2) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(iterations):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]
    return {"p50": statistics.median(samples), "p95": p95, "max": samples[-1]}


def alt_sql(where: str) -> str:
    """The other plan: FTS5 hands its matches over in rank order (``ORDER BY rank``, weights set by
    ``rank MATCH``), filters joined per row, snippets only for the rows returned."""
    return f"""
        select d.id, d.title, snippet(documents_fts, 1, '[', ']', '…', 16)
        from documents_fts join documents d on d.id = documents_fts.rowid
        where documents_fts match ? and documents_fts.rank match 'bm25(5.0, 1.0)' {where}
        order by documents_fts.rank limit 20"""


def alt_where(kw: dict) -> tuple[str, list]:
    where, params = [], []
    if "source" in kw:
        where.append("and d.source = ?")
        params.append(kw["source"])
    if "since" in kw:
        where.append("and d.published >= ?")
        params.append(kw["since"])
    if "label" in kw:
        where.append("and exists (select 1 from labels l where l.document_id = d.id and l.label = ? and l.flagged = 1 "
                     "and l.score >= ?)")
        params += [kw["label"], kw.get("min_score", 0.0)]
    return " ".join(where), params


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        m = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = m.group(1).strip() if m else cpu
    except OSError:
        pass
    return {"cpu": cpu, "cores": f"{os.cpu_count()} ({len(os.sched_getaffinity(0))} usable)",
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version, "platform": platform.platform()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path, help="store file (default /tmp/supplywatch-search-bench-DOCS.db); reused if complete")
    ap.add_argument("--rebuild", action="store_true", help="build the store again even if the file exists")
    ap.add_argument("--batch", type=int, default=20_000, help="documents per transaction")
    ap.add_argument("--label-share", type=float, default=0.2, help="share of documents given labels")
    ap.add_argument("--iterations", type=int, default=40)
    ap.add_argument("--like-iterations", type=int, default=3)
    ap.add_argument("--alt", action="store_true", help="also time the materialise-then-filter plan on filtered queries")
    ap.add_argument("--json", type=Path, help="write the figures here as JSON")
    ap.add_argument("--build-only", action="store_true", help="build the store and stop (time it later)")
    ap.add_argument("--optimize", action="store_true", help="merge the FTS5 index (Store.optimize_search) before timing")
    args = ap.parse_args()

    path = args.db or Path(f"/tmp/supplywatch-search-bench-{args.docs}.db")
    info = machine()
    print(f"Machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, SQLite {info['sqlite']}")
    built = None
    if args.rebuild or not path.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        print(f"Building {args.docs:,} documents into {path} ...", flush=True)
        built = build(path, args.docs, args.batch, args.label_share)
        print(f"Build: {built['build_s']:.0f} s ({args.docs / built['build_s']:,.0f} documents/s), "
              f"{built['labelled']:,} documents labelled")
        if args.json:
            args.json.with_suffix(".build.json").write_text(json.dumps({"machine": info, "docs": args.docs, **built}))
    if args.build_only:
        return 0
    optimize_s = None
    if args.optimize:
        started = time.perf_counter()
        with Store.open(path) as writable:
            writable.optimize_search()
            writable.db.execute("pragma wal_checkpoint(truncate)")
        optimize_s = time.perf_counter() - started
        print(f"Optimize (Store.optimize_search): {optimize_s:.1f} s")
    print(f"Load average before timing: {os.getloadavg()[0]:.2f} (other processes share these cores)")
    store = Store.open(path, readonly=True)
    count = store.count_documents()
    if count != args.docs:
        print(f"{path} holds {count:,} documents, not {args.docs:,}: use --rebuild", file=sys.stderr)
        return 2
    size = path.stat().st_size
    print(f"File: {size / 2**20:,.0f} MiB, {count:,} documents")
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)

    results = []
    print(f"\n{'query':<24} {'hits':>5} {'search p50':>10} {'p95':>6} | {'FTS5 rank p50':>13} {'p95':>6} {'ratio':>6} "
          f"| {'FTS5 bm25() p50':>15} {'p95':>6}" + (f" | {'alt p50':>7} {'p95':>6}" if args.alt else "") + "   (ms)")
    for name, query, kw in QUERIES:
        hits = store.search(query, limit=20, **kw)
        ours = timed(lambda q=query, k=kw: store.search(q, limit=20, **k), args.iterations)
        match = query if kw.get("raw") else quote(query)
        fts = timed(lambda m=match: conn.execute("select rowid from documents_fts where documents_fts match ? "
                                                  "order by rank limit 20", [m]).fetchall(), args.iterations)
        bm25 = timed(lambda m=match: conn.execute("select rowid from documents_fts where documents_fts match ? "
                                                   "order by bm25(documents_fts, 5.0, 1.0) limit 20", [m]).fetchall(),
                     args.iterations)
        row = {"name": name, "query": query, "options": kw, "hits": len(hits), "search": ours, "fts5_rank": fts,
               "fts5_bm25": bm25, "ratio_p95": ours["p95"] / fts["p95"]}
        line = (f"{name:<24} {len(hits):>5} {ours['p50']:>10.1f} {ours['p95']:>6.1f} | {fts['p50']:>13.1f} {fts['p95']:>6.1f} "
                f"{row['ratio_p95']:>5.2f}x | {bm25['p50']:>15.1f} {bm25['p95']:>6.1f}")
        if args.alt:
            where, params = alt_where(kw)
            row["alt"] = timed(lambda m=match, w=where, p=params: conn.execute(alt_sql(w), [m, *p]).fetchall(),
                               max(5, args.iterations // 2))
            line += f" | {row['alt']['p50']:>7.1f} {row['alt']['p95']:>6.1f}"
        results.append(row)
        print(line, flush=True)
    like = []
    print(f"\nLIKE '%...%' scan of title and text, newest 20 ({args.like_iterations} iterations, {len(LIKE_QUERIES)} queries):")
    for query in LIKE_QUERIES:
        pattern = f"%{query}%"
        t = timed(lambda p=pattern: conn.execute("select id from documents where title like ? or text like ? "
                                                  "order by published desc limit 20", [p, p]).fetchall(),
                  args.like_iterations, warmup=1)
        like.append({"query": query, **t})
        print(f"  {query:<26} p50 {t['p50']:,.0f} ms")
    print(f"Load average after timing: {os.getloadavg()[0]:.2f}")
    every = [r["search"]["p95"] for r in results]
    print(f"\nSearch p95 over all queries: worst {max(every):.1f} ms; median of p95s {statistics.median(every):.1f} ms; "
          f"worst ratio to raw FTS5 {max(r['ratio_p95'] for r in results):.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "docs": count, "file_bytes": size, "build": built,
                                         "optimize_s": optimize_s, "queries": results, "like": like}, indent=2))
    store.close()
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
