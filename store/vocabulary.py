"""The label registry: every label's name, kind and display name, in digest section order.

Plain data every layer reads (classifier head, CLI choices, digest sections, canned queries), so a
label is written down once. It sits in store/ because that is the one package every layer may import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

HEADLINE_KIND = "headline"  # the label the product exists for: its own digest section first, never cut
TOPIC_KIND = "topic"  # a topic section of the digest, cut to the configured length


@dataclass(frozen=True)
class LabelSpec:
    name: str
    kind: str
    display: str  # the digest section's heading


@dataclass
class Label:
    """One label the classifier gave a document: calibrated score and the sentence that most supports it."""

    label: str
    score: float
    evidence: str = ""
    reason: str = ""  # the headline's flag decision in words (``classifiers.guard``): why flagged, or why not


# Digest section order is this order. A new label: one line here, plus training data for the head.
LABELS: list[LabelSpec] = [
    LabelSpec("supply_chain_cert_compromise", HEADLINE_KIND, "Supply-chain certificate and signing-key compromises"),
    LabelSpec("vulnerability", TOPIC_KIND, "Vulnerabilities"),
    LabelSpec("malware", TOPIC_KIND, "Malware"),
    LabelSpec("cyber_attack", TOPIC_KIND, "Cyber attacks"),
    LabelSpec("data_breach", TOPIC_KIND, "Data breaches"),
]

_NAME = re.compile(r"[a-z][a-z0-9_]*")

# The reason of a headline label inherited from an incident (``classifiers.incidents``): "follow-up of: X code-signing
# certificate compromise, first reported DAY". Written by the classifier, read by search, digest and timeline.
FOLLOW_UP = "follow-up of:"


def follow_up_of(label: dict[str, Any] | Label) -> str:
    """The label's reason when it was inherited from an incident, else ""."""
    reason = (label.get("reason") if isinstance(label, dict) else label.reason) or ""
    return reason if reason.startswith(FOLLOW_UP) else ""


def label_names() -> list[str]:
    return [s.name for s in LABELS]


def headline() -> str:
    """The one headline label's name."""
    (name,) = [s.name for s in LABELS if s.kind == HEADLINE_KIND]
    return name


def topics() -> list[str]:
    return [s.name for s in LABELS if s.kind == TOPIC_KIND]


def display(name: str) -> str:
    return next(s.display for s in LABELS if s.name == name)


def check() -> None:
    """The registry is well formed: unique SQL-safe names, known kinds, exactly one headline."""
    names = label_names()
    assert len(set(names)) == len(names), names
    assert all(_NAME.fullmatch(n) for n in names), names
    assert all(s.kind in (HEADLINE_KIND, TOPIC_KIND) for s in LABELS)
    headline()
