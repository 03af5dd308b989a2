"""supplywatch's classifiers: labels for stored documents, with scores and evidence sentences.

Public face: :class:`Classifier` (encoder + fitted head), the label names (from the store's label
registry), and the stages: labelling (:mod:`.labelling`), clustering (:mod:`.clustering`), supplier
matching (:mod:`.suppliers`, with the register's CSV in :mod:`.register`). numpy loads with the head
(:mod:`.model`); torch and transformers only when a Classifier is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from supplywatch.store import vocabulary

HEADLINE = vocabulary.headline()
CATEGORIES = tuple(vocabulary.topics())
LABELS = (HEADLINE, *CATEGORIES)

PACKAGED_HEAD = Path(__file__).resolve().parent / "head"
EXAMPLES = Path(__file__).resolve().parent / "data"


def resolve_head(configured: str | None) -> Path:
    """The head to use: the configured folder, else ./supplywatch-head if `train` wrote one, else the packaged one."""
    if configured:
        return Path(configured).expanduser()
    local = Path("supplywatch-head")
    return local if (local / "head.json").is_file() else PACKAGED_HEAD


class Classifier:
    """The encoder and a head, loaded once per process."""

    def __init__(self, model: str | None = None, head: str | None = None, *, batch_size: int = 64,
                 max_length: int = 128, backend: str = "fp32", embedding_cache: int = 0, encoder: Any = None):
        from .encoder import Encoder
        from .features import Featurizer
        from .model import Head

        self.head = Head.load(resolve_head(head))
        # ``encoder``: one already loaded with these options (clustering's, in the same round): loaded once
        self.encoder = encoder or Encoder(model, batch_size=batch_size, max_length=max_length, backend=backend)
        from supplywatch.store.embcache import for_encoder

        cache = for_encoder(self.encoder.identity, embedding_cache)
        # select: documents that cannot carry the headline are embedded from their title only (a lead-vector
        # head: its lead), with the same flags (features.select_units)
        self.featurizer = Featurizer(self.encoder, select=True, lead=self.head.embedded_lead, cache=cache)

    @property
    def version(self) -> str:
        return f"{self.head.version}+{self.encoder.name}"

    def label(self, docs: list[dict[str, Any]], book: Any = None) -> list[list[tuple[Any, bool]]]:
        """For each document (dict with title, text, published): [(Label, flagged), ...] over all labels,
        through :func:`.labelling.label_documents` (the function `eval` measures) with the incident ``book``."""
        from .labelling import label_documents

        return label_documents(docs, self.head, self.featurizer, book)


def examples() -> list[dict[str, Any]]:
    """The project's own hand-written training examples."""
    import json

    rows = []
    for path in sorted(EXAMPLES.glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return rows


def __getattr__(name: str) -> Any:
    # The head's module imports numpy: only those who ask for it pay (supplier matching does not).
    if name in ("Head", "HeadError"):
        from . import model

        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CATEGORIES", "HEADLINE", "LABELS", "Classifier", "Head", "HeadError", "examples", "resolve_head"]
