"""Who a document affects: the suppliers it names, and the parties related to a compromised one, each with its path.

The register's relations (``store.relations``) are a graph. An edge runs from the party whose
compromise matters to the party it reaches:

- ``uses``, ``component_of``, ``subprocessor``: from the target to the supplier (Orion hit -> Acme, who uses it);
- ``we_use``: from the target to us ("you");
- ``integrates_with``: from the supplier, who holds credentials, to our tenant at the target (Mimecast hit ->
  Microsoft 365, your tenant). Our tenant and we are ends: nothing propagates beyond them.

A document *seeds* the graph with each party it names as the compromised one: a registered supplier, or
any party of a relation (its name, an alias, or a product of a relation to it), named in the title
(``affected``), or in the lead when the title names no party at all (``possibly affected``; title and lead
are role ``subject`` in :mod:`classifiers.suppliers`). Elsewhere ("Mimecast's certificate authenticates to
Microsoft 365" in a Mimecast story's lead, a passing word in the text) a party is only ``mentioned`` and
seeds nothing. A party named in the title that another party named there reaches through a relation ("Mimecast
... access Microsoft accounts", Mimecast integrates_with Microsoft) is no seed either: it is ``mentioned``
itself, and what is hit (our tenant at it) is reached with its path. From the seeds, at most two hops, breadth first,
each party once (so cycles terminate). Each party reached is labelled:

- ``affected``: every relation on the path is confirmed (has a ``source``) and, at the first hop, the
  product is named in the document and, where the document states affected versions, a version in use
  lies in them (``classifiers.versions``);
- ``possibly affected``: the same path with something unknown: an unconfirmed relation, the product not
  named, versions not given on either side or unreadable, a range in use only overlapping;
- not listed: a version in use known to lie outside every stated range.

The affected versions are those the document states anywhere ("versions 2019.4 HF5 through 2020.2.1 HF1"):
a story about two products with different ranges applies both ranges to both (a limit; such stories are rare).
A party reached from a "possibly affected" seed or party is at most "possibly affected". Missing data is
never "safe": it is "possibly affected".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .suppliers import Match, Matcher, normalize
from .versions import Range, stated_ranges, verdict

MAX_HOPS = 2
ENDS = {"integrates_with", "we_use"}  # our tenant and ourselves: nothing propagates further
MIN_PRODUCT_CHARS = 3  # shorter product names ("ui", "db") would seed half the news
YOU = "you"
AFFECTED, POSSIBLY, MENTIONED = "affected", "possibly affected", "mentioned"


def key(name: str) -> str:
    """A party's identity: case-insensitive, whitespace collapsed (as the register's ``name_key``)."""
    return " ".join((name or "").split()).casefold()


def target_label(rel: dict[str, Any]) -> str:
    """"SolarWinds Orion 2020.2.1", "Microsoft 365" (a product that starts with its vendor's name stands alone)."""
    target, product = rel["target"], rel.get("product") or ""
    label = product if product and key(product).startswith(key(target)) else " ".join(x for x in (target, product) if x)
    return f"{label} {rel['versions']}" if rel.get("versions") else label


_STEP = ("supplier", "relation", "target", "product", "versions", "source")


@dataclass
class Edge:
    rel: dict[str, Any]
    upstream: str  # the key of the party whose compromise travels along this edge
    party: str  # the key of the party it reaches
    display: str  # that party as shown
    supplier_id: int | None  # that party in the register, if it is there

    def __post_init__(self) -> None:
        # Computed once per relation, not once per document that reaches it (a tenth of the time at 50,000).
        self.step = {k: self.rel.get(k) or "" for k in _STEP}
        self.link = _link(self.step)
        self.product_keys = (key(self.step["product"]), key(target_label({**self.step, "versions": ""})))


class Graph:
    """The register's relations as edges from compromised to reached party, and a matcher of every seedable party."""

    def __init__(self, suppliers: Iterable[dict[str, Any]], relations: Iterable[dict[str, Any]]):
        self.canonical: dict[str, str] = {}  # any name or alias key -> the registered supplier's name key
        self.registered: dict[str, tuple[int, str]] = {}  # name key -> (id, name)
        self.by_id: dict[int, str] = {}
        aliases: dict[str, list[str]] = {}
        for s in suppliers:
            k = key(s["name"])
            self.registered[k] = (int(s["id"]), s["name"])
            self.by_id[int(s["id"])] = k
            aliases[k] = list(s.get("aliases") or [])
            for name in [s["name"], *aliases[k]]:
                self.canonical.setdefault(key(name), k)
        self.down: dict[str, list[Edge]] = {}
        names: dict[str, str] = {}
        products: dict[str, set[str]] = {}
        for rel in relations:
            supplier = self.canonical.get(key(rel["supplier"]), key(rel["supplier"])) or YOU
            target = self.canonical.get(key(rel["target"]), key(rel["target"]))
            if rel["relation"] == "integrates_with":
                edge = Edge(rel, supplier, f"{target}|tenant", f"{target_label({**rel, 'versions': ''})} (your tenant)",
                            self._id(target))
                names.setdefault(supplier, rel["supplier"])
            elif rel["relation"] == "we_use":
                edge = Edge(rel, target, YOU, YOU, None)
            else:
                edge = Edge(rel, target, supplier, self._name(supplier, rel["supplier"]), self._id(supplier))
            if edge.upstream == target:
                names.setdefault(target, rel["target"])
                if len(rel.get("product") or "") >= MIN_PRODUCT_CHARS:
                    products.setdefault(target, set()).add(rel["product"])
            self.down.setdefault(edge.upstream, []).append(edge)
        self.nodes = sorted(self.down)
        self.matcher = Matcher(
            {"id": i, "name": self.registered.get(k, (0, names.get(k, k)))[1], "aliases": aliases.get(k, []),
             "products": sorted(products.get(k, ()))} for i, k in enumerate(self.nodes))

    def _id(self, k: str) -> int | None:
        return self.registered[k][0] if k in self.registered else None

    def _name(self, k: str, fallback: str) -> str:
        return self.registered[k][1] if k in self.registered else fallback

    def impacts(self, doc: dict[str, Any], direct: list[Match]) -> list[dict[str, Any]]:
        """The parties ``doc`` affects, given the register suppliers it names (``direct``), each as a
        supplier_impacts row (party_key, party, supplier_id, status, hops, path, edges)."""
        graph_matches = [(self.nodes[m.supplier_id], m) for m in self.matcher.match(doc)] if self.down else []
        named_here = [(self.by_id[m.supplier_id], m) for m in direct if m.supplier_id in self.by_id]
        # The compromised party is the one the title names; the lead's parties only when the title names none.
        in_title = any(m.field == "title" for _k, m in [*named_here, *graph_matches])
        seed_status = {"title": AFFECTED} if in_title else {"lead": POSSIBLY}
        out: dict[str, dict[str, Any]] = {}
        seeds: dict[str, str] = {}  # key -> its status as the compromised party
        for k, m in [*named_here, *graph_matches]:
            status = seed_status.get(m.field)
            if status is not None and seeds.get(k) != AFFECTED:
                seeds[k] = status
            if k in self.registered and (k not in out or (status and out[k]["status"] != AFFECTED)):
                sid, name = self.registered[k]
                out[k] = {"party_key": k, "party": name, "supplier_id": sid, "hops": 0, "edges": [],
                          "status": status or MENTIONED, "path": _named(name, m)}
        # A party the document names that another named party reaches ("Mimecast ... access Microsoft accounts",
        # Mimecast integrates_with Microsoft) is not a compromised party of its own: its path says how it is hit.
        reached = {e.party.removesuffix("|tenant") for k in seeds for e in self.down.get(k, ())} - {YOU}
        explained = {k for k in seeds if k in reached and any(e.party.removesuffix("|tenant") == k
                                                              for s in seeds if s != k for e in self.down.get(s, ()))}
        if explained and explained != set(seeds):
            for k in explained:
                del seeds[k]
                if k in out:
                    out[k]["status"] = MENTIONED
                    out[k]["path"] += ", reached through another party it names (see that party's path)"
        if not seeds:
            return list(out.values())
        text = f"{doc.get('title') or ''}\n{doc.get('text') or doc.get('summary') or ''}"
        stated = stated_ranges(text)
        named = {key(term) for _s, _e, entries in self.matcher._words(normalize(text)) for _i, term in entries}
        visited = set(seeds)
        frontier: list[tuple[str, list[Edge], str, list[str]]] = [
            (k, [], status, [] if status == AFFECTED else ["named in the lead, not the title"])
            for k, status in seeds.items()]
        for hop in range(1, MAX_HOPS + 1):
            following = []
            for node, edges, status, notes in frontier:
                for edge in self.down.get(node, ()):
                    if edge.party in visited:
                        continue
                    judged = _judge(edge, hop, status, named, stated)
                    if judged is None:
                        continue  # a version in use outside the stated ranges: this edge carries nothing
                    new_status, note = judged
                    path = [*edges, edge]
                    all_notes = [*notes, note] if note else notes
                    visited.add(edge.party)
                    old = out.get(edge.party)
                    if old is None or old["status"] == MENTIONED:
                        out[edge.party] = {"party_key": edge.party, "party": edge.display, "supplier_id": edge.supplier_id,
                                           "status": new_status, "hops": hop, "edges": [e.step for e in path],
                                           "path": _join([e.link for e in path])
                                           + (f" ({'; '.join(all_notes)})" if all_notes else "")}
                    if edge.rel["relation"] not in ENDS:
                        following.append((edge.party, path, new_status, all_notes))
            frontier = following
        return list(out.values())


def _named(name: str, m: Match) -> str:
    """Where the document names a party itself: "named in the title", "mentioned in the text as Orion"."""
    how = "named" if m.role == "subject" else "mentioned"
    return f"{how} in the {m.field}" + (f" as {m.term}" if key(m.term) != key(name) else "")


def _judge(edge: Edge, hop: int, status: str, named: set[str], stated: list[Range]) -> tuple[str, str] | None:
    """The status a party reached over ``edge`` gets, and a note saying what is unknown; None: not affected."""
    rel = edge.step
    notes = []
    if not rel["source"]:
        notes.append("unconfirmed relation")
    if hop == 1 and rel["relation"] != "integrates_with":  # the document is about this edge's target
        product = rel["product"]
        if product and edge.product_keys[0] not in named and edge.product_keys[1] not in named:
            notes.append(f"{product} not named in the story")
        elif stated:
            ranges = ", ".join(r.text for r in stated)
            inside = verdict(rel.get("versions"), stated)
            if inside is False:
                return None
            if inside is None:
                notes.append(f"version in use {'unknown' if not rel.get('versions') else 'not certainly'} "
                             f"within affected versions {ranges}")
            else:
                notes.append(f"affected versions {ranges}")
        elif rel.get("versions"):
            notes.append("affected versions unknown")
    uncertain = [n for n in notes if not n.startswith("affected versions ")]
    return (POSSIBLY if uncertain or status != AFFECTED else AFFECTED), "; ".join(notes)


def _link(edge: dict[str, Any]) -> tuple[str, str, str]:
    """One edge for the path: its supplier's key, its target's key, and "Supplier → relation → Target" pieces."""
    target = target_label(edge)
    if edge["relation"] == "integrates_with":
        target = f"{target_label({**edge, 'versions': ''})} (your tenant)"
    return key(edge["supplier"]), key(edge["target"]), f"{edge['supplier'] or 'You'} → {edge['relation']} → {target}"


def _join(links: list[tuple[str, str, str]]) -> str:
    parts: list[str] = []
    previous_target = None
    for supplier, target, text in reversed(links):
        if previous_target is not None and supplier == previous_target:
            parts.append(text.split(" → ", 1)[1].join((" → ", "")))
        else:
            parts.append(("; " if parts else "") + text)
        previous_target = target
    return "".join(parts)


def render_path(edges: list[dict[str, Any]]) -> str:
    """The path as one line, from the party reached back to the compromised one where relations chain:
    "Globex → uses → Acme → uses → SolarWinds Orion 2020.2.1"; unchained edges are joined by "; "."""
    return _join([_link(e) for e in edges])
