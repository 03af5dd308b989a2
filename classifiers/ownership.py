"""Whose key was it? A sentence model for the headline label's hardest distinction.

The prototype-margin features (:mod:`.model`) measure how much an article *resembles* a known compromise
or a known near miss. Resemblance cannot tell "malware signed with a certificate stolen from Acme" from
"malware signed with a certificate its authors bought": the two sentences share nearly every word. This
module scores each sentence for the one fact that matters -- a *legitimate party's* signing key,
certificate, or build/update channel was compromised or abused -- from:

* the sentence's embedding (the same encoder as everything else: no second model to load or run), and
* five regular-expression cues about ownership: a legitimate owner ("stolen from X", "belonging to X",
  "X's own valid certificate", "X's build server"), an attacker-obtained certificate ("bought",
  "self-signed", "front company"), a validation flaw, a negation near the artefact, and whether a signing
  artefact is named at all.

It is fitted on sentences written for this purpose (``data/sentences/ownership.jsonl``: 303 sentences about
fictional vendors, in five classes: a legitimate party's compromise against attacker-obtained certificates,
validation flaws, negated statements and other security news; none is taken from any article), so it is
independent of every labelled article and the same in each evaluation fold. A document's
:func:`document_features` (the best and second-best artefact sentence, the title, how many sentences clear
0.5, the cues at the best sentence) join the prototype-margin features in the head's logistic model.

Scoring is numpy only; fitting uses scikit-learn (as :mod:`.train` does).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SENTENCES = Path(__file__).resolve().parent / "data" / "sentences" / "ownership.jsonl"
POSITIVE_CLASS = "legit_party_compromise"
CUE_SCALE = 0.5  # the cues' weight beside a unit-length embedding: hints, not rules
SEED = 13

_ART = (r"(?:certificates?|certs?|code[- ]?signing|signing[- ]keys?|private keys?|keys?|signatures?|signed|signing|"
        r"root ca|certificate authorit(?:y|ies))")
LEGIT_OWNER = re.compile("|".join([
    r"\b(?:stolen|taken|lifted|swiped|exfiltrated|extracted) from\b",
    r"\bbelong(?:ing|s|ed)? to\b",
    r"\b\w+['’]s (?:own |valid |legitimate |genuine |official |trusted )*(?:code[- ]signing |digital |signing |"
    r"private |authenticode |firmware |platform |root |token[- ]signing )*" + _ART,
    r"\b(?:valid|legitimate|genuine|official|trusted|own)\s+(?:digital\s+)?(?:signature|certificate)s?\b",
    r"\b(?:build|update|signing|release|download|distribution)[- ](?:servers?|systems?|infrastructure|mechanism|"
    r"channel|pipeline|environment|service|process|servers)\b",
    r"\b(?:trojani[sz]ed|backdoored|tampered|poisoned|compromised|malicious)\s+(?:\w+\s+)?(?:update|version|installer|"
    r"build|release|package)s?\b",
    r"\b(?:leak(?:ed|s)?|publish(?:ed)?|exposed|posted)\b.{0,40}\b(?:private|signing|master|platform|secret)\s+keys?\b",
    r"\b(?:private|signing|master|platform|secret)\s+keys?\b.{0,40}\b(?:leak(?:ed)?|exposed|stolen|extracted|cracked)\b",
    r"\bissu(?:e|ed|ing)\b.{0,30}\b(?:fraudulent|rogue|unauthori[sz]ed|fake)\b",
    r"\b(?:fraudulent|rogue|unauthori[sz]ed)\s+(?:digital\s+|ssl\s+|tls\s+)?certificates?\b",
]), re.I)
ATTACKER_OWNER = re.compile(
    r"\b(?:bought|buy(?:s|ing)?|purchas(?:ed|e|ing)|paid for|self[- ]signed|front compan(?:y|ies)|shell compan(?:y|ies)|"
    r"fake compan(?:y|ies)|fake identit(?:y|ies)|false (?:name|identit(?:y|ies))|registered (?:a|under|in the name)|"
    r"newly (?:registered|created)|under(?:ground)? (?:market|forum)s?|free (?:tls |ssl )?certificates?|let'?s encrypt)\b",
    re.I)
VALIDATION = re.compile(
    r"\b(?:expir(?:ed|y|es|ation)|validat(?:e|es|ion|ing)|verif(?:y|ies|ication|ying)|pinning|padding oracle|"
    r"openssl|tls librar(?:y|ies)|ssl librar(?:y|ies)|man[- ]in[- ]the[- ]middle|distrust|audit|policy|"
    r"(?:flaw|bug|vulnerability|weakness) in)\b", re.I)
NEGATION = re.compile(r"\b(?:no|not|never|without|nor|neither|none|denied|den(?:y|ies)|unaffected|n['’]t)\b", re.I)
ARTEFACT = re.compile(_ART, re.I)

FEATURES = ("own_max", "own_top2", "own_title", "own_log_n_half", "own_attacker_at_best", "own_negated_at_best",
            "own_no_artefact")


def cues(sentence: str) -> np.ndarray:
    """(legit owner, attacker owner, validation, negation near an artefact, artefact) as 0/1."""
    art = ARTEFACT.search(sentence) is not None
    return np.array([LEGIT_OWNER.search(sentence) is not None, ATTACKER_OWNER.search(sentence) is not None,
                     VALIDATION.search(sentence) is not None, art and NEGATION.search(sentence) is not None, art],
                    dtype=np.float32)


def sentences(path: str | Path = SENTENCES) -> list[dict[str, Any]]:
    """The labelled sentences: dicts with ``text`` and ``class``."""
    return [json.loads(line) for line in Path(path).read_text("utf-8").splitlines() if line.strip()]


@dataclass
class OwnershipModel:
    """P(sentence states that a legitimate party's signing artefact or delivery channel was compromised)."""

    w: np.ndarray  # (dim + 5,)
    b: float

    @staticmethod
    def _design(emb: np.ndarray, cue_rows: np.ndarray) -> np.ndarray:
        return np.hstack([emb, CUE_SCALE * cue_rows])

    def prob(self, emb: np.ndarray, cue_rows: np.ndarray) -> np.ndarray:
        z = self._design(emb, cue_rows) @ self.w + self.b
        return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))

    @classmethod
    def fit(cls, encode: Any, rows: list[dict[str, Any]] | None = None) -> OwnershipModel:
        """Fitted on ``rows`` (default: :func:`sentences`), embedded with ``encode(texts) -> (n, dim)``."""
        from sklearn.linear_model import LogisticRegression

        rows = sentences() if rows is None else rows
        texts = [r["text"] for r in rows]
        y = np.array([r["class"] == POSITIVE_CLASS for r in rows], dtype=int)
        X = cls._design(np.asarray(encode(texts), dtype=np.float32), np.array([cues(t) for t in texts]))
        clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000, random_state=SEED).fit(X, y)
        return cls(clf.coef_[0].astype(np.float32), float(clf.intercept_[0]))


def document_features(units: list[str], emb: np.ndarray, model: OwnershipModel,
                      cue_rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(the document's :data:`FEATURES`, per-unit probability). Only units that name a signing artefact
    count (the title too: a headline often names the vendor and its certificate together)."""
    if cue_rows is None:
        cue_rows = np.array([cues(u) for u in units], dtype=np.float32)
    p = model.prob(emb, cue_rows)
    art = cue_rows[:, 4] > 0
    gated = np.where(art, p, 0.0)
    ranked = np.sort(gated)[::-1]
    best = int(np.argmax(gated))
    any_art = float(art.any())
    feats = np.array([ranked[0], ranked[:2].mean(), p[0] * art[0], np.log1p((gated > 0.5).sum()),
                      cue_rows[best, 1] * any_art, cue_rows[best, 3] * any_art, 1.0 - any_art], dtype=np.float64)
    return feats, gated


def features_of(doc: Any, model: OwnershipModel) -> np.ndarray:
    """:func:`document_features` of a featurized document (``classifiers.features.DocFeatures``)."""
    return document_features(doc.units, doc.emb, model, doc.ownership_cues)[0]


def ownership_matrix(docs: list[Any], model: OwnershipModel) -> np.ndarray:
    """Each featurized document's :data:`FEATURES` (rows) under ``model``."""
    return np.array([features_of(doc, model) for doc in docs])
