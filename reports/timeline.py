"""A supplier's timeline: every story that names the supplier, oldest first, with labels, scores, evidence and sources.

Reads from the store only (``Store.supplier``, ``Store.suppliers``, ``Store.supplier_timeline``);
documents of one stored story are one entry, documents not clustered yet are one entry each.
Rendered as HTML (``supplier.html.j2``, autoescaped, inline styles) or plain data (``as_dict``).
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from supplywatch.store import InputError, is_day, vocabulary

from .digest import safe_url


@dataclass
class TimelineDocument:
    id: int
    title: str
    source: str
    url: str  # "" when the stored URL is not http(s)
    published: str
    role: str  # subject | mentioned | related (it reaches the supplier only through the register's relations)
    field: str  # title | lead | text | link | relation
    term: str
    labels: list[dict[str, Any]]  # flagged labels: label, score, evidence; highest first
    impact: str | None = None  # affected | possibly affected | mentioned (None: not computed yet)
    path: str | None = None  # why: "named in the title", "Acme → uses → SolarWinds Orion 2020.2.1 (...)"


@dataclass
class TimelineStory:
    story_id: int | None  # None: a document not clustered into a story yet
    title: str
    first_published: str
    last_published: str
    role: str  # subject when any document names the supplier in its title or lead; related: only through relations
    sources: list[str]
    labels: list[dict[str, Any]]  # per label, its best score across the documents, with that document's evidence
    documents: list[TimelineDocument]
    impact: str | None = None  # the surest of its documents' (affected first)
    path: str | None = None  # that document's path


_ORDER = {"affected": 0, "possibly affected": 1, "mentioned": 2}


@dataclass
class Timeline:
    supplier: dict[str, Any]  # name, aliases, domains, products, tier, owner
    since: str | None
    stories: list[TimelineStory]
    generated_at: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))

    @property
    def documents(self) -> int:
        return sum(len(s.documents) for s in self.stories)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "documents": self.documents}


def check_since(since: str | None) -> str | None:
    if since is None:
        return None
    if not is_day(since):
        raise InputError(f"bad date {since!r} for --since: expected YYYY-MM-DD, for example 2021-01-01")
    return since


def unknown_supplier(name: str, suppliers: list[dict[str, Any]]) -> InputError:
    """A one-line error naming the close names of the register (difflib), or how to fill the register."""
    if not suppliers:
        return InputError(f"no supplier {name!r}: the register is empty (supplywatch suppliers import FILE.csv)")
    names = {s["name"].casefold(): s["name"] for s in suppliers}
    for s in suppliers:
        for alias in s["aliases"]:
            names.setdefault(alias.casefold(), s["name"])
    close = difflib.get_close_matches(" ".join(name.split()).casefold(), list(names), n=3, cutoff=0.6)
    hint = sorted({names[c] for c in close}, key=str.casefold)
    suffix = f"; did you mean {', '.join(hint)}?" if hint else " (supplywatch suppliers list shows the register)"
    return InputError(f"no supplier {name!r}{suffix}")


def build_timeline(store: Any, name: str, *, since: str | None = None) -> Timeline:
    """The timeline of the supplier called ``name`` (or with that alias); documents published on or after ``since``."""
    since = check_since(since)
    supplier = store.supplier(name)
    if supplier is None:
        raise unknown_supplier(name, store.suppliers())
    rows = store.supplier_timeline(supplier["id"], since=since)
    groups: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        key = ("story", row["story_id"]) if row["story_id"] is not None else ("doc", row["id"])
        groups.setdefault(key, []).append(row)
    stories = [_story(docs) for docs in groups.values()]
    stories.sort(key=lambda s: (s.first_published, s.story_id or 0))
    info = {k: supplier[k] for k in ("name", "aliases", "domains", "products", "tier", "owner")}
    return Timeline(supplier=info, since=since, stories=stories)


def _story(docs: list[dict[str, Any]]) -> TimelineStory:
    members = [TimelineDocument(id=d["id"], title=" ".join((d["title"] or "").split()) or "(untitled)",
                                source=d["source"], url=safe_url(d["url"]), published=d["published"] or "",
                                role=d["role"], field=d["field"], term=d["term"] or "", labels=d["labels"],
                                impact=d.get("impact"), path=d.get("path"))
               for d in docs]
    best: dict[str, dict[str, Any]] = {}
    for d in members:
        for lab in d.labels:
            if lab["label"] not in best or lab["score"] > best[lab["label"]]["score"]:
                best[lab["label"]] = {"label": lab["label"], "score": lab["score"],
                                      "evidence": " ".join((lab["evidence"] or "").split()),
                                      "follow_up": vocabulary.follow_up_of(lab)}
    sources: list[str] = []
    for d in members:
        if d.source not in sources:
            sources.append(d.source)
    first = docs[0]
    title = " ".join((first.get("story_title") or "").split()) or members[0].title
    roles = {d.role for d in members}
    surest = min((d for d in members if d.impact), key=lambda d: _ORDER.get(d.impact or "", 3), default=None)
    return TimelineStory(story_id=first["story_id"], title=title, first_published=members[0].published,
                         last_published=members[-1].published,
                         role="subject" if "subject" in roles else "mentioned" if "mentioned" in roles else "related",
                         sources=sources, labels=sorted(best.values(), key=lambda x: (-x["score"], x["label"])),
                         documents=members, impact=surest and surest.impact, path=surest and surest.path)


def render_timeline_html(timeline: Timeline, templates_dir: str | Path | None = None) -> str:
    from .render import environment

    return environment(templates_dir).get_template("supplier.html.j2").render(timeline=timeline)


def timeline_text(timeline: Timeline) -> str:
    """The timeline for a terminal: one block per story."""
    s = timeline.supplier
    n = len(timeline.stories)
    lines = [f"{s['name']}: {n} {'story' if n == 1 else 'stories'}, {timeline.documents} "
             f"document{'' if timeline.documents == 1 else 's'}"
             + (f" since {timeline.since}" if timeline.since else "")
             + (f"  (tier {s['tier']})" if s["tier"] else "") + (f"  (owner {s['owner']})" if s["owner"] else "")]
    for story in timeline.stories:
        labels = ", ".join(f"{lab['label']} {lab['score']:.2f}" for lab in story.labels) or "no flagged labels"
        sid = f"story {story.story_id}" if story.story_id is not None else "not clustered"
        lines.append("")
        lines.append(f"{story.first_published[:10]}  {story.title}")
        lines.append(f"    {story.role} | {sid} | {len(story.documents)} documents from {', '.join(story.sources)} | {labels}")
        if story.impact and story.impact != "mentioned":
            lines.append(f"    {story.impact}: {story.path}")
        for lab in story.labels:
            if lab["evidence"]:
                lines.append(f"    {lab['label']}: {lab['evidence']}")
            if lab.get("follow_up"):
                lines.append(f"    {lab['label']}: {lab['follow_up']}")
        for d in story.documents:
            where = f" ({d.field}: {d.term})" if d.role != "related" else ""
            lines.append(f"    - {d.published[:10]} [{d.source}] {d.title}{where} {d.url}".rstrip())
    return "\n".join(lines) + "\n"
