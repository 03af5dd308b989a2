"""The daily digest: one day's flagged documents, grouped into stories and sections, with what customers must do.

Reads from the store only (``Store.digest_documents``, ``Store.failing_sources``); rendering is in
:mod:`reports.render`. Documents of one stored story (the clustering step's work) are one item
with all their outlets; documents not yet clustered fall back to grouping by identical title.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from supplywatch.store import InputError, is_day, vocabulary
from supplywatch.store.text import clip, dedupe_actions, quote_ready

HEADLINE = vocabulary.headline()
TOPIC_LIMIT = 10
SUPPLIERS = "suppliers"  # the "Your suppliers" section's key (not a classifier label)
SUPPLIERS_TITLE = "Your suppliers"
MAX_ACTIONS = 3
MAX_SENTENCE_CHARS = 400

# A sentence asks something of customers when it says so, or names one of the usual remedies.
_ASKED = re.compile(
    r"\b(?:customers|users|administrators|admins|organi[sz]ations|clients|tenants)\b"
    r"(?:\s+[\w'’-]+){0,8}?\s+"
    r"(?:(?:are|were|is|have\s+been|are\s+being)\s+(?:strongly\s+)?(?:advised|asked|urged|encouraged|instructed|told)"
    r"|should|must|(?<!not\s)(?<!n't\s)(?<!no\s)need\s+to)\b",  # "most users will not need to" asks nothing
    re.IGNORECASE,
)
# Someone recommends, or the sentence is an instruction that starts with a remedy ("Delete the
# connection..."). A remedy in the company's own voice ("it will rotate the credentials") is news, not a request.
_REMEDY = re.compile(
    r"\b(?:recommends?|recommended)\b"
    # "urges customers to", "is asking every customer that uses it to": a request. Not "advises several customers".
    r"|\b(?:advis|urg|ask|tell|instruct|encourag)(?:es|s|ing)\s+(?:all\s+|every\s+|its\s+|their\s+|affected\s+)*"
    r"(?:customers?|users?|administrators?|admins?|organi[sz]ations?|clients?|tenants?)\b.*\bto\b"
    r"|^(?:please\s+|immediately\s+)?(?:delete|remove|re-?establish|re-?create|rotate|reset|revoke|update|upgrade|apply"
    r"|install|uninstall|disable|replace|review|change|block|restrict)\b",
    re.IGNORECASE,
)
# Words of which a sentence must hold one for _ASKED, or _REMEDY, to match: a cheap test first, since most
# sentences ask nothing (this more than halves the digest's time on a big day). Only the words the whole text
# holds are looked for in its sentences. tests/test_actions_prefilter.py checks that the words cover the regexes.
_ASKED_WHO = ("customer", "user", "admin", "organi", "client", "tenant")
_ASKED_VERB = ("advised", "asked", "urged", "encouraged", "instructed", "told", "should", "must", "need")
_REMEDY_WORD = ("recommend", "advis", "urg", "ask", "tell", "instruct", "encourag", "delete", "remove", "establish",
                "create", "rotate", "reset", "revoke", "update", "upgrade", "apply", "install", "disable", "replace",
                "review", "change", "block", "restrict")
_FOLD = str.maketrans({"ı": "i", "İ": "i"})
# A sentence's end: . ! or ? and any closing quotes or brackets, before a space and a capital or digit.
# Starting at the mark (not a look-behind) lets re scan for it quickly.
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences (paragraphs first), whitespace collapsed."""
    out: list[str] = []
    for line in (text or "").split("\n"):
        para = " ".join(line.split())
        start = 0
        for end in _SENTENCE_END.finditer(para):
            out.append(para[start:end.start() + 1].strip())
            start = end.end()
        out.append(para[start:].strip())
    return [s for s in out if s]


def _fold(text: str) -> str:
    # re's IGNORECASE also takes "ı" and "İ" for "i", which casefold() keeps apart: map them first.
    return (text.translate(_FOLD) if "ı" in text or "İ" in text else text).casefold()


def _holds(folded: str, words: tuple[str, ...]) -> bool:
    for word in words:  # a loop, not any(<generator>): this runs for every sentence
        if word in folded:
            return True
    return False


def _asks(sentence: str, remedy: tuple[str, ...] = _REMEDY_WORD, verbs: tuple[str, ...] = _ASKED_VERB,
          who: tuple[str, ...] = _ASKED_WHO) -> bool:
    folded = _fold(sentence)
    if _holds(folded, remedy) and _REMEDY.search(sentence):
        return True
    return _holds(folded, verbs) and _holds(folded, who) and _ASKED.search(sentence) is not None


def extract_actions(text: str, limit: int = MAX_ACTIONS) -> list[str]:
    """Sentences of ``text`` that ask something of customers, in document order, at most ``limit``.

    A sentence qualifies when customers (users, administrators...) are advised, asked, urged or
    told to, or should do something; when someone recommends, advises or urges; or when it is an
    instruction starting with a remedy (delete, re-establish, rotate, update, revoke...). The
    company's own steps ("it will rotate the credentials") are not requests. Over-long sentences are cut.
    """
    found: list[str] = []
    folded = _fold(text or "")
    remedy = tuple(w for w in _REMEDY_WORD if w in folded)
    verbs = tuple(w for w in _ASKED_VERB if w in folded)
    who = tuple(w for w in _ASKED_WHO if w in folded) if verbs else ()
    if not remedy and not who:
        return found
    for sentence in sentences(text):
        if _asks(sentence, remedy, verbs, who):
            sentence = clip(sentence, MAX_SENTENCE_CHARS)  # never mid-word
            if sentence not in found:
                found.append(sentence)
            if len(found) >= limit:
                break
    return found


def safe_url(url: str | None) -> str:
    """``url`` when it is an absolute http(s) URL without whitespace or control characters, else ``""``."""
    if not url or any(ord(c) <= 32 or ord(c) == 127 for c in url):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else ""


def canonical_title(title: str | None) -> str:
    return " ".join((title or "").split()).casefold()


def parse_day(day: str | None) -> str:
    """``day`` checked as a real ``YYYY-MM-DD`` date; ``None`` means yesterday (UTC)."""
    if day is None:
        return (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    if not is_day(day):
        raise InputError(f"bad date {day!r}: expected YYYY-MM-DD, for example 2021-01-12")
    return day


@dataclass
class Link:
    source: str
    url: str  # "" when the stored URL is not http(s)


@dataclass
class OtherStory:
    """Another of the day's stories of the same incident, listed under the item that leads them."""

    title: str
    source: str
    url: str  # "" when the stored URL is not http(s)


@dataclass
class Item:
    """One story in one section: its documents' sources and links, the section's label and score."""

    title: str
    sources: list[str]
    date: str
    label: str
    score: float
    evidence: str
    actions: list[str]
    links: list[Link]
    vendor: str = ""
    first_reported: str = ""  # the story's first day when it began before this digest's day (a follow-up)
    suppliers: list[str] = field(default_factory=list)  # registered suppliers it names, subjects first
    # Who the story affects (issue 15, fourth parties): party, status (affected | possibly affected), path; surest first.
    impacts: list[dict[str, Any]] = field(default_factory=list)
    also: list[tuple[str, float]] = field(default_factory=list)  # the story's other flagged labels, best first
    feed_only: bool = False  # every document of the story is its feed entry only (title + summary, no page)
    follow_up: str = ""  # "follow-up of: X certificate compromise, first reported DAY" (an incident's follow-up)
    # The day's other stories of the same incident (headline section): one item per incident, not per story.
    same_incident: list[OtherStory] = field(default_factory=list)
    incident: Any = None  # the incident the lead document opened or follows (the store's id), else None


@dataclass
class Section:
    label: str
    title: str
    items: list[Item]
    total: int  # stories before the section was cut short

    @property
    def more(self) -> int:
        return self.total - len(self.items)


@dataclass
class Digest:
    day: str
    headline: Section
    topics: list[Section]
    failing_sources: list[dict[str, Any]]
    generated_at: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    suppliers: Section | None = None  # "Your suppliers": stories naming a registered supplier (None: none do)

    @property
    def sections(self) -> list[Section]:
        return [s for s in [self.suppliers, self.headline, *self.topics] if s is not None and s.items]

    @property
    def empty(self) -> bool:
        return not self.sections


@dataclass
class _Story:
    docs: list[dict[str, Any]]

    def best(self, label: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The document with the highest score for ``label`` and that label, or None."""
        hits = [(doc, lab) for doc in self.docs for lab in doc["labels"] if lab["label"] == label]
        return max(hits, key=lambda h: h[1]["score"]) if hits else None

    def item(self, label: str) -> Item:
        """The story as an item of ``label``'s section; with ``label`` "" (the suppliers section, a story
        flagged with nothing), led by its first document, without label or score."""
        doc, lab = self.best(label) if label else (self.docs[0], {"score": 0.0, "evidence": ""})  # type: ignore[misc]
        sources: list[str] = []
        links: list[Link] = []
        requests: list[str] = []
        # The best document first, so its source, link and requests lead.
        for d in [doc, *[d for d in self.docs if d is not doc]]:
            if d["source"] not in sources:
                sources.append(d["source"])
            links.append(Link(d["source"], safe_url(d["url"])))
            requests.extend(a for a in extract_actions(d.get("text") or "") if a not in requests)
        date = min(d["published"] for d in self.docs)[:10]
        first = (doc.get("story_first_published") or "")[:10]
        title = " ".join((doc["title"] or "").split())
        evidence = quote_ready(lab["evidence"] or "")  # the templates add the quote marks
        also = sorted(((name, s) for name, s in self.label_scores().items() if name != label), key=lambda x: -x[1])
        return Item(title=title or "(untitled)", sources=sources, date=date, label=label, score=float(lab["score"]),
                    evidence="" if canonical_title(evidence) == canonical_title(title) else evidence,
                    actions=dedupe_actions(requests, MAX_ACTIONS), links=links, vendor=doc.get("vendor") or "",
                    first_reported=first if first and first < date else "", also=also,
                    feed_only=all(d.get("text_source") == "feed" for d in self.docs),
                    follow_up=vocabulary.follow_up_of(lab), incident=doc.get("incident_id"))

    @property
    def key(self) -> Any:
        """The story's identity across sections, as :func:`_stories` groups: stored story id, else title."""
        first = self.docs[0]
        if first.get("story_id") is not None:
            return ("story", first["story_id"])
        return ("title", canonical_title(first["title"]) or f"#{first['id']}")

    def label_scores(self) -> dict[str, float]:
        """Every flagged label of the story with its best score over the story's documents."""
        out: dict[str, float] = {}
        for doc in self.docs:
            for lab in doc["labels"]:
                out[lab["label"]] = max(out.get(lab["label"], 0.0), float(lab["score"]))
        return out

    def home(self) -> str | None:
        """The section of a story no supplier claims: the headline if flagged so, else its highest-scoring
        topic (ties by the digest's topic order); None when flagged with nothing."""
        scores = self.label_scores()
        if HEADLINE in scores:
            return HEADLINE
        topics = [t for t in vocabulary.topics() if t in scores]
        return max(topics, key=lambda t: (scores[t], -vocabulary.topics().index(t))) if topics else None


def _stories(docs: list[dict[str, Any]]) -> list[_Story]:
    groups: dict[Any, _Story] = {}
    for doc in docs:
        if doc.get("story_id") is not None:
            key: Any = ("story", doc["story_id"])
        else:  # not clustered yet: only identical titles are one story; untitled documents never merge
            key = ("title", canonical_title(doc["title"]) or f"#{doc['id']}")
        groups.setdefault(key, _Story([])).docs.append(doc)
    return list(groups.values())


def _section(label: str, stories: list[_Story], limit: int | None) -> Section:
    items = sorted((s.item(label) for s in stories), key=lambda i: (-i.score, i.title.casefold()))
    return Section(label, vocabulary.display(label), items[:limit] if limit else items, len(items))


def _one_item_per_incident(section: Section) -> Section:
    """The section with the day's stories of one incident folded into the best of them.

    A much-covered incident brings many follow-ups a day (a retailer's breach: the CEO resigns, police raid its
    offices, class actions are filed; each names the party, so each follows the first report). The reader is told
    once, with the other stories listed by title and link. The incident is the store's record (the first report
    and its follow-ups), else the follow-up reason the stories share."""
    items: list[Item] = []
    leads: dict[Any, Item] = {}
    for item in section.items:  # best first
        key = ("incident", item.incident) if item.incident is not None else (
            ("follow-up", item.follow_up) if item.follow_up else None)
        lead = leads.get(key) if key is not None else None
        if lead is None:
            if key is not None:
                leads[key] = item
            items.append(item)
            continue
        first = item.links[0]  # every story has one link a document, its best document's first
        lead.same_incident.append(OtherStory(item.title, first.source, first.url))
    return Section(section.label, section.title, items, section.total - (len(section.items) - len(items)))


def build_digest(store: Any, day: str | None = None, *, topic_limit: int = TOPIC_LIMIT) -> Digest:
    """The digest of the UTC ``day`` (``YYYY-MM-DD``; default yesterday) from ``store``.

    Each story appears once, in its most important section: "Your suppliers" when it names a registered
    supplier, else the headline when flagged so, else its highest-scoring topic; the item lists the
    story's other flagged labels (``Item.also``), so nothing the classifier said is lost. In the headline
    section the day's stories of one incident are one item (``Item.same_incident``).
    """
    day = parse_day(day)
    docs = store.digest_documents(day)
    suppliers, taken = _suppliers_section(store, docs)
    placed: dict[str, list[_Story]] = {HEADLINE: [], **{t: [] for t in vocabulary.topics()}}
    for story in _stories([d for d in docs if d["labels"]]):
        where = story.home()
        if where is not None and story.key not in taken:
            placed[where].append(story)
    headline = _one_item_per_incident(_section(HEADLINE, placed[HEADLINE], None))
    topics = [_section(label, placed[label], topic_limit) for label in vocabulary.topics()]
    return Digest(day=day, headline=headline, topics=topics, failing_sources=store.failing_sources(),
                  suppliers=suppliers)


def _suppliers_section(store: Any, docs: list[dict[str, Any]]) -> tuple[Section | None, set[Any]]:
    """Every story of the day's ``docs`` naming a registered supplier, flagged or not (None when none does),
    and the keys of those stories (no other section shows them).

    An item is led by the story's headline label when it has one, else its best topic (none when nothing
    is flagged), with its other labels in ``also`` and the suppliers it names, those named in a title or
    lead first; highest score first, then stories whose subject is a supplier, then by title.
    """
    ids = [d["id"] for d in docs]
    matches = store.supplier_matches_for(ids) if docs else {}
    impacts = store.supplier_impacts_for(ids) if docs else {}
    if not matches and not impacts:
        return None, set()
    items: list[tuple[bool, Item]] = []
    taken: set[Any] = set()
    for story in _stories(docs):
        named = sorted({(m["role"] != "subject", m["supplier"]) for d in story.docs for m in matches.get(d["id"], [])},
                       key=lambda x: (x[0], x[1].casefold()))
        reached = story_impacts([imp for d in story.docs for imp in impacts.get(d["id"], [])])
        if not named and not reached:
            continue
        item = story.item(story.home() or "")
        item.suppliers = list(dict.fromkeys(name for _, name in named))
        item.impacts = reached
        # False (first) when a supplier is the story's subject, or a party it reaches is affected
        items.append(((named[0][0] if named else True) and not any(i["status"] == "affected" for i in reached), item))
        taken.add(story.key)
    items.sort(key=lambda x: (-x[1].score, x[0], x[1].title.casefold()))
    shown = [item for _, item in items]
    return (Section(SUPPLIERS, SUPPLIERS_TITLE, shown, len(shown)) if shown else None), taken


_STATUS_ORDER = {"affected": 0, "possibly affected": 1, "mentioned": 2}


def story_impacts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parties a story's documents affect, one per party (surest status, then fewest hops), surest first;
    a supplier only mentioned is left out (the item's supplier list names it already)."""
    best: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: (_STATUS_ORDER.get(r["status"], 3), r["hops"])):
        if row["status"] != "mentioned":
            best.setdefault(row["party_key"], {k: row[k] for k in ("party", "status", "hops", "path")})
    return sorted(best.values(), key=lambda r: (_STATUS_ORDER[r["status"]], r["hops"], r["party"].casefold()))
