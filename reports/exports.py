"""Exports of flagged stories for other tools: an Atom 1.0 feed and a STIX 2.1 bundle.

Both read only through store methods (:meth:`store.Store.flagged_stories`) and are deterministic:
entry and object ids derive from story ids, timestamps from the stored data, so exporting twice
gives the same ids (readers and OpenCTI/MISP update instead of duplicating). Story ids are local
to one database: ``supplywatch cluster --rebuild`` renumbers stories, and so the ids.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from supplywatch.store import InputError, Store

from .digest import safe_url

# Characters XML 1.0 does not allow (C0 controls but tab/newline/return, surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
TAG = "tag:supplywatch,2024:"
# Namespace of every STIX id supplywatch makes (uuid5), fixed forever so re-exports keep their ids.
STIX_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/supplywatch/supplywatch/stix")
# created/modified of the identities and vulnerabilities: fixed, so an object keeps one version whichever
# stories (and --days) an export covers.
STIX_EPOCH = "2024-01-01T00:00:00Z"


def xml_text(value: Any) -> str:
    """``value`` as text XML 1.0 can carry: forbidden characters dropped, DEL and C1 controls too."""
    text = "" if value is None else str(value)
    return _NOT_XML.sub("", text).translate({c: None for c in range(0x7f, 0xa0)})


def _iso(value: str | None) -> str:
    """An ISO time as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC (a bare date is midnight); the epoch when unparsable."""
    if value:
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return "1970-01-01T00:00:00Z"


def _since(days: int | None, now: datetime | None) -> str | None:
    if days is None:
        return None
    if days < 1:
        raise InputError(f"--days must be at least 1, not {days}")
    return ((now or datetime.now(UTC)) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def stories(store: Store, *, label: str | None = None, days: int | None = None, supplier: str | None = None,
            now: datetime | None = None) -> list[dict[str, Any]]:
    """Flagged stories, newest first, filtered by label, age in days (of the latest member) and supplier."""
    supplier_id = store.supplier_id(supplier) if supplier is not None else None
    return store.flagged_stories(label=label, since=_since(days, now), supplier_id=supplier_id)


def _best_document(story: dict[str, Any]) -> dict[str, Any]:
    """The member whose flagged label scores highest (the first member when none does)."""
    members = {m["id"]: m for m in story["members"]}
    for lab in story["labels"]:
        if lab["document_id"] in members:
            return members[lab["document_id"]]
    return story["members"][0]


def _sources(story: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(m["source"] for m in story["members"]))


def _version() -> str:
    try:
        return version("supplywatch")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"


# -- Atom -----------------------------------------------------------------------------------------


def feed_data(story_rows: list[dict[str, Any]], *, title: str, subtitle: str, now: datetime | None = None) -> dict[str, Any]:
    """What alerts.atom.xml renders: every string already XML-safe, every URL checked."""
    entries = []
    for story in story_rows:
        best = _best_document(story)
        top = story["labels"][0] if story["labels"] else None
        sources = _sources(story)
        summary = []
        if top and top["evidence"]:
            summary.append(f"\u201c{' '.join(top['evidence'].split())}\u201d")
        summary.append(f"{len(story['members'])} document{'s' if len(story['members']) != 1 else ''} from "
                       f"{', '.join(sources)}.")
        if story["suppliers"]:
            summary.append("Suppliers: " + ", ".join(s["name"] for s in story["suppliers"]) + ".")
        summary += impact_lines(story)
        entries.append({
            "id": f"{TAG}story/{story['id']}",
            "title": xml_text(" ".join((best["title"] or story["title"] or "").split())),
            "link": xml_text(safe_url(best["url"] or best["canonical_url"])),
            "related": [{"url": xml_text(safe_url(m["url"] or m["canonical_url"])), "title": xml_text(m["title"])}
                        for m in story["members"]
                        if m is not best and safe_url(m["url"] or m["canonical_url"])],
            "published": _iso(story["first_published"]),
            "updated": _iso(story["last_published"]),
            "categories": [{"term": xml_text(lab["label"]), "label": f"{xml_text(lab['label'])} {lab['score']:.2f}"}
                           for lab in story["labels"]],
            "summary": xml_text(" ".join(summary)),
        })
    updated = max((e["updated"] for e in entries), default=_iso((now or datetime.now(UTC)).isoformat()))
    return {"id": f"{TAG}alerts", "title": xml_text(title), "subtitle": xml_text(subtitle), "updated": updated,
            "version": _version(), "entries": entries}


def render_feed(store: Store, *, label: str | None = None, days: int | None = None, supplier: str | None = None,
                now: datetime | None = None, templates_dir: str | None = None) -> tuple[str, int]:
    """The Atom feed of flagged stories, and how many entries it has."""
    from .render import environment

    rows = stories(store, label=label, days=days, supplier=supplier, now=now)
    scope = [f"label {label}" if label else "", f"supplier {supplier}" if supplier else "",
             f"last {days} days" if days else ""]
    title = "supplywatch alerts" + (f" ({', '.join(s for s in scope if s)})" if any(scope) else "")
    data = feed_data(rows, title=title, subtitle="Flagged stories: supply-chain compromises and security incidents",
                     now=now)
    xml = environment(templates_dir).get_template("alerts.atom.xml").render(feed=data)
    return xml.lstrip(), len(data["entries"])


def impact_lines(story: dict[str, Any]) -> list[str]:
    """"Affected: Acme (Acme → uses → SolarWinds Orion 2020.2.1 ...)." per party the story reaches (issue 15)."""
    return [f"{imp['status'].capitalize()}: {imp['party']} ({' '.join(imp['path'].split())})."
            for imp in story.get("impacts") or [] if imp["status"] != "mentioned"]


# -- STIX 2.1 -------------------------------------------------------------------------------------

US = "Our organisation"  # the party of a we_use relation


def _relationships(story: dict[str, Any]) -> list[dict[str, Any]]:
    """Identities of both ends and one STIX ``relationship`` per edge of the paths by which the story reaches a
    party (uses, integrates-with, subprocessor, component-of; our own use is ``uses`` from "Our organisation")."""
    out: list[dict[str, Any]] = []
    for imp in story.get("impacts") or []:
        if imp["status"] == "mentioned":
            continue
        for edge in imp["edges"]:
            source = _identity(edge["supplier"] or US, STIX_EPOCH, "Party of the supplier register's relations")
            target = _identity(edge["target"], STIX_EPOCH, "Party of the supplier register's relations")
            kind = "uses" if edge["relation"] == "we_use" else edge["relation"].replace("_", "-")
            what = " ".join(x for x in (edge.get("product"), edge.get("versions")) if x)
            key = "|".join(" ".join((edge.get(k) or "").split()).casefold()
                           for k in ("supplier", "relation", "target", "product"))
            out += [source, target, {
                "type": "relationship", "spec_version": "2.1", "id": _stix_id("relationship", key),
                "created": STIX_EPOCH, "modified": STIX_EPOCH, "relationship_type": kind,
                "source_ref": source["id"], "target_ref": target["id"],
                "description": "; ".join(x for x in (what, f"known from {edge['source']}" if edge.get("source")
                                                     else "unconfirmed") if x)}]
    return out



def _stix_id(kind: str, key: str) -> str:
    return f"{kind}--{uuid.uuid5(STIX_NAMESPACE, f'{kind}/{key}')}"


def _identity(name: str, created: str, description: str) -> dict[str, Any]:
    return {"type": "identity", "spec_version": "2.1", "id": _stix_id("identity", " ".join(name.split()).casefold()),
            "created": created, "modified": created, "name": name, "identity_class": "organization",
            "description": description}


def _cves(member: dict[str, Any]) -> list[str]:
    try:
        values = json.loads(member.get("cves") or "[]")
    except ValueError:
        return []
    return [v for v in values if isinstance(v, str) and re.fullmatch(r"CVE-\d{4}-\d{4,}", v)]


def stix_bundle(story_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A STIX 2.1 bundle: one ``report`` per story, referring to the suppliers (or vendors) and CVEs it names,
    and to one ``relationship`` per edge of each path by which it reaches a party of the register (issue 15).

    Suppliers come from the supplier register's matches; without any, the documents' vendor field;
    without that either, the outlets that reported it (identities described as news sources), since
    a report must refer to at least one object.
    """
    producer = _identity("supplywatch", STIX_EPOCH, "The supplywatch installation that made this bundle")
    objects: dict[str, dict[str, Any]] = {producer["id"]: producer}
    reports = []
    for story in story_rows:
        created = _iso(story.get("created_at") or story["first_published"])
        modified = max(created, _iso(story.get("updated_at") or story["last_published"]))
        refs: list[str] = []

        def add(obj: dict[str, Any], refs: list[str] = refs) -> None:
            objects.setdefault(obj["id"], obj)
            if obj["id"] not in refs:
                refs.append(obj["id"])

        names = [s["name"] for s in story["suppliers"]] or list(dict.fromkeys(
            m["vendor"].strip() for m in story["members"] if (m.get("vendor") or "").strip()))
        for name in names:
            add(_identity(name, STIX_EPOCH, "Supplier named in flagged stories"))
        for cve in dict.fromkeys(c for m in story["members"] for c in _cves(m)):
            add({"type": "vulnerability", "spec_version": "2.1", "id": _stix_id("vulnerability", cve),
                 "created": STIX_EPOCH, "modified": STIX_EPOCH, "name": cve,
                 "external_references": [{"source_name": "cve", "external_id": cve}]})
        for obj in _relationships(story):
            add(obj)
        if not refs:
            for source in _sources(story):
                add(_identity(source, STIX_EPOCH, "News source or advisory feed that reported flagged stories"))
        best = _best_document(story)
        lines = [f"{lab['label']} ({lab['score']:.2f}): {' '.join((lab['evidence'] or '').split())}".rstrip(": ")
                 for lab in story["labels"]]
        external = [{"source_name": m["source"], "url": url, "description": m["title"] or ""}
                    for m in story["members"] if (url := safe_url(m["url"] or m["canonical_url"]))]
        reports.append({
            "type": "report", "spec_version": "2.1", "id": _stix_id("report", f"story/{story['id']}"),
            "created_by_ref": producer["id"], "created": created, "modified": modified,
            "name": " ".join((best["title"] or story["title"] or "").split()) or f"Story {story['id']}",
            "description": "\n".join(lines + impact_lines(story) + [f"Sources: {', '.join(_sources(story))}."]),
            "published": _iso(story["first_published"]), "report_types": ["threat-report"],
            "labels": [lab["label"] for lab in story["labels"]],
            "external_references": external,
            "object_refs": refs,
        })
    ids = sorted(r["id"] for r in reports)
    return {"type": "bundle", "id": _stix_id("bundle", ",".join(ids)), "objects": [*objects.values(), *reports]}


def export_stix(store: Store, *, label: str | None = None, days: int | None = None, supplier: str | None = None,
                now: datetime | None = None) -> dict[str, Any]:
    return stix_bundle(stories(store, label=label, days=days, supplier=supplier, now=now))
