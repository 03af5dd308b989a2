"""Session 27 (CLASSIFY.md, "embedding only a window", last part): fp32 ONNX Runtime on 1 core against 2 (the
process's CPU affinity sets the encoder's threads), 600 dev sentences. Run from the repository root:
.venv/bin/python benchmarks/detection_research/onnx_threads.py"""
import json, time, random
from supplywatch.classifiers.encoder import Encoder
from supplywatch.classifiers.passages import document_units
rows = [json.loads(l) for l in open("../shared/eval/dev.jsonl")]
random.seed(1)
sents = [u for d in random.sample(rows, 40) for u in document_units(d.get("title",""), d.get("text",""))][:600]
for th in (1, 2):
    import os; os.sched_setaffinity(0, set(range(th))); enc = Encoder(backend="onnx")
    enc.encode(sents[:20])
    t = time.perf_counter(); enc.encode(sents); dt = time.perf_counter() - t
    print(th, "threads", f"{len(sents)/dt:.1f}/s")
