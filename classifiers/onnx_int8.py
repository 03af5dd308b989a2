"""The encoder as an ONNX Runtime model, fp32 or int8: built once from the local model folder, cached on disk.

Why: on 2 CPU cores ONNX Runtime runs MiniLM 1.4x as fast as torch with the same fp32 weights (vectors equal to
torch's within 3e-7: the default), and about 2.5x as fast with int8 weights (opt-in: the vectors drift;
``benchmarks/CLASSIFY.md``). The files (86 and 23 MB) are not shipped: :func:`ensure_model` builds one on first
use (about 10 s for fp32, 15 s to a few minutes for int8, offline, from the same folder torch loads) into the
cache folder (:func:`supplywatch.store.embcache.cache_dir`), under a lock so two processes never build it at
once, and later runs reuse it.

How, and why so: plain dynamic int8 (weights per output channel, activations per tensor at run time)
drifts to cosine 0.977 against fp32 on real sentences, because a few hidden channels carry values far
larger than the rest and one activation scale cannot serve both. Before export, every Linear of the
encoder is *smoothed* (SmoothQuant, Xiao et al. 2022): its input is divided per channel by
``s = amax(x)**ALPHA / amax(w)**(1 - ALPHA)`` and its weight columns multiplied by ``s``, which leaves
the fp32 function unchanged and moves the outliers into the weights, where per-channel scales absorb
them. The activation maxima come from the project's own training examples (``classifiers/data``),
never from evaluation data. The worst cosine to fp32 is then 0.992 on 1,000 dev sentences. The weights are
stored as uint8, which keeps that worst case on x86 CPUs without VNNI too (int8 weights fell to 0.986 there).
The fp32 file is the same export without smoothing or quantisation.

onnx, onnxruntime and torch are imported inside the functions that need them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from pathlib import Path
from typing import Any

from supplywatch.store.embcache import cache_dir

# Part of the cache key: a change to how the file is made must never reuse an old file.
RECIPE = "smoothquant-a0.7-dynamic-u8-weights-per-channel-opset17-v2"
RECIPES = {"int8": RECIPE, "fp32": "plain-fp32-opset17-v1"}
ALPHA = 0.7  # 0.5 left the worst cosine at 0.958, 0.7 gave 0.992 (benchmarks/CLASSIFY.md)
CALIBRATION_UNITS = 600


def available() -> bool:
    """True when onnx and onnxruntime are installed (found without importing them)."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))
    except (ImportError, ValueError):  # a module set to None in sys.modules: blocked on purpose
        return False


def model_key(model_path: Path, kind: str = "int8") -> str:
    """A short digest of the model's files and the recipe of ``kind`` (int8 or fp32): the built file's name."""
    h = hashlib.blake2b(RECIPES[kind].encode(), digest_size=8)
    for path in sorted(p for p in model_path.iterdir() if p.is_file()):
        h.update(path.name.encode())
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def ensure_model(model_path: Path, *, folder: Path | None = None, kind: str = "int8") -> Path:
    """The ``kind`` (int8 or fp32) file for ``model_path``, built under an exclusive lock when missing (atomic
    rename)."""
    import fcntl

    folder = folder or cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{model_path.parent.name if model_path.name == 'model' else model_path.name}-" \
                      f"{model_key(model_path, kind)}-{kind}.onnx"
    if target.is_file():
        return target
    with open(folder / (target.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second process waits here, then finds the file
        if not target.is_file():
            with tempfile.TemporaryDirectory(dir=folder, prefix=".build-") as tmp:
                built = build(model_path, Path(tmp), kind=kind)
                os.replace(built, target)
    return target


def _calibration_texts() -> list[str]:
    from . import examples
    from .passages import document_units

    units = [u for row in examples() for u in document_units(row.get("title") or "", row.get("text") or "",
                                                             limit=40)]
    return units[:CALIBRATION_UNITS]


def build(model_path: Path, workdir: Path, *, max_length: int = 128, kind: str = "int8") -> Path:
    """Export the model with ``torch.onnx``: as it is for ``kind`` fp32, smoothed and quantised for int8; returns
    the file in ``workdir``."""
    import logging
    import warnings

    # The exporter's and quantiser's notices (opset details, "consider pre-processing") say nothing a user
    # can act on, and would fail a test run under filterwarnings=error.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            return _build(model_path, workdir, max_length=max_length, kind=kind)
        finally:
            logging.disable(logging.NOTSET)


def _build(model_path: Path, workdir: Path, *, max_length: int, kind: str) -> Path:
    import torch
    from transformers import AutoModel, AutoTokenizer

    class Smoothed(torch.nn.Module):
        """``lin(x / s)`` with ``lin``'s weight columns multiplied by ``s``: the same function in fp32."""

        def __init__(self, lin: Any, scale: Any):
            super().__init__()
            self.lin = lin
            self.register_buffer("inverse", 1.0 / scale)
            lin.weight.mul_(scale)

        def forward(self, x: Any) -> Any:
            return self.lin(x * self.inverse)

    class Pooled(torch.nn.Module):
        """The model plus the Encoder's pooling: mean over real tokens, then L2-normalised."""

        def __init__(self, model: Any):
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    tokenizer = AutoTokenizer.from_pretrained(str(model_path), local_files_only=True)
    # eager attention: the exporter traces plain matmuls, not a fused SDPA kernel
    model = AutoModel.from_pretrained(str(model_path), local_files_only=True, attn_implementation="eager").eval()
    if kind == "fp32":
        return _export(torch, Pooled(model), tokenizer, workdir / "fp32.onnx")
    linears = [(name, mod) for name, mod in model.named_modules()
               if isinstance(mod, torch.nn.Linear) and name.startswith("encoder.")]
    amax: dict[str, Any] = {}

    def record(name: str) -> Any:
        def hook(_mod: Any, inputs: tuple[Any, ...]) -> None:
            x = inputs[0].detach().abs().reshape(-1, inputs[0].shape[-1]).amax(0)
            amax[name] = torch.maximum(amax[name], x) if name in amax else x
        return hook

    hooks = [mod.register_forward_pre_hook(record(name)) for name, mod in linears]
    texts = _calibration_texts()
    with torch.inference_mode():
        for start in range(0, len(texts), 64):
            batch = tokenizer(texts[start:start + 64], padding=True, truncation=True, max_length=max_length,
                              return_tensors="pt")
            model(**batch)
    for h in hooks:
        h.remove()
    with torch.no_grad():
        for name, lin in linears:
            parent_name, attr = name.rsplit(".", 1)
            w = lin.weight.abs().amax(0).clamp(min=1e-5)
            scale = (amax[name].clamp(min=1e-5) ** ALPHA / w ** (1 - ALPHA)).clamp(min=1e-2)
            setattr(model.get_submodule(parent_name), attr, Smoothed(lin, scale))
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fp32 = _export(torch, Pooled(model), tokenizer, workdir / "smoothed-fp32.onnx")
    out = workdir / "int8.onnx"
    # uint8 weights, not int8: on x86 CPUs without VNNI (AVX2 only, as the AMD EPYC machines seen here) ONNX Runtime's
    # u8 x s8 kernel adds pairs of products in saturating 16-bit lanes, and int8 weights drifted to cosine 0.986
    # against fp32 there (0.990 with 7-bit "reduce_range"); u8 x u8 takes a path that cannot saturate: 0.993.
    quantize_dynamic(str(fp32), str(out), per_channel=True, weight_type=QuantType.QUInt8)
    return out


def _export(torch: Any, pooled: Any, tokenizer: Any, path: Path) -> Path:
    sample = tokenizer(["a short sentence", "a somewhat longer second sentence"], padding=True, return_tensors="pt")
    torch.onnx.export(pooled, (sample["input_ids"], sample["attention_mask"]), str(path), dynamo=False,
                      input_names=["input_ids", "attention_mask"], output_names=["embedding"], opset_version=17,
                      dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                                    "embedding": {0: "batch"}})
    return path


class OnnxSession:
    """One ONNX Runtime session over a built file: (input_ids, attention_mask) -> unit vectors."""

    def __init__(self, path: Path, *, threads: int):
        import onnxruntime as ort

        self.path = path
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # the quantised graph's benign notices are not the user's business
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, input_ids: Any, attention_mask: Any) -> Any:
        import numpy as np

        return self.session.run(None, {"input_ids": input_ids.astype(np.int64),
                                       "attention_mask": attention_mask.astype(np.int64)})[0]


if __name__ == "__main__":  # builds both files ahead of the first classify (fp32: the default on CPU cores)
    from .encoder import resolve_model_path

    for kind in ("fp32", "int8"):
        print(ensure_model(resolve_model_path(None), kind=kind))
