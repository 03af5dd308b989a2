"""Vendor version numbers compared tolerantly, and the affected version ranges a story states.

Ordering is :class:`packaging.version.Version`'s (PEP 440). Vendor forms that PEP 440 does not
know are mapped onto it before comparing, so that the order is the vendor's:

- a hotfix, service pack, update or patch after a release ("2019.4 HF5", "2020.2.1 HF 1", "10.0 SP2",
  "8u292", "7.1 Update 3", "9.1 patch 4") is a post-release of it: 2019.4 < 2019.4 HF5 < 2019.4.1;
- a leading "v" and a trailing build in brackets are ignored ("v2.1.0 (build 331)").

Anything else that PEP 440 cannot read ("Orion Platform", "latest", "2020.2.1-beta-x") is *unknown*:
:func:`parse` returns None and every comparison with it is None, which callers turn into
"possibly affected", never into "safe".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

# A version as vendors write one: numbers with dots, then optionally a hotfix/service pack/update/patch number.
TOKEN = r"v?\d+(?:\.\d+)*(?:\s*(?:hf|hotfix|sp|service\s+pack|update|u|patch|p|r)\s*\.?\s*\d+)?"
_VENDOR = re.compile(r"v?(\d+(?:\.\d+)*)(?:\s*(hf|hotfix|sp|service\s+pack|update|u|patch|p|r)\s*\.?\s*(\d+))?",
                     re.IGNORECASE)
_BUILD = re.compile(r"\s*[(\[]\s*build\s+\d+\s*[)\]]\s*$", re.IGNORECASE)
# "versions 2019.4 HF5 through 2020.2.1 HF1", "2019.4 HF 5 - 2020.2.1 HF1", "from 2.0 to 2.3": a range;
# "version 2020.2.1" alone: one version.
_RANGE = re.compile(rf"(?<![\w.])({TOKEN})\s*(?:through|thru|to|until|–|—|-|and)\s*({TOKEN})(?![\w.])", re.IGNORECASE)
_SINGLE = re.compile(rf"\bversions?\s+({TOKEN})(?![\w.])", re.IGNORECASE)
_SPLIT = re.compile(r"\s*[;,|]\s*")


def parse(text: str | None) -> Version | None:
    """``text`` as a comparable version, or None when it is not one (unknown, not "old" or "new")."""
    text = _BUILD.sub("", " ".join((text or "").split()))
    if not text:
        return None
    match = _VENDOR.fullmatch(text)
    if match:
        release, _kind, number = match.groups()
        text = f"{release}.post{int(number)}" if number else release
    try:
        return Version(text)
    except InvalidVersion:
        return None


@dataclass(frozen=True)
class Range:
    """Versions from ``low`` to ``high``, both included, as written (``text``)."""

    low: Version
    high: Version
    text: str

    def contains(self, version: Version) -> bool:
        return self.low <= version <= self.high


def parse_range(text: str | None) -> Range | None:
    """"2019.4 HF5 - 2020.2.1 HF1" (or "through", "to", an en dash) or one version; None when unreadable."""
    text = " ".join((text or "").split())
    match = _RANGE.fullmatch(text)
    low, high = (parse(match.group(1)), parse(match.group(2))) if match else (parse(text), parse(text))
    if low is None or high is None:
        return None
    if high < low:
        low, high = high, low
    return Range(low, high, text.replace(" - ", "–") if match else text)


def stated_ranges(text: str) -> list[Range]:
    """The affected version ranges a story states ("versions 2019.4 HF5 through 2020.2.1 HF1"), in order."""
    found: list[Range] = []
    for match in _RANGE.finditer(text or ""):
        low, high = parse(match.group(1)), parse(match.group(2))
        # "2019.4 - 2020" yes; "1 - 2" (counts, dates' pieces) no: a range needs a dotted or vendor version.
        if low is None or high is None or not any("." in g or not g.isdigit() for g in match.groups()):
            continue
        found.append(Range(min(low, high), max(low, high), f"{match.group(1)}–{match.group(2)}"))
    if not found:
        for match in _SINGLE.finditer(text or ""):
            if (v := parse(match.group(1))) is not None and "." in match.group(1):
                found.append(Range(v, v, match.group(1)))
    return found


def in_use(text: str | None) -> list[Range] | None:
    """The versions a relation says are in use ("2020.2.1", "2019.4 HF5; 2020.2", "2.0 - 2.3"): one range
    each; None when any is unreadable (unknown), [] when none is given."""
    parts = [p for p in _SPLIT.split(" ".join((text or "").split())) if p]
    out = [parse_range(p) for p in parts]
    return None if any(r is None for r in out) else [r for r in out if r is not None]


def verdict(used: str | None, stated: list[Range]) -> bool | None:
    """True: a version in use lies in a stated range; False: every version in use lies outside them all;
    None: unknown (no versions in use given, none stated, unreadable, or a range in use only overlapping)."""
    ranges = in_use(used)
    if not ranges or not stated:
        return None
    outcomes = []
    for r in ranges:
        if any(s.contains(r.low) and s.contains(r.high) for s in stated):
            return True
        overlaps = any(r.low <= s.high and s.low <= r.high for s in stated)
        outcomes.append(None if overlaps else False)
    return None if None in outcomes else False
