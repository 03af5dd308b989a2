"""Story clustering: which documents report the same event (across outlets, and follow-ups in a window).

Two documents are "the same story" when their title+lead vectors from the classifier's encoder are
very close, or close and their titles share distinctive words (names, products, numbers): outlets
rewrite headlines, but keep the victim's name. A new document joins the story holding its most
similar document within the window (checked against every member, so a follow-up that resembles the
first report but not the latest still joins) if it also still relates to the story's first report:
close to it, or sharing a name with its title at a lower similarity. Without that check (single link)
stories chained: on the 3,000 real news items, one story of 246 held the Jaguar Land Rover attack with
the Discord, Co-op and Asahi breaches, and one of 268 every ransomware trend piece of five months
(``benchmarks/STORIES.md``). A saga whose every article names its victim (Coupang, JLR) stays one story.

The thresholds were chosen on a labelled set of pairs (``benchmarks/story_pairs.py`` measures
them: precision and recall of "same story"); they live in :data:`DEFAULTS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

# Chosen on the labelled pairs (benchmarks/story-pairs.tsv; `python benchmarks/story_pairs.py` measures them and
# benchmarks/STORIES.md records the figures): best band-weighted F1 of "same story". `same_story` is the rule.
# The founder's two (`relates_to_founder`): chosen on the whole feed clustered, not on pairs (story_pairs.py prints both).
DEFAULTS = {"embedding": 0.60, "embedding_with_title": 0.45, "title_overlap": 0.20, "window_days": 14,
            "founder_embedding": 0.55, "founder_with_title": 0.30}
LEAD_CHARS = 300

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+&-]*[A-Za-z0-9]|[A-Za-z0-9]")
# Words that say nothing about which event it is: function words and the trade's everyday vocabulary.
_STOP = frozenset("""
a an the and or but of in on at to for from by with without into over after before about as is are was were be
been being has have had it its this that these those their his her our your you we they he she them not no new
says said say warns warn warning report reports reported reveals revealed amid more than over up out how why what
who when where which will would could can may might just now also still all any some most many via vs per
hack hacks hacked hackers hacker attack attacks attacked attackers cyber cyberattack cybersecurity security breach
breached data vulnerability vulnerabilities flaw flaws bug bugs exploit exploited exploits patch patches patched
critical malware ransomware threat threats actors actor campaign users customers company companies firm update
updates million billion thousands week today year years day days first latest urgent alert
certificate certificates cert certs signing code-signing driver-signing token-signing key keys stolen steal stole
compromise compromised compromises revoke revokes revoked revocation rotate rotates rotated rotation researchers
following tells told urged urges asked customers' vendor vendors supplier suppliers software
""".split())
# Advisory feeds publish one document per issue: two advisories of one source are never one story.
ONE_PER_STORY = frozenset({"advisory", "csaf"})


def title_words(title: str) -> set[str]:
    """The distinctive words of a title: lower-cased, possessives cut, stop words and the trade's vocabulary left out."""
    words = set()
    for w in _WORD.findall((title or "").replace("’", "'")):
        w = w.lower()
        if w.endswith("'s"):
            w = w[:-2]
        if len(w) >= 3 and w not in _STOP or w.isdigit() and len(w) >= 2:
            words.add(w)
    return words


def title_overlap(a: set[str], b: set[str]) -> float:
    """Overlap coefficient of two titles' distinctive words (shared / the smaller set): 0..1."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def same_story(similarity: float, overlap: float, params: dict[str, float] = DEFAULTS) -> str | None:
    """Why two documents are one story ("embedding" or "title"), or None when they are not."""
    if similarity >= params["embedding"]:
        return "embedding"
    if similarity >= params["embedding_with_title"] and overlap >= params["title_overlap"]:
        return "title"
    return None


def relates_to_founder(similarity: float, overlap: float, params: dict[str, float] = DEFAULTS) -> bool:
    """Whether a document joining a story still relates to the story's first report (similarity and title
    overlap with it): what keeps a chain of each-like-the-last articles from drifting into other events."""
    return (similarity >= params["founder_embedding"]
            or similarity >= params["founder_with_title"] and overlap >= params["title_overlap"])


def lead_text(doc: dict[str, Any]) -> str:
    """What a document's story vector is made of: its title and the start of its summary or text."""
    lead = " ".join(((doc.get("summary") or "").strip() or (doc.get("text") or "")).split())[:LEAD_CHARS]
    title = " ".join((doc.get("title") or "").split())
    return f"{title}. {lead}" if lead else title


def parse_time(value: str | None) -> datetime | None:
    """An ISO time as a naive UTC datetime, or None when missing or unreadable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None


@dataclass
class Member:
    story: int | str  # a stored story id, or a placeholder for a story made in this run
    words: set[str]
    vector: np.ndarray
    when: datetime | None
    source: str = ""
    kind: str = ""


@dataclass
class Decision:
    document_id: int
    story: int | str | None  # None: the document starts a new story
    similarity: float
    reason: str  # first | embedding | title


class StoryIndex:
    """The members of recent stories, searched for the story a new document belongs to."""

    def __init__(self, params: dict[str, float] | None = None):
        self.params = {**DEFAULTS, **(params or {})}
        self.members: list[Member] = []
        self.founders: dict[int | str, int] = {}  # story -> index of its first member (added in publication order)
        # The members' vectors as rows, in a buffer that doubles when full: each document of a batch is added
        # after it is placed, and re-stacking every member for the next one cost O(members) a document.
        self._matrix: np.ndarray | None = None

    def add(self, story: int | str, title: str, vector: np.ndarray, when: str | None, *, source: str = "",
            kind: str = "") -> None:
        self.founders.setdefault(story, len(self.members))
        self.members.append(Member(story, title_words(title), vector, parse_time(when), source, kind))
        n, vector = len(self.members), np.asarray(vector)
        m = self._matrix
        dtype = np.promote_types(m.dtype if m is not None else np.float32, vector.dtype)  # as np.stack would
        if m is None or m.shape[0] < n or m.shape[1] != vector.shape[0] or m.dtype != dtype:
            grown = np.empty((max(64, 2 * n), vector.shape[0]), dtype=dtype)
            for i, member in enumerate(self.members[:-1]):
                grown[i] = member.vector
            self._matrix = grown
        self._matrix[n - 1] = vector

    def best(self, title: str, vector: np.ndarray, when: str | None, *, source: str = "",
             kind: str = "") -> tuple[int | str | None, float, str]:
        """The story this document joins, its similarity, and why; (None, best similarity, "first") if none."""
        if not self.members:
            return None, 0.0, "first"
        sims = self._matrix[:len(self.members)] @ vector  # type: ignore[index]
        words = title_words(title)
        at = parse_time(when)
        window = timedelta(days=self.params["window_days"])
        best: tuple[int | str | None, float, str] = (None, float(sims.max()), "first")
        best_key = -1.0
        for i in np.argsort(-sims)[:50]:  # the 50 nearest are plenty: the rest are below every threshold
            member = self.members[i]
            if at and member.when and abs(at - member.when) > window:
                continue
            if source and member.source == source and kind in ONE_PER_STORY and member.kind in ONE_PER_STORY:
                continue
            sim = float(sims[i])
            why = same_story(sim, title_overlap(words, member.words), self.params)
            if not why:
                continue
            founder = self.founders[member.story]
            if not relates_to_founder(float(sims[founder]), title_overlap(words, self.members[founder].words),
                                      self.params):
                continue
            # Prefer the embedding's verdict, then the closest member.
            key = sim + (1.0 if why == "embedding" else 0.0)
            if key > best_key:
                best, best_key = (member.story, sim, why), key
        return best


def cluster(docs: list[dict[str, Any]], vectors: np.ndarray, index: StoryIndex) -> list[Decision]:
    """Assign each of ``docs`` (publication order; rows of ``vectors``) to a story in ``index`` or a new one.

    New stories get placeholder keys ``"new:<document id>"`` so later documents of the same run can
    join them; the caller turns placeholders into stored ids.
    """
    out: list[Decision] = []
    for doc, vec in zip(docs, vectors, strict=True):
        source, kind = doc.get("source") or "", doc.get("kind") or ""
        story, sim, why = index.best(doc.get("title") or "", vec, doc.get("published"), source=source, kind=kind)
        if story is None:
            story_key: int | str = f"new:{doc['id']}"
            out.append(Decision(doc["id"], None, 1.0, "first"))
        else:
            story_key = story
            out.append(Decision(doc["id"], story, sim, why))
        index.add(story_key, doc.get("title") or "", vec, doc.get("published"), source=source, kind=kind)
    return out
