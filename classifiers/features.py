"""From documents to what the heads need: sentence units, their embeddings, and lexical cues.

One Featurizer holds the encoder and a cache of unit embeddings (keyed by a digest of the text), so
training and evaluation in one process never encode the same sentence twice; given a persistent
``cache`` (:class:`supplywatch.store.embcache.EmbeddingCache`) it also reuses the vectors of earlier runs.

With ``select``, a document none of whose sentences names a signing artefact is featurized from its
first ``lead`` units only (:func:`select_units`): the headline cannot be flagged for it (``guard.cap_headline``
caps its score below the threshold whatever the model says; an explicit statement names an artefact too), and
the topics read words, not embeddings (:mod:`.topicwords`), so the title alone is embedded, for the capped
score; a head fitted before topic words reads the lead vector, so its lead is embedded (``lead``: the head's
:attr:`~.model.Head.embedded_lead`). Every flag is the same as from all its sentences (benchmarks/CLASSIFY.md).
Training and the fold fits keep ``select`` off: their prototypes and features come from every sentence.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .guard import names_artefact
from .lexical import sentence_cues
from .passages import document_units

MAX_UNITS = 40
MEMORY_ENTRIES = 50_000  # unit vectors kept in the process (~77 MB): a 100k-document backfill must not hold them all
LEAD_UNITS = 8  # title + first sentences: what the topics of a head fitted before topic words read
# With a progress callback, documents are encoded this many at a time so the count moves; large enough that
# the encoder's sort-by-length batching loses next to nothing.
PROGRESS_SLICE = 256


@dataclass
class DocFeatures:
    units: list[str]
    emb: np.ndarray  # (n_units, dim), unit vectors
    cues: np.ndarray  # (n_units, 4) from lexical.sentence_cues
    _own_cues: np.ndarray | None = field(default=None, repr=False, compare=False)
    # Every unit (title and up to MAX_UNITS sentences), embedded or not: what the topic words read
    # (.topicwords). Empty when built by hand: then ``units``.
    all_units: list[str] = field(default_factory=list, repr=False, compare=False)

    @property
    def word_units(self) -> list[str]:
        return self.all_units or self.units

    @property
    def ownership_cues(self) -> np.ndarray:
        """(n_units, 5) from :func:`.ownership.cues`, computed on first use (only a head that reads them pays)."""
        if self._own_cues is None:
            from .ownership import cues

            self._own_cues = np.array([cues(u) for u in self.units], dtype=np.float32).reshape(len(self.units), 5)
        return self._own_cues

    @property
    def lead(self) -> np.ndarray:
        v = self.emb[:LEAD_UNITS].mean(0)
        n = np.linalg.norm(v)
        return v / n if n else v


def select_units(units: list[str], lead: int = LEAD_UNITS) -> list[str]:
    """The units worth embedding: all when one names a signing artefact (only then can the headline be
    flagged: the same test as ``guard.cap_headline``), else the first ``lead`` (the head's
    :attr:`~.model.Head.embedded_lead`)."""
    return units if any(names_artefact(u) for u in units) else units[:lead]


def unit_key(unit: str) -> bytes:
    return hashlib.blake2b(unit.encode("utf-8", "replace"), digest_size=16).digest()


class Featurizer:
    """``progress(done)``, when given, is called with the running count of documents featurized (all calls)."""

    def __init__(self, encoder: Any, progress: Callable[[int], None] | None = None, *, select: bool = False,
                 lead: int = LEAD_UNITS, cache: Any = None):
        self.encoder = encoder
        self.progress, self.done = progress, 0
        self.select, self.lead = select, lead
        self.store_cache = cache  # persistent, across runs (optional)
        self._cache: dict[bytes, np.ndarray] = {}
        self.encoded = 0  # units sent to the encoder by this featurizer (the benchmark reads it)

    def _trim(self) -> None:
        """Forget the oldest vectors past :data:`MEMORY_ENTRIES` (after a call has taken what it needs)."""
        excess = len(self._cache) - MEMORY_ENTRIES
        for k in list(self._cache)[:max(0, excess)]:
            del self._cache[k]

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
        every = [document_units(d.get("title") or "", d.get("text") or "", limit=MAX_UNITS) for d in docs]
        per_doc = [select_units(units, self.lead) for units in every] if self.select else every
        keys = [[unit_key(u) for u in units] for units in per_doc]
        todo: dict[bytes, str] = {}
        for units, ks in zip(per_doc, keys, strict=True):
            for u, k in zip(units, ks, strict=True):
                if k not in self._cache:
                    todo[k] = u
        if todo and self.store_cache is not None:
            dim = self.encoder.dim
            for k, blob in self.store_cache.get(list(todo)).items():
                if len(blob) == 4 * dim:
                    self._cache[k] = np.frombuffer(blob, dtype=np.float32)
                    del todo[k]
        if todo:
            vectors = self.encoder.encode(list(todo.values()))
            self.encoded += len(todo)
            for k, v in zip(todo, vectors, strict=True):
                self._cache[k] = v
            if self.store_cache is not None:
                self.store_cache.put({k: np.ascontiguousarray(v, dtype=np.float32).tobytes()
                                      for k, v in zip(todo, vectors, strict=True)})
        out = []
        for units, ks, all_units in zip(per_doc, keys, every, strict=True):
            emb = np.stack([self._cache[k] for k in ks])
            cues = np.array([sentence_cues(u) for u in units], dtype=np.float32)
            out.append(DocFeatures(units, emb, cues, all_units=all_units))
        self._trim()
        return out
