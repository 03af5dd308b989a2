"""The wire format of scale mode: documents, fetch outcomes and labels as JSON, never pickle.

Crawl and classify workers encode what they produce with these functions; the one writer decodes it
and stores it. Plain JSON keeps a Redis that someone else can write to from running code in our
processes: a hostile entry can at worst be a wrong document, which decoding checks field by field.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any

from .errors import InputError
from .models import Document, FetchOutcome
from .vocabulary import Label

_DOC_FIELDS = {f.name for f in fields(Document)}
_OUTCOME_FIELDS = {f.name for f in fields(FetchOutcome)}


def encode(kind: str, payload: Any) -> str:
    """One stream entry: ``{"kind": kind, ...}`` as JSON text."""
    if kind == "documents":
        body = {"documents": [asdict(d) for d in payload]}
    elif kind == "outcome":
        body = {"outcome": asdict(payload)}
    elif kind == "labels":  # payload: {"model_version", "results": [(doc_id, content_hash, [(Label, flagged)])]}
        body = {"model_version": payload["model_version"],
                "results": [[doc_id, chash, [[asdict(lab), bool(flagged)] for lab, flagged in labels]]
                            for doc_id, chash, labels in payload["results"]],
                # incident records the labelling opened or extended (store.incidents), saved with the labels
                "incidents": list(payload.get("incidents") or [])}
    else:
        raise ValueError(f"unknown entry kind {kind!r}")
    return json.dumps({"kind": kind, **body}, ensure_ascii=False, separators=(",", ":"))


def _strict(cls: Any, data: Any, allowed: set[str]) -> Any:
    if not isinstance(data, dict) or not set(data) <= allowed:
        raise InputError(f"not a {cls.__name__}: unexpected fields {sorted(set(data or {}) - allowed)}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise InputError(f"not a {cls.__name__}: {exc}") from None


def decode(text: str | bytes) -> tuple[str, Any]:
    """(kind, payload) from :func:`encode`'s text; InputError for anything else."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"not a JSON entry: {exc}") from None
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind == "documents":
        docs = [_strict(Document, d, _DOC_FIELDS) for d in data.get("documents") or []]
        for doc in docs:
            if not isinstance(doc.source, str) or not isinstance(doc.title, str) or not isinstance(doc.text, str):
                raise InputError("not a Document: source, title and text must be text")
        return kind, docs
    if kind == "outcome":
        return kind, _strict(FetchOutcome, data.get("outcome"), _OUTCOME_FIELDS)
    if kind == "labels":
        results = []
        for doc_id, chash, labels in data.get("results") or []:
            results.append((int(doc_id), chash, [(Label(**lab), bool(flagged)) for lab, flagged in labels]))
        incidents = data.get("incidents") or []
        if not isinstance(incidents, list) or not all(isinstance(r, dict) and "first_document_id" in r and "party" in r
                                                      for r in incidents):
            raise InputError("not a labels entry: incidents must be incident records")
        return kind, {"model_version": str(data["model_version"]), "results": results, "incidents": incidents}
    raise InputError(f"unknown entry kind {kind!r}")
