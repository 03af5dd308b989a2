"""From documents to what the heads need: sentence units, their embeddings, and lexical cues.

One Featurizer holds the encoder and a cache of unit embeddings (keyed by text), so training
and evaluation in one process never encode the same sentence twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .lexical import sentence_cues
from .passages import document_units

MAX_UNITS = 40
LEAD_UNITS = 8  # title + first sentences: what the topic heads read
# With a progress callback, documents are encoded this many at a time so the count moves; large enough that
# the encoder's sort-by-length batching loses next to nothing.
PROGRESS_SLICE = 256


@dataclass
class DocFeatures:
    units: list[str]
    emb: np.ndarray  # (n_units, dim), unit vectors
    cues: np.ndarray  # (n_units, 4) from lexical.sentence_cues

    @property
    def lead(self) -> np.ndarray:
        v = self.emb[:LEAD_UNITS].mean(0)
        n = np.linalg.norm(v)
        return v / n if n else v


class Featurizer:
    """``progress(done)``, when given, is called with the running count of documents featurized (all calls)."""

    def __init__(self, encoder: Any, progress: Callable[[int], None] | None = None):
        self.encoder = encoder
        self._cache: dict[bytes, np.ndarray] = {}
        self.progress, self.done = progress, 0

    def __call__(self, docs: list[dict[str, Any]]) -> list[DocFeatures]:
        if self.progress is None:
            return self._features(docs)
        out: list[DocFeatures] = []
        for start in range(0, len(docs), PROGRESS_SLICE):
            out += self._features(docs[start:start + PROGRESS_SLICE])
            self.done += len(docs[start:start + PROGRESS_SLICE])
            self.progress(self.done)
        return out

    def _features(self, docs: list[dict[str, Any]]) -> list[DocFeatures]:
        per_doc = [document_units(d.get("title") or "", d.get("text") or "", limit=MAX_UNITS) for d in docs]
        keys = [[hashlib.blake2b(u.encode("utf-8", "replace"), digest_size=16).digest() for u in units]
                for units in per_doc]
        todo: dict[bytes, str] = {}
        for units, ks in zip(per_doc, keys, strict=True):
            for u, k in zip(units, ks, strict=True):
                if k not in self._cache:
                    todo[k] = u
        if todo:
            vectors = self.encoder.encode(list(todo.values()))
            for k, v in zip(todo, vectors, strict=True):
                self._cache[k] = v
        out = []
        for units, ks in zip(per_doc, keys, strict=True):
            emb = np.stack([self._cache[k] for k in ks])
            cues = np.array([sentence_cues(u) for u in units], dtype=np.float32)
            out.append(DocFeatures(units, emb, cues))
        return out
