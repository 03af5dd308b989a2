"""Text a reader sees: evidence and actions they can trust at a glance (issue 11).

Whole sentences, no table rows, headings or repeated titles, quotes once, each request once. Pure text
functions shared by ``classifiers`` (which sentence may be evidence) and ``reports`` (actions, quotes,
cuts); they live in the store package because both layers may import it and neither may import the other.
:func:`evidence_ok` says which sentences may be shown at all, :func:`pick_evidence` applies it to a
ranking, :func:`clip` cuts text without cutting a word, :func:`quote_ready` strips the quote marks the
templates add themselves, and :func:`dedupe_actions` merges requests that several outlets (or one
article, twice) word differently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

ELLIPSIS = "…"
_OPEN = "“‘\"'«„"
_CLOSE = "”’\"'»“"
_PAIRS = {"“": "”", "‘": "’", '"': '"', "'": "'", "«": "»", "„": "“"}
_TABLE = re.compile(r"^\s*\|.*\|\s*$|(?:\s\|\s.*){2,}|^\s*[-|: ]{5,}\s*$")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_END = re.compile(r"[.!?…][\"'”’)\]]*$")
_SMALL = {"a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "of", "on", "or", "the", "to", "vs",
          "with", "its", "is", "are", "how", "what", "why", "this", "that"}
HEADING_MAX_WORDS = 12


def _norm(text: str) -> str:
    return " ".join(w.casefold() for w in _WORD.findall(text))


def is_table_row(sentence: str) -> bool:
    """A Markdown/ASCII table row or rule (``| Severity | High |``), which says nothing on its own."""
    return bool(_TABLE.search(sentence)) or sentence.count("|") >= 2


def is_heading(sentence: str) -> bool:
    """A heading rather than a sentence: short, no closing punctuation, and in title case or capitals
    ("How to Detect the Backdoor", "SSL CERTIFICATES AND PRIVATE KEYS"). A short statement with a verb
    and a full stop ("The key was stolen.") is a sentence."""
    s = sentence.strip()
    words = _WORD.findall(s)
    if not words or len(words) > HEADING_MAX_WORDS or _END.search(s):
        return False
    if s.isupper() or s.endswith(":"):
        return True
    content = [w for w in words if w.casefold() not in _SMALL and w[0].isalpha()]
    return (bool(content) and all(w[0].isupper() for w in content)) or len(words) <= 6


def repeats_title(sentence: str, title: str) -> bool:
    """The sentence is the title again (identical once case, punctuation and quotes are ignored, or
    one contains the other and they differ by at most a few words)."""
    s, t = _norm(sentence), _norm(title)
    if not s or not t:
        return False
    if s == t:
        return True
    short, long_ = sorted((s, t), key=len)
    return short in long_ and len(long_.split()) - len(short.split()) <= 3


def evidence_ok(sentence: str, title: str = "") -> bool:
    """Whether ``sentence`` may be shown as evidence: not a table row, heading or the title repeated."""
    return bool(sentence.strip()) and not (is_table_row(sentence) or is_heading(sentence)
                                           or (title and repeats_title(sentence, title)))


def pick_evidence(units: Sequence[str], ranking: Iterable[int], title: str | None = None) -> int:
    """The first index in ``ranking`` (best first, e.g. ``numpy.argsort(-(margin + bonus))``) whose unit
    :func:`evidence_ok`; ``units[0]`` is the title unless ``title`` is given. -1 when none qualifies, so a
    reader sees no evidence rather than a bad one."""
    title = units[0] if title is None and units else (title or "")
    for i in ranking:
        if 0 <= i < len(units) and evidence_ok(units[i], title):
            return int(i)
    return -1


def clip(text: str, limit: int) -> str:
    """``text`` at most ``limit`` characters, cut at a sentence end if one falls in the last third,
    else at a word boundary with "…": never mid-word."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[:limit]
    ends = [m.end() for m in re.finditer(r"[.!?][\"'”’)\]]*(?=\s)", head)]
    if ends and ends[-1] >= limit * 2 // 3:
        return head[:ends[-1]]
    cut = head[:limit - 1]
    if not text[limit - 1].isspace():  # the cut falls inside a word: drop that word
        cut = cut.rsplit(" ", 1)[0] if " " in cut else cut
    return cut.rstrip(" ,;:–—-") + ELLIPSIS


def quote_ready(sentence: str) -> str:
    """The sentence ready to sit between the template's own “ and ”: an outer pair of quote marks,
    or an opening quote whose closing one is in another sentence (or the reverse), is dropped, so a
    reader never sees ““However ...”. Inner quotations become ‘…’ so they do not close the outer pair."""
    s = " ".join(sentence.split())
    if len(s) >= 2 and s[0] in _PAIRS and s[-1] == _PAIRS[s[0]] and _balanced(s[1:-1]):
        s = s[1:-1].strip()
    if s and s[0] in _OPEN and not _closes(s, 0):
        s = s[1:].lstrip()
    if s and s[-1] in _CLOSE and not _opened(s, len(s) - 1):
        s = s[:-1].rstrip()
    return s.replace("“", "‘").replace("”", "’")


def _closes(s: str, i: int) -> bool:
    return _PAIRS.get(s[i], "") in s[i + 1:]


def _opened(s: str, i: int) -> bool:
    return any(o in s[:i] for o, c in _PAIRS.items() if c == s[i])


def _balanced(s: str) -> bool:
    return s.count("“") == s.count("”") and s.count('"') % 2 == 0


def _stem(word: str) -> str:
    w = word.casefold()
    for suffix in ("ing", "ed", "es", "s"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            return w[: -len(suffix)]
    return w


def _tokens(text: str) -> set[str]:
    stop = _SMALL | {"it", "their", "your", "be", "should", "must", "all", "any", "have", "has", "who", "which"}
    return {_stem(w) for w in _WORD.findall(text) if w.casefold() not in stop and len(w) > 2}


def _longest_run(a: list[str], b: list[str]) -> int:
    """Length of the longest run of consecutive words the two word lists share."""
    best, prev = 0, [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


SHARED_RUN = 6  # outlets paraphrase the story but quote the vendor's instruction: "delete the existing connection in ..."


def near_duplicate(a: str, b: str, threshold: float = 0.5) -> bool:
    """Two requests say the same thing: their content words (lightly stemmed) overlap by ``threshold``
    (Jaccard), one's words are nearly all in the other's, or they share a run of :data:`SHARED_RUN` words
    (numbers left out, so two requests that both say "upgrade to 7.4.3" stay apart when they ask more)."""
    ta, tb = _tokens(a), _tokens(b)
    if not ta or not tb:
        return _norm(a) == _norm(b)
    inter = len(ta & tb)
    if inter / len(ta | tb) >= threshold or inter / min(len(ta), len(tb)) >= 0.8:
        return True
    # Version numbers are not words: "upgrade to 7.4.3" in two different requests is not a shared quotation.
    return _longest_run(_letter_words(a), _letter_words(b)) >= SHARED_RUN


def _letter_words(text: str) -> list[str]:
    return [w for w in _norm(text).split() if any(c.isalpha() for c in w)]


def dedupe_actions(actions: Iterable[str], limit: int = 3) -> list[str]:
    """``actions`` in order (best document's first), each kept only when it is not a near duplicate
    of one already kept, at most ``limit``."""
    kept: list[str] = []
    for action in actions:
        if not any(near_duplicate(action, k) for k in kept):
            kept.append(action)
            if len(kept) >= limit:
                break
    return kept

