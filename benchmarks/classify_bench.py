"""Classifier throughput on this machine: each speed lever alone against torch fp32, then all combined.

    python benchmarks/classify_bench.py [--docs 200] [--parity 1000] [--skip-cmd]

Reads real articles from ../shared/eval/dev.jsonl (measurement only; the packaged head's flags are compared,
never scored against gold). Every figure comes from one run, so the ratios hold even on a loaded machine:

* baseline: torch fp32, every unit (title + up to 40 sentences), max 128 tokens: the encoder's forward rate;
* (a) selection: only the units ``Featurizer(select=True)`` embeds; flags vs all units (must be identical),
  and the brief's looser variant (title + lead + any sentence with a lexical cue), whose flag changes it costs;
* (b) ONNX Runtime int8 (``onnx_int8``): rate, cosine to fp32 on ``--parity`` real sentences (worst, 1st
  percentile, mean), flag changes under the packaged head;
* (c) max 64 tokens (torch fp32): rate and cosine to the 128-token vectors;
* (e) ONNX Runtime fp32 (the default on CPU cores): rate beside torch's, the largest difference to torch's
  vectors, flag changes under the packaged head;
* (d) the embedding cache across runs: a second run over the same documents, and the share of a fresh half's
  units already cached by the other half (boilerplate);
* combined: ``Classifier(backend="auto")`` (int8 on CPU, selection, cache) cold and warm, and the
  ``supplywatch classify`` path through a real SQLite store, model load included;
* GPU: torch on CUDA with batches of ``encoder.GPU_BATCH`` when ``torch.cuda.is_available()``.
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


def timed(fn, *args):  # noqa: ANN001, ANN202 - a tiny helper
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def flags(labelled) -> list[tuple[bool, ...]]:  # noqa: ANN001
    return [tuple(f for _, f in labels) for labels in labelled]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=200)
    ap.add_argument("--parity", type=int, default=1000, help="sentences for the int8 cosine check")
    ap.add_argument("--skip-cmd", action="store_true", help="leave out the `supplywatch classify` path")
    args = ap.parse_args()
    if not DEV.exists():
        print(f"error: {DEV} not found (the benchmark reads real articles from ../shared)", file=sys.stderr)
        return 2
    rows_all = [json.loads(line) for line in DEV.read_text("utf-8").splitlines()]
    rows = rows_all[: args.docs]
    tmp = tempfile.mkdtemp(prefix="classify-bench-")
    os.environ["SUPPLYWATCH_CACHE"] = os.environ.get("SUPPLYWATCH_CACHE") or tmp  # the int8 file may be reused

    import numpy as np
    import torch

    from supplywatch.classifiers import Classifier, Head, resolve_head
    from supplywatch.classifiers.encoder import Encoder
    from supplywatch.classifiers.features import LEAD_UNITS, MAX_UNITS, Featurizer, select_units
    from supplywatch.classifiers.labelling import label_documents
    from supplywatch.classifiers.lexical import sentence_cues
    from supplywatch.classifiers.passages import document_units
    from supplywatch.store.embcache import EmbeddingCache

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"machine: {cpu}, {len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), load average {os.getloadavg()[0]:.1f}")
    head = Head.load(resolve_head(None))
    fp32 = Encoder(backend="torch")
    per_doc = [document_units(r["title"], r["text"], limit=MAX_UNITS) for r in rows]
    units = [u for us in per_doc for u in us]
    lead = head.embedded_lead  # as classify selects: the title alone for a head whose topics read words
    sel = [u for us in per_doc for u in select_units(us, lead)]
    n = len(rows)
    print(f"documents: {n}; units: {len(units)} ({len(units) / n:.1f} a document); selected: {len(sel)} "
          f"({len(sel) / n:.1f}; {lead} unit(s) of a document naming no signing artefact); documents naming one: "
          f"{sum(select_units(us) is us for us in per_doc)}")

    ref, t_base = timed(fp32.encode, units)
    print(f"baseline torch fp32:  {len(units) / t_base:7.1f} sentences/s = {n / t_base:6.2f} documents/s")

    # (a) selection: same vectors, fewer of them.
    _, t_sel = timed(fp32.encode, sel)
    full = Featurizer(fp32)
    full._cache.update({k: v for k, v in zip(_keys(units), ref, strict=True)})
    base_labels = label_documents(rows, head, full, None)
    select = Featurizer(fp32, select=True, lead=lead)
    select._cache = full._cache
    sel_labels = label_documents(rows, head, select, None)
    changed = sum(a != b for a, b in zip(flags(base_labels), flags(sel_labels), strict=True))
    drift = [abs(a[0][0].score - b[0][0].score) for a, b in zip(base_labels, sel_labels, strict=True)]
    print(f"(a) selection:        {n / t_sel:6.2f} documents/s ({t_base / t_sel:.2f}x); documents with any flag "
          f"changed: {changed}/{n}; stored headline score drift (capped documents only) max {max(drift):.4f}")
    loose = _LooseSelect(full, LEAD_UNITS, sentence_cues)
    loose_labels = label_documents(rows, head, loose, None)
    lchanged = sum(a != b for a, b in zip(flags(base_labels), flags(loose_labels), strict=True))
    lost = sum(a[0][1] and not b[0][1] for a, b in zip(base_labels, loose_labels, strict=True))
    print(f"    variant lead + cue sentences: {loose.kept / n:.1f} units a document; documents with a flag "
          f"changed {lchanged}/{n}, headline flags lost {lost} of {sum(a[0][1] for a in base_labels)}")

    # (b) ONNX Runtime int8.
    int8 = Encoder(backend="onnx-int8")
    got, t_int8 = timed(int8.encode, units)
    rng = np.random.default_rng(0)
    pool = sorted({u for r in rows_all[:600] for u in document_units(r["title"], r["text"], limit=MAX_UNITS)})
    parity = [pool[i] for i in rng.choice(len(pool), min(args.parity, len(pool)), replace=False)]
    cos = (int8.encode(parity) * fp32.encode(parity)).sum(1)
    q = Featurizer(int8)
    q._cache.update({k: v for k, v in zip(_keys(units), got, strict=True)})
    q_labels = label_documents(rows, head, q, None)
    qchanged = sum(a != b for a, b in zip(flags(base_labels), flags(q_labels), strict=True))
    qdrift = [abs(a[0][0].score - b[0][0].score) for a, b in zip(base_labels, q_labels, strict=True)]
    print(f"(b) onnx int8:        {len(units) / t_int8:7.1f} sentences/s ({t_base / t_int8:.2f}x); cosine to fp32 on "
          f"{len(parity)} sentences: worst {cos.min():.4f}, 1st percentile {np.percentile(cos, 1):.4f}, mean "
          f"{cos.mean():.4f}; documents with a flag changed {qchanged}/{n}; headline score drift mean "
          f"{np.mean(qdrift):.4f} max {np.max(qdrift):.4f}")

    # (e) ONNX Runtime over the same fp32 weights (the default on CPU cores since 2026-12-01).
    onnx = Encoder(backend="onnx")
    ogot, t_onnx = timed(onnx.encode, units)
    o = Featurizer(onnx)
    o._cache.update({k: v for k, v in zip(_keys(units), ogot, strict=True)})
    o_labels = label_documents(rows, head, o, None)
    ochanged = sum(a != b for a, b in zip(flags(base_labels), flags(o_labels), strict=True))
    odrift = max(abs(a[0][0].score - b[0][0].score) for a, b in zip(base_labels, o_labels, strict=True))
    _, t_base2 = timed(fp32.encode, units)  # torch again: the ratio from neighbouring runs on a noisy machine
    print(f"(e) onnx fp32:        {len(units) / t_onnx:7.1f} sentences/s ({min(t_base, t_base2) / t_onnx:.2f}x torch's "
          f"better run, {t_base2:.1f} s); max |difference| to torch's vectors {abs(ogot - ref).max():.2e}; documents "
          f"with a flag changed {ochanged}/{n}; headline score drift max {odrift:.2e}")

    # (c) shorter sentences.
    fp32.max_length = 64
    short, t_short = timed(fp32.encode, units)
    fp32.max_length = 128
    scos = (short * ref).sum(1)
    print(f"(c) max 64 tokens:    {len(units) / t_short:7.1f} sentences/s ({t_base / t_short:.2f}x); cosine to 128 "
          f"tokens worst {scos.min():.4f}, 1st percentile {np.percentile(scos, 1):.4f}; units over 64 tokens "
          f"{np.mean([len(ids) > 64 for ids in fp32.tokenizer(units)['input_ids']]):.1%}")

    # (d) the cache across runs (int8 vectors, as shipped).
    cache_path = Path(tmp) / "embeddings.sqlite"
    cold = Featurizer(int8, select=True, cache=EmbeddingCache(cache_path, "bench-a"))
    _, t_cold = timed(cold, rows)
    warm = Featurizer(int8, select=True, cache=EmbeddingCache(cache_path, "bench-a"))
    _, t_warm = timed(warm, rows)
    half = n // 2
    other = Featurizer(int8, select=True, cache=EmbeddingCache(cache_path, "bench-b"))
    other(rows[:half])
    later = Featurizer(int8, select=True, cache=EmbeddingCache(cache_path, "bench-b"))
    later(rows[half:])
    hit = later.store_cache.hits / max(1, later.store_cache.hits + later.store_cache.misses)
    print(f"(d) cache:            warm rerun {n / t_warm:6.1f} documents/s ({t_cold / t_warm:.1f}x the cold run); "
          f"a new half's units already cached by the other half: {hit:.1%}; file "
          f"{_size_mb(cache_path):.1f} MB for {len(cold.store_cache)} vectors")

    # Combined, as shipped.
    clf, t_load = timed(lambda: Classifier(backend="auto"))
    print(f"Classifier(): backend {clf.encoder.backend}, load {t_load:.1f} s")
    clf.featurizer.store_cache = EmbeddingCache(Path(tmp) / "combined.sqlite", clf.encoder.identity)
    _, t_comb = timed(clf.label, rows)
    clf.featurizer._cache.clear()
    _, t_comb_warm = timed(clf.label, rows)
    print(f"combined (cold cache): {n / t_comb:6.2f} documents/s ({t_base / t_comb:.2f}x the fp32 baseline)")
    print(f"combined (warm cache): {n / t_comb_warm:6.2f} documents/s")

    if torch.cuda.is_available():
        gpu = Encoder(backend="torch")
        _, t_gpu = timed(gpu.encode, units)
        print(f"GPU ({torch.cuda.get_device_name(0)}, batch {gpu.batch_size}): {len(units) / t_gpu:.1f} sentences/s "
              f"= {n / t_gpu:.1f} documents/s")
    else:
        print("GPU: none here (torch.cuda.is_available() is false): not measured")

    if not args.skip_cmd:
        _classify_cmd(rows, tmp)
    print(f"peak RSS: {rss_mb():.0f} MB (this process, all of the above)")
    return 0


def _size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6


def _keys(units: list[str]) -> list[bytes]:
    from supplywatch.classifiers.features import unit_key

    return [unit_key(u) for u in units]


class _LooseSelect:
    """The brief's variant: title + lead + every later sentence with any lexical cue, for every document."""

    def __init__(self, full, lead: int, cues):  # noqa: ANN001
        self.full, self.lead, self.cues, self.kept = full, lead, cues, 0

    def __call__(self, docs):  # noqa: ANN001, ANN204
        from supplywatch.classifiers.features import DocFeatures

        out = []
        for f in self.full(docs):
            keep = [i for i, u in enumerate(f.units) if i < self.lead or any(self.cues(u))]
            self.kept += len(keep)
            out.append(DocFeatures([f.units[i] for i in keep], f.emb[keep], f.cues[keep]))
        return out


def _classify_cmd(rows, tmp: str) -> None:  # noqa: ANN001
    from supplywatch import config
    from supplywatch.pipeline import make_pipeline
    from supplywatch.store import Document, FetchOutcome, Store, utcnow

    db = str(Path(tmp) / "bench.db")
    with Store.open(db) as store:
        store.sync_sources([{"name": "dev", "kind": "feed", "url": "https://x.example/"}])
        now = utcnow()
        store.save_fetch([Document(source="dev", title=r["title"], text=r["text"], guid=r["id"],
                                   published=r["published"]) for r in rows], FetchOutcome("dev", "ok", now, now))
    cfg = config.load(None, env={})
    cfg.classifier["embedding_cache"] = 0  # a cold run: what a backfill of new documents meets
    t0 = time.perf_counter()
    with make_pipeline(cfg, db) as sw:  # loads its own Classifier: included, as a user pays it
        counts = sw.classify().as_dict()
    took = time.perf_counter() - t0
    print(f"classify cmd:  {counts['documents'] / took:6.2f} documents/s including model load and SQLite writes")


if __name__ == "__main__":
    raise SystemExit(main())
