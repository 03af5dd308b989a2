"""An encoder wrapper that never re-encodes a unit found in a precomputed embedding cache.

Cache format (/work/cache/base-units.npz): ``keys`` (S16, blake2b-16 of the unit's UTF-8 text, as
classifiers.features.Featurizer keys units) and ``emb`` (float32, unit vectors).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

BASE_CACHE = Path("/work/cache/base-units.npz")


def unit_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=16).digest()


class CachedEncoder:
    """``encode(texts)`` from the cache; misses go to a lazily built real encoder and are kept."""

    def __init__(self, cache: str | Path = BASE_CACHE, model_path: str | None = None, dim: int = 384):
        self.table: dict[bytes, np.ndarray] = {}
        if Path(cache).exists():
            with np.load(cache) as z:
                keys, emb = z["keys"], z["emb"]
            self.table = {bytes(k): emb[i] for i, k in enumerate(keys)}
        self.model_path = model_path
        self._enc = None
        self.dim = dim
        self.name = "all-MiniLM-L6-v2"
        self.misses = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        keys = [unit_key(t) for t in texts]
        todo = sorted({k: t for k, t in zip(keys, texts) if k not in self.table}.items())
        if todo:
            if self._enc is None:
                from supplywatch.classifiers.encoder import Encoder
                self._enc = Encoder(self.model_path)
            vecs = self._enc.encode([t for _, t in todo])
            for (k, _), v in zip(todo, vecs):
                self.table[k] = v
            self.misses += len(todo)
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, k in enumerate(keys):
            out[i] = self.table[k]
        return out
