"""Finding the register's suppliers in documents: one Aho-Corasick automaton for every name, alias and product.

Imports only the standard library and ``ahocorasick`` (a C extension), so `supplywatch suppliers
import` and `run` pay nothing for it (the classifiers package loads numpy and the model code only
when they are asked for). :func:`match_archive` is the matching stage: the loop over the store.

Rules:

- Names, aliases and products match as whole words, case-insensitively, with whitespace
  collapsed and curly apostrophes read as straight ones; a possessive ("Mimecast's",
  "Mimecast’s") is a match since an apostrophe is not a letter. "Acme" does not match
  "Acmeville" or "AcmeCorp". Terms with fewer than two letters or digits are ignored.
- Domains match the hosts of the document's ``url`` and ``canonical_url`` and of any http(s)
  link in its text: the host itself or any subdomain ("acme.com" matches "status.acme.com",
  not "notacme.com"). A leading "www." in the register is dropped.
- Where: ``title``, ``lead`` (the first two sentences of the text, at most 300 characters),
  ``text`` (the rest), or ``link``. The role is ``subject`` when the supplier is named in the
  title or lead, else ``mentioned``. One match per supplier and document: the first of title,
  lead, text, link, and the first term found there. Links in the text count only as domains.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import ahocorasick

LEAD_CHARS = 300
LEAD_SENTENCES = 2
FIELD_ORDER = {"title": 0, "lead": 1, "text": 2, "link": 3}
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'"})
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*\s")
_LINK = re.compile(r"https?://[^\s\"'<>()\[\]{}]+", re.IGNORECASE)
# The host of a link in text: after the scheme and any user@, up to a port, path, query or fragment.
_LINK_HOST = re.compile(r"https?://(?:[^\s\"'<>()\[\]{}/@]*@)?([^\s\"'<>()\[\]{}/:?#@]+)", re.IGNORECASE)
_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+")


def normalize(text: str) -> str:
    """``text`` as matched: curly apostrophes straightened, whitespace collapsed, casefolded."""
    return " ".join((text or "").translate(_APOSTROPHES).split()).casefold()


def normalize_domain(value: str) -> str:
    """A register domain as a bare lower-case host name ("" when it is not one): scheme, path, port, "www." dropped."""
    value = (value or "").strip().lower()
    if "://" in value:
        value = urlsplit(value).hostname or ""
    value = value.split("/")[0].split(":")[0].strip(".")
    if value.startswith("*."):
        value = value[2:]
    if value.startswith("www."):
        value = value[4:]
    try:
        value = value.encode("idna").decode("ascii") if not value.isascii() else value
    except UnicodeError:
        return ""
    return value if _DOMAIN.fullmatch(value) else ""


def _word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def lead_length(body: str) -> int:
    """Characters of the normalized ``body`` that are its lead: two sentences, at most LEAD_CHARS."""
    end = 0
    for i, m in enumerate(_SENTENCE_END.finditer(body, 0, LEAD_CHARS + 1)):
        end = m.end()
        if i + 1 >= LEAD_SENTENCES:
            return min(end, LEAD_CHARS)
    return min(len(body), LEAD_CHARS)


def hosts(doc: dict[str, Any]) -> list[str]:
    """The lower-case hosts of a document's URL, canonical URL and the http(s) links in its text."""
    found: list[str] = []
    for url in (doc.get("url"), doc.get("canonical_url")):
        try:
            host = urlsplit(url).hostname if url else None
        except ValueError:
            continue
        if host:
            found.append(host)
    for key in ("text", "summary"):
        value = doc.get(key) or ""
        if "://" in value:  # most texts hold no link: skip the regex
            found += [h.lower() for h in _LINK_HOST.findall(value)]
    out: list[str] = []
    for host in found:
        host = host.rstrip(".")
        if host and host not in out:
            out.append(host)
    return out


@dataclass(frozen=True)
class Match:
    supplier_id: int
    role: str
    field: str
    term: str

    def as_dict(self) -> dict[str, Any]:
        return {"supplier_id": self.supplier_id, "role": self.role, "field": self.field, "term": self.term}


class Matcher:
    """The register compiled: an automaton of names, aliases and products, and a table of domains."""

    def __init__(self, suppliers: Iterable[dict[str, Any]]):
        self.automaton = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
        terms: dict[str, list[tuple[int, str]]] = {}
        self.domains: dict[str, list[tuple[int, str]]] = {}
        self.size = 0
        for s in suppliers:
            self.size += 1
            for term in [s["name"], *(s.get("aliases") or []), *(s.get("products") or [])]:
                key = normalize(term)
                if sum(c.isalnum() for c in key) < 2:
                    continue
                entry = (int(s["id"]), " ".join(term.split()))
                if entry not in terms.setdefault(key, []):
                    terms[key].append(entry)
            for domain in s.get("domains") or []:
                host = normalize_domain(domain)
                if host and (int(s["id"]), host) not in self.domains.setdefault(host, []):
                    self.domains[host].append((int(s["id"]), host))
        for key, entries in terms.items():
            self.automaton.add_word(key, (len(key), entries))
        self.empty = not terms
        if not self.empty:
            self.automaton.make_automaton()

    def _words(self, text: str) -> Iterable[tuple[int, int, list[tuple[int, str]]]]:
        """(start, end, entries) of each whole-word occurrence of a term in the normalized ``text``."""
        if self.empty or not text:
            return
        n = len(text)
        for end_index, (length, entries) in self.automaton.iter(text):
            start, end = end_index - length + 1, end_index + 1
            if start > 0 and _word_char(text[start]) and _word_char(text[start - 1]):
                continue
            if end < n and _word_char(text[end - 1]) and _word_char(text[end]):
                continue
            yield start, end, entries

    def match(self, doc: dict[str, Any]) -> list[Match]:
        """The suppliers ``doc`` names (title, summary or text, url, canonical_url), one Match each."""
        best: dict[int, tuple[int, int, str, str]] = {}  # supplier -> (field rank, position, field, term)

        def found(sid: int, field: str, pos: int, term: str) -> None:
            rank = (FIELD_ORDER[field], pos)
            if sid not in best or rank < best[sid][:2]:
                best[sid] = (*rank, field, term)

        for start, _end, entries in self._words(normalize(doc.get("title") or "")):
            for sid, term in entries:
                found(sid, "title", start, term)
        # Links in the text are matched as domains below, not as words ("status.acme.example" names no "Acme").
        raw = doc.get("text") or doc.get("summary") or ""
        body = normalize(_LINK.sub(" ", raw) if "://" in raw else raw)
        lead = lead_length(body)
        for start, end, entries in self._words(body):
            for sid, term in entries:
                found(sid, "lead" if end <= lead else "text", start, term)
        if self.domains:
            for i, host in enumerate(hosts(doc)):
                labels = host.split(".")
                for j in range(len(labels) - 1):
                    for sid, domain in self.domains.get(".".join(labels[j:]), ()):
                        found(sid, "link", i, domain)
        return [Match(sid, "subject" if field in ("title", "lead") else "mentioned", field, term)
                for sid, (_rank, _pos, field, term) in sorted(best.items())]


def fingerprint(suppliers: list[dict[str, Any]]) -> str:
    """A hash of what matching depends on in the register: ids, names, aliases, products, domains."""
    data = [[s["id"], s["name"], s.get("aliases") or [], s.get("products") or [], s.get("domains") or []]
            for s in suppliers]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()


_CACHE: dict[str, Matcher] = {}


def matcher_for(suppliers: list[dict[str, Any]]) -> Matcher:
    """The Matcher of this register, built once per register content per process (the last one is kept)."""
    key = fingerprint(suppliers)
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = Matcher(suppliers)
    return _CACHE[key]


@dataclass
class MatchResult:
    documents: int = 0
    suppliers: int = 0
    matches: int = 0
    register_version: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def match_archive(store: Any, *, progress: Any = None) -> MatchResult:
    """Match every document that is new, edited, or not yet matched against the store's current register.

    The register, its relations and their automata are read once; documents go in batches, each batch's
    matches and impacts (:mod:`classifiers.propagation`) saved in one transaction.
    """
    from .propagation import Graph

    version = store.register_version()
    suppliers = store.suppliers()
    result = MatchResult(suppliers=len(suppliers), register_version=version)
    matcher = matcher_for(suppliers)
    graph = None  # fourth parties: who each document affects through relations; built only when there is work
    batches = store.documents_to_match(version)
    if progress:
        progress(0, len(batches))
    for batch in batches:
        graph = graph or Graph(suppliers, store.relations())
        found, impacts = [], {}
        for doc in batch:
            matches = matcher.match(doc)
            found.append((doc["id"], doc["content_hash"], [m.as_dict() for m in matches]))
            impacts[doc["id"]] = graph.impacts(doc, matches)
        store.save_supplier_matches(found, version, impacts)
        result.documents += len(found)
        result.matches += sum(len(r[2]) for r in found)
        if progress:
            progress(result.documents, len(batches))
    return result
