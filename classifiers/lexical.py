"""Lexical evidence for the headline label, and the keyword baseline it is measured against.

Regular expressions over sentences: which sentences pair a signing artefact (certificate,
code-signing or token-signing key, root CA, signed update) with a compromise verb (stolen,
leaked, forged, abused). Pure functions, no model.
"""

from __future__ import annotations

import re

# A compromise, but not "indicators of compromise": those are what defenders hunt for (a 20,000-article backfill of
# real headlines flagged 40% of its articles on "CERT-In published indicators of compromise ..."). Shared with
# classifiers.guard.
COMPROMISE_WORD = r"(?<!indicators of )(?<!indicator of )compromis(?:e|ed|es|ing)"

ARTEFACT = re.compile(
    r"\b(certificates?|certs?|code[- ]?signing|signing[- ]keys?|signing certificates?|private keys?|"
    r"root (?:ca|certificates?)|certificate authorit(?:y|ies)|\bCAs?\b|digital(?:ly)? sign(?:ed|ature)s?|"
    r"signed (?:with|by|using)|valid signature|legitimate signature|token[- ]signing|saml|signing infrastructure|"
    r"platform keys?|secure boot|firmware signing|signing (?:server|service|system)|golden keys?)",
    re.I,
)
COMPROMISE = re.compile(
    r"\b(stole|stolen|steal(?:ing|s)?|theft|leak(?:ed|s|ing)?|exposed?|" + COMPROMISE_WORD + r"|hijack(?:ed)?|"
    r"forg(?:e|ed|ing|ery)|fraudulent(?:ly)?|rogue|misused?|abus(?:e|ed|ing)|counterfeit|spoof(?:ed|ing)?|"
    r"breach(?:ed)?|hack(?:ed|ers?)|publish(?:ed)? (?:its|their|the) (?:private )?keys?|extract(?:ed|able)|"
    r"cracked|revok(?:e|ed|ing)|trojani[sz]ed|backdoor(?:ed)?|tampered|malicious (?:update|version|installer))",
    re.I,
)
SUPPLY = re.compile(
    r"\b(vendor|supplier|customers?|update[sd]?|installer|software|products?|firmware|drivers?|"
    r"third[- ]party|supply[- ]chain|users?|clients?|partners?|tenants?|microsoft 365|office 365)\b",
    re.I,
)
# Near-miss cues: a sentence about these is usually not about a stolen key.
NEAR_MISS = re.compile(
    r"\b(expir(?:ed|y|es|ation)|validat(?:e|ion|ing)|let'?s encrypt|free (?:tls|ssl) certificates?|"
    r"heartbleed|pinning|self[- ]signed|bought|purchased|hard[- ]?coded|padding oracle|man[- ]in[- ]the[- ]middle bug)",
    re.I,
)


# The baseline's own, narrower vocabulary: what a careful analyst would type into a search box.
_B_ARTEFACT = re.compile(r"\b(certificates?|signing keys?|code[- ]signing|private keys?|digitally signed|"
                         r"valid (?:digital )?signature)\b", re.I)
_B_COMPROMISE = re.compile(r"\b(stolen|stole|compromised|leaked|theft|forged|fraudulent|rogue|misused|abused|exposed)\b",
                           re.I)
_B_SUPPLY = re.compile(r"\b(vendor|supplier|customers?|update|software|supply[- ]chain|users|company)\b", re.I)


def keyword_rule(title: str, text: str, window: int = 30) -> bool:
    """The baseline: a signing artefact within ``window`` characters of a compromise word, plus a
    supply-chain cue anywhere in the article."""
    body = f"{title}\n{text}"
    if not _B_SUPPLY.search(body):
        return False
    return any(_B_COMPROMISE.search(body[max(0, m.start() - window):m.end() + window])
               for m in _B_ARTEFACT.finditer(body))


def sentence_cues(sentence: str) -> tuple[float, float, float, float]:
    """(artefact, compromise, both, near-miss) indicators for one sentence."""
    a = 1.0 if ARTEFACT.search(sentence) else 0.0
    c = 1.0 if COMPROMISE.search(sentence) else 0.0
    n = 1.0 if NEAR_MISS.search(sentence) else 0.0
    return a, c, a * c, n
