"""Session 27 (CLASSIFY.md, "embedding only a window", last part): ONNX Runtime's offline transformer optimizer
(fused attention, SkipLayerNorm, BiasGelu) on the fp32 file against the file as built, 1,000 dev sentences and 300
lead texts, each timed twice alternately; max difference and worst cosine. Run from the repository root:
.venv/bin/python benchmarks/detection_research/onnx_fused.py"""
import json, time, random, glob, numpy as np
from onnxruntime.transformers.optimizer import optimize_model
src = glob.glob("/root/.cache/supplywatch/*-fp32.onnx")[0]
opt = optimize_model(src, model_type="bert", num_heads=12, hidden_size=384, opt_level=1)
print(opt.get_fused_operator_statistics())
opt.save_model_to_file("/tmp/fused.onnx")
from supplywatch.classifiers.onnx_int8 import OnnxSession
from supplywatch.classifiers.encoder import Encoder
from supplywatch.classifiers.passages import document_units
from supplywatch.classifiers.stories import lead_text
rows = [json.loads(l) for l in open("../shared/eval/dev.jsonl")]
random.seed(1)
sents = [u for d in random.sample(rows, 60) for u in document_units(d.get("title",""), d.get("text",""))][:1000]
leads = [lead_text(d) for d in random.sample(rows, 300)]
enc = Encoder(backend="onnx")
base = enc.session
fused = OnnxSession(__import__("pathlib").Path("/tmp/fused.onnx"), threads=2)
for name, xs in (("sentences", sents), ("leads", leads)):
    for label, sess in (("plain", base), ("fused", fused), ("plain", base), ("fused", fused)):
        enc.session = sess
        t = time.perf_counter(); v = enc.encode(xs); dt = time.perf_counter() - t
        print(name, label, f"{len(xs)/dt:.1f}/s")
    enc.session = base; a = enc.encode(xs); enc.session = fused; b = enc.encode(xs)
    print(name, "max abs diff", float(np.abs(a - b).max()), "min cos", float((a * b).sum(1).min()))
