"""int8 file recipes against torch fp32 on this machine's CPU: builds the encoder's ONNX file with int8 weights
(``int8``), int8 with 7-bit ``reduce_range`` (``reduce``) or uint8 weights (``u8``, the shipped recipe), and prints
the worst, 1st-percentile and mean cosine to fp32 on the parity test's 150 project sentences and on 1,000 random
dev sentences (seed 0), then the int8 file's sentences/s (one sentence a run, as the encoder runs it).
benchmarks/CLASSIFY.md, "int8 on x86 CPUs without VNNI".

    python benchmarks/int8_weights.py int8|reduce|u8
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEV = ROOT.parent / "shared" / "eval" / "dev.jsonl"


def main(mode: str) -> None:
    import onnxruntime.quantization as q

    from supplywatch.classifiers import examples, onnx_int8
    from supplywatch.classifiers.encoder import Encoder, resolve_model_path
    from supplywatch.classifiers.passages import document_units

    original = q.quantize_dynamic

    def quantize(src: str, dst: str, **kw: object) -> None:
        kw["reduce_range"] = mode == "reduce"
        kw["weight_type"] = q.QuantType.QUInt8 if mode == "u8" else q.QuantType.QInt8
        original(src, dst, **kw)

    q.quantize_dynamic = quantize
    started = time.perf_counter()
    path = onnx_int8.build(resolve_model_path(None), Path(tempfile.mkdtemp()))
    print(f"{mode}: built in {time.perf_counter() - started:.0f} s", flush=True)
    int8 = Encoder(backend="torch")
    int8.session = onnx_int8.OnnxSession(path, threads=2)
    fp32 = Encoder(backend="torch")
    test = sorted({u for row in examples()[::4]
                   for u in document_units(row.get("title") or "", row.get("text") or "", limit=40)})[:150]
    units = [u for line in DEV.open(encoding="utf-8") for r in [json.loads(line)]
             for u in document_units(r["title"], r["text"], limit=40)]
    dev = [units[i] for i in np.random.default_rng(0).choice(len(units), 1000, replace=False)]
    for name, sentences in (("150 test sentences", test), ("1,000 dev sentences", dev)):
        a = np.vstack([int8._forward_onnx(sentences[i:i + 32]) for i in range(0, len(sentences), 32)])
        a /= np.linalg.norm(a, axis=1, keepdims=True)
        cos = (a * fp32.encode(sentences)).sum(1)
        print(f"{mode}: {name}: worst {cos.min():.4f}, 1st percentile {np.percentile(cos, 1):.4f}, "
              f"mean {cos.mean():.4f}", flush=True)
    started = time.perf_counter()
    for i in range(0, len(dev), 32):
        int8._forward_onnx(dev[i:i + 32])
    print(f"{mode}: {len(dev) / (time.perf_counter() - started):.1f} sentences/s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "u8")
