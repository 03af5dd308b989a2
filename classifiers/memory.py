"""Incident memory: follow-up articles inherit the label of the incident they follow.

"Sanctions over the X hack" never restates that X's signing key was stolen; what ties it to the
incident is the name. The memory keeps the distinctive title words of documents the pipeline
flagged, and lifts a later, lower score when a new title shares such a word within a window.
It only ever uses what the pipeline itself concluded, never gold labels.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

_WORD = re.compile(r"\b[A-Z][A-Za-z0-9'’-]{3,}\b|\b[a-z]+[A-Z][A-Za-z0-9]+\b")
# Capitalised words that name no particular incident.
COMMON = set("""
Hackers Hacker Hacking Hacked Hack Security Malware Ransomware Warning Critical Update Updates Users
Android Apple Google Microsoft Windows Linux Facebook Twitter Amazon Intel Chrome Firefox Internet
Vulnerability Vulnerabilities Flaw Flaws Attack Attacks Attackers Data Breach Millions Million
Exploit Exploits Zero Day Researchers Researcher Found Says Said Report Reports Hackers' This That
With From Over After Your Their Could Would Should Affected Infected Users' Government State Cyber
Trojan Backdoor Botnet Phishing Spyware Virus Software Apps Mobile Devices Device Servers Server
Stolen Leaked Leaks Leak Certificate Certificates Signing Signed Digital Private Keys Code Update
Companies Company Customers Customer Patch Patches Released Release Exposed Steal Steals Using
Weekly Roundup Stories News Week Year Best Most Popular Top Global World National Agency Police
""".split())


def _day(row: dict[str, Any]) -> int | None:
    value = str(row.get("published") or "")
    for fmt_len in (10, 7):
        try:
            part = value[:fmt_len]
            y, m, d = (int(x) for x in (part + "-01")[:10].split("-")[:3])
            return date(y, m, d).toordinal()
        except ValueError:
            continue
    return None


def title_names(title: str) -> set[str]:
    return {w.strip("'’").lower() for w in _WORD.findall(title or "") if w.strip("'’") not in COMMON}


class IncidentMemory:
    def __init__(self, window_days: int = 120, floor: float = 0.2, lift: float = 0.9):
        self.window = window_days
        self.floor = floor  # a document must look at least this relevant on its own
        self.lift = lift
        self.incidents: list[tuple[int | None, set[str], float]] = []

    def adjust(self, row: dict[str, Any], score: float, threshold: float) -> float:
        """:meth:`lifted` then :meth:`record` when the result reaches ``threshold``."""
        score = self.lifted(row, score, threshold)
        if score >= threshold:
            self.record(row, score)
        return score

    def lifted(self, row: dict[str, Any], score: float, threshold: float) -> float:
        """``score``, raised towards ``threshold`` when the title names a recent incident; records nothing."""
        names = title_names(row.get("title") or "")
        day = _day(row)
        if score < threshold and score >= self.floor * threshold and names:
            for when, known, flagged_score in self.incidents:
                recent = when is None or day is None or 0 <= day - when <= self.window
                if recent and names & known:
                    return max(score, min(flagged_score, threshold / self.lift) * self.lift)
        return score

    def record(self, row: dict[str, Any], score: float) -> None:
        """Remember ``row`` as a flagged incident (the pipeline's own conclusion)."""
        names = title_names(row.get("title") or "")
        if names:
            self.incidents.append((_day(row), names, score))
