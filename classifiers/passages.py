"""Cutting documents into sentences and passages for the encoder, and picking evidence.

Pure text functions: no model, no store. A document is scored from its sentences, so the best
sentence doubles as the evidence a reader sees -- when a reader can trust it at a glance: the hygiene
functions (:func:`evidence_ok`, :func:`pick_evidence`, :func:`clip`, :func:`quote_ready`,
:func:`dedupe_actions`) live in ``supplywatch.store.text`` so ``reports`` shares them, and are re-exported here.
"""

from __future__ import annotations

import re

from supplywatch.store.text import (  # noqa: F401 - re-exported
    clip,
    dedupe_actions,
    evidence_ok,
    is_heading,
    is_table_row,
    near_duplicate,
    pick_evidence,
    quote_ready,
    repeats_title,
)

_SPLIT = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[]*[A-Z0-9])|\n+")
_ABBREV = re.compile(r"\b(?:Mr|Ms|Mrs|Dr|Inc|Ltd|Corp|Co|vs|etc|e\.g|i\.e|U\.S|No|St|"
                     r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.$")
_TAGS = re.compile(r"<[^>]{0,200}>")
_SPACE = re.compile(r"\s+")

MAX_SENTENCES = 60
MIN_CHARS = 25
MAX_CHARS = 600


def clean(text: str) -> str:
    """Drop HTML leftovers and control characters; keep line breaks as sentence boundaries."""
    text = _TAGS.sub(" ", text or "")
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\u200b-\u200f\u202a-\u202e\u2066-\u2069]", "", text)
    return "\n".join(_SPACE.sub(" ", line).strip() for line in text.split("\n"))


def sentences(text: str, *, limit: int = MAX_SENTENCES) -> list[str]:
    """Sentences of ``text`` worth scoring (long enough to say something), in order, at most ``limit``."""
    out: list[str] = []
    pending = ""
    for piece in _SPLIT.split(clean(text)):
        piece = piece.strip()
        if not piece:
            continue
        pending = f"{pending} {piece}".strip() if pending else piece
        if _ABBREV.search(pending):
            continue  # "Inc." is not the end of a sentence
        if len(pending) >= MIN_CHARS:
            out.append(clip(pending, MAX_CHARS))
            if len(out) >= limit:
                break
        pending = ""
    if pending and len(out) < limit and len(pending) >= MIN_CHARS:
        out.append(clip(pending, MAX_CHARS))
    return out


def document_units(title: str, text: str, *, limit: int = MAX_SENTENCES) -> list[str]:
    """The title (always first, even if short) then the body's sentences."""
    units = [clean(title).strip()] if title and title.strip() else []
    body = sentences(text, limit=limit)
    if units and body and body[0].lower().startswith(units[0].lower()[:40]):
        body = body[1:]  # extracted text often repeats the headline
    return (units + body)[:limit] or [""]
