"""The clustering stage: every document not yet in a story joins one (an existing story in the window, or a new one).

The decisions are :mod:`classifiers.stories`'; this module is the loop over the store, batch by batch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from .stories import StoryIndex, lead_text, parse_time
from .stories import cluster as decide

BATCH = 1000


@dataclass
class ClusterResult:
    documents: int = 0
    new_stories: int = 0
    joined: int = 0
    reset: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _vectors(store: Any, encoder: Any, by_id: dict[int, dict[str, Any]]) -> dict[int, Any]:
    """Stored title+lead vectors of these documents; the missing (or of another size) are encoded and saved."""
    import numpy as np

    vectors = {i: np.frombuffer(b, dtype=np.float32) for i, b in store.vectors(encoder.name, list(by_id)).items()}
    missing = [i for i in by_id if i not in vectors or vectors[i].shape[0] != encoder.dim]
    if missing:
        fresh = encoder.encode([lead_text(by_id[i]) for i in missing])
        store.save_vectors(encoder.name, [(i, v.astype(np.float32).tobytes()) for i, v in zip(missing, fresh, strict=True)])
        vectors.update(zip(missing, fresh, strict=True))
    return vectors


def cluster_archive(store: Any, encoder: Any, *, window_days: float, rebuild: bool = False, batch: int = BATCH,
                    progress: Any = None) -> ClusterResult:
    """Documents go in publication order, in batches; each batch is compared with the members of stories
    active within the window around it, including stories made by earlier batches, and saved in one call."""
    import numpy as np

    window = timedelta(days=window_days)
    result = ClusterResult()
    if rebuild:
        result.reset = store.reset_stories()
    todo = store.documents_to_cluster(batch=batch)  # ids now, each batch's rows when it is reached
    if progress:
        progress(0, len(todo))
    for docs in todo:
        if not docs:
            continue
        times = [t for t in (parse_time(d["published"]) for d in docs) if t]
        members = []
        if times:
            members = store.story_candidates((min(times) - window).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                             (max(times) + window).strftime("%Y-%m-%dT%H:%M:%SZ"))
        vectors = _vectors(store, encoder, {d["id"]: d for d in docs} | {m["document_id"]: m for m in members})
        index = StoryIndex({"window_days": window_days})
        for m in members:
            index.add(m["story_id"], m["title"] or "", vectors[m["document_id"]], m["published"], source=m["source"],
                      kind=m["kind"])
        decisions = decide(docs, np.stack([vectors[d["id"]] for d in docs]), index)
        # A story first made in this batch is "new:<document id>" until the store gives it its id.
        # new_only: another `cluster` or `run` may have stored some of these documents since they were read.
        store.assign_stories([(d.document_id, d.story, d.similarity, d.reason) for d in decisions], new_only=True)
        made = sum(d.story is None for d in decisions)
        result.documents += len(decisions)
        result.new_stories += made
        result.joined += len(decisions) - made
        if progress:
            progress(result.documents, len(todo))
    return result
