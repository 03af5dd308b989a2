"""Classifier throughput and memory on this machine, beside the encoder's raw forward rate.

    python benchmarks/classify_bench.py [--docs 300] [--int8]

Reads real articles from ../shared/eval/dev.jsonl (measurement only). Prints: raw batched
forward rate of the encoder over exactly the sentences classify embeds (the limit), the
Classifier's documents/s (featurize + head), the full `supplywatch classify` path through a real
SQLite store, peak RSS, and optionally int8 dynamic quantisation with its accuracy drift.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEV = ROOT.parent / "shared" / "eval" / "dev.jsonl"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=300)
    ap.add_argument("--int8", action="store_true", help="also measure torch dynamic int8 quantisation")
    args = ap.parse_args()
    if not DEV.exists():
        print(f"error: {DEV} not found (the benchmark reads real articles from ../shared)", file=sys.stderr)
        return 2
    rows = [json.loads(line) for line in DEV.read_text("utf-8").splitlines()[: args.docs]]

    import numpy as np
    import torch

    from supplywatch.classifiers import Classifier
    from supplywatch.classifiers.features import MAX_UNITS
    from supplywatch.classifiers.passages import document_units

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"machine: {cpu}, {len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    t0 = time.perf_counter()
    clf = Classifier()
    print(f"model load: {time.perf_counter() - t0:.2f} s, RSS {rss_mb():.0f} MB")

    units = [u for r in rows for u in document_units(r["title"], r["text"], limit=MAX_UNITS)]
    print(f"documents: {len(rows)}, sentences embedded: {len(units)} ({len(units) / len(rows):.1f} per document)")

    # The limit: one batched forward pass over the same sentences, nothing else.
    t0 = time.perf_counter()
    ref = clf.encoder.encode(units)
    raw = time.perf_counter() - t0
    print(f"raw forward:   {len(units) / raw:7.1f} sentences/s = {len(rows) / raw:6.2f} documents/s")

    clf.featurizer._cache.clear()
    t0 = time.perf_counter()
    results = clf.label(rows)
    full = time.perf_counter() - t0
    print(f"Classifier:    {len(rows) / full:6.2f} documents/s ({100 * raw / full:.0f}% of the raw forward rate)")

    from supplywatch import config
    from supplywatch.pipeline import make_pipeline
    from supplywatch.store import Document, FetchOutcome, Store, utcnow

    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.db")
        with Store.open(db) as store:
            store.sync_sources([{"name": "dev", "kind": "feed", "url": "https://x.example/"}])
            now = utcnow()
            store.save_fetch([Document(source="dev", title=r["title"], text=r["text"], guid=r["id"],
                                       published=r["published"]) for r in rows], FetchOutcome("dev", "ok", now, now))
        cfg = config.load(None, env={})
        t0 = time.perf_counter()
        with make_pipeline(cfg, db) as sw:  # loads its own Classifier: included, as a user pays it
            counts = sw.classify().as_dict()
        pipeline = time.perf_counter() - t0
    print(f"classify cmd:  {counts['documents'] / pipeline:6.2f} documents/s including model load and SQLite writes")
    print(f"peak RSS:      {rss_mb():.0f} MB (this process, all of the above)")

    if args.int8:
        q = torch.quantization.quantize_dynamic(clf.encoder.model, {torch.nn.Linear}, dtype=torch.qint8)
        clf.encoder.model = q
        t0 = time.perf_counter()
        got = clf.encoder.encode(units)
        qt = time.perf_counter() - t0
        cos = (got * ref).sum(1)
        clf.featurizer._cache.clear()
        qres = clf.label(rows)
        drift = [abs(a[0][0].score - b[0][0].score) for a, b in zip(results, qres, strict=True)]
        flips = sum(a[0][1] != b[0][1] for a, b in zip(results, qres, strict=True))
        print(f"int8 dynamic:  {len(units) / qt:7.1f} sentences/s ({raw / qt:.2f}x fp32); cosine to fp32 "
              f"mean {cos.mean():.4f} min {cos.min():.4f}; headline score drift mean {np.mean(drift):.4f} "
              f"max {np.max(drift):.4f}; flag flips {flips}/{len(rows)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
