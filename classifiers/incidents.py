"""Incidents, not articles: who was compromised, through which artefact, and which later articles follow it.

A flagged headline document opens an incident: the compromised party (an organisation or product, read from
the evidence sentence and the title), the artefact (code-signing certificate, token-signing key, build system,
update channel ...), the first document and its day. A later document *follows* an open incident when its title
or lead names the party within ``window`` days of the incident's last member (each new member renews it): it
inherits the headline label with the reason "follow-up of: X code-signing certificate compromise, first reported
DAY". Follow-ups rarely restate the theft ("sanctions over the X attack"), so the party's name, not the score,
ties them to the incident.

Flood guards (issue 10, failure shape 2): a party must be a name, not a common capitalised word ("Suffers",
"Keys"): a title word counts only when the document's body writes it capitalised in mid-sentence and never in
lower case; big platforms mentioned everywhere (Microsoft, Google ...) pull in a follow-up only when its title or
lead also names a signing artefact; a lead that names the party only as an example among others ("leaks at firms
such as X, Y and Z") is another party's story. An analyst's answer (``supplywatch label DOC --yes/--no``) confirms an incident
(its evidence becomes a prototype of the head) or rejects it (no more follow-ups join, those that had joined lose
the label in the store, its evidence becomes a near-miss prototype).

Pure Python over documents; the store keeps the records (``store.incidents``). One :class:`IncidentBook` serves
``classify`` (seeded from the store) and ``eval`` (empty, fed in publication order): the same decisions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from supplywatch.store import vocabulary

from .guard import names_artefact

WINDOW_DAYS = 90
LEAD_SENTENCES = 2
# Names that occur in every other security article: a follow-up of one of these must also name an artefact.
PLATFORMS = {n.casefold() for n in """
Microsoft Google Apple Amazon Facebook Meta Adobe Oracle Cisco Intel Windows Android Linux GitHub Twitter
iOS macOS Chrome Firefox Mozilla Samsung IBM AWS Azure Yahoo Java Office Outlook Gmail Instagram WhatsApp
""".split()}
# Capitalised words that name no party (title case makes every word look like a name).
GENERIC = {n.casefold() for n in """
Hackers Hacker Hacking Hacked Hack Security Malware Ransomware Warning Critical Update Updates Users User
Vulnerability Vulnerabilities Flaw Flaws Attack Attacks Attackers Data Breach Millions Million Exploit Exploits
Zero Day Researchers Researcher Found Says Said Report Reports This That With From Over After Your Their Could
Would Should Affected Infected Government State Cyber Trojan Backdoor Botnet Phishing Spyware Virus Software Apps
Mobile Devices Device Servers Server Stolen Leaked Leaks Leak Certificate Certificates Signing Signed Digital
Private Keys Key Code Companies Company Customers Customer Patch Patches Released Release Exposed Steal Steals
Using Weekly Roundup Stories News Week Year Best Most Popular Top Global World National Agency Police Suffers
Internet Web Online Cloud Network Networks Email Mail Password Passwords Account Accounts Threat Threats APT
Chinese Russian Iranian American Turkish Korean North South Israeli European British Indian Dutch German French
January February March April May June July August September October November December Monday Tuesday
Wednesday Thursday Friday Saturday Sunday The And For But Not How Why What When Where Who New Now Here Just
Also More Than Its Our His Her They Them These Those There Then Some Any All Every Each One Two Three First
Last Next Free Open Secure Trust Root Authority Firm Vendor Vendors Team Group Groups Lab Labs Inc Ltd Corp
Researchers' Experts Expert Officials Official Sources Source Version Versions Tool Tools Service Services
Social Secret Master Privacy Rogue Fake Remote Attack Espionage Operation Campaign Actor Actors
CEO CTO CISO FBI NSA CERT CVE SSL TLS HTTPS HTTP URL DNS API SDK PDF UEFI BIOS USB PC PCs VPN IT
""".split()}
# "Flame malware", "Zeus banking trojan": a name the text calls malware is the attacker's tool, not the party
# whose key was taken.
_TOOL = r"\s+(?:[A-Za-z-]+\s+)?(?:malware|trojans?|virus|worms?|botnets?|ransomware|rootkits?|spyware|apt|exploit kit)\b"
_TOKEN = re.compile(r"(?<![\w.-])[A-Za-z][\w]*(?:[.&'’-][A-Za-z0-9]\w*)*(?![\w-])")
_POSSESSIVE = re.compile(r"['’]s?$")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")

# The artefact, from the evidence sentence: the first that matches names it.
ARTEFACTS = (
    # A signing key told beside the tokens it mints, in one clause ("exploiting authentication tokens and a signing
    # key", "a consumer signing key to forge access tokens"), is a token-signing key, not a code-signing one.
    ("token-signing key", re.compile(r"\b(?:token|saml|jwt)[- ]signing\b|\bsigning keys?\b(?:[^\w;:.!?]+\w+){0,8}?[^\w;:.!?]+"
                                     r"(?:(?:access|authentication|session|auth|identity|saml|jwt|oauth) )?tokens?\b|"
                                     r"\b(?:access |authentication |session |auth |identity |oauth )?tokens?\b"
                                     r"(?:[^\w;:.!?]+\w+){0,8}?[^\w;:.!?]+signing keys?\b", re.I)),
    ("code-signing certificate", re.compile(r"\bcode[- ]signing (?:certificates?|certs?)\b|\bcertificates? used to sign\b",
                                            re.I)),
    ("code-signing key", re.compile(r"\b(?:code|driver|firmware|package|release)[- ]signing\b|\bkeys? used to sign\b",
                                    re.I)),
    ("secure boot key", re.compile(r"\b(?:secure boot|platform|golden|master|backdoor) keys?\b", re.I)),
    ("certificate authority", re.compile(r"\bcertificate authorit(?:y|ies)\b|\broot (?:ca|certificates?)\b|"
                                         r"(?<![\w-])CAs?(?![\w-])", re.I)),
    ("build system", re.compile(r"\bbuild (?:servers?|systems?|environments?|pipelines?|infrastructure|machines?)\b",
                                re.I)),
    ("update channel", re.compile(r"\bupdate (?:servers?|channels?|mechanisms?|infrastructure|systems?)\b|"
                                  r"\b(?:software|automatic|signed|legitimate|malicious) updates?\b", re.I)),
    # A bare "signing key" says nothing of what it signs: the name does not guess.
    ("signing key", re.compile(r"\bsigning keys?\b", re.I)),
    ("private key", re.compile(r"\bprivate[- ]keys?\b", re.I)),
    ("certificate", re.compile(r"\bcertificates?\b|\bcerts?\b|\bdigital signatures?\b|\bdigitally signed\b", re.I)),
)


def artefact_of(sentence: str) -> str:
    for name, pattern in ARTEFACTS:
        if pattern.search(sentence or ""):
            return name
    return "signing artefact"


def day_number(published: Any) -> int | None:
    """The publication day as an ordinal ("2015-01" reads as its first day); None when unreadable."""
    text = str(published or "")[:10]
    parts = (text + "-01-01")[:10].split("-") if len(text) in (4, 7) else text.split("-")
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2])).toordinal()
    except (ValueError, IndexError):
        return None


def _clean(token: str) -> str:
    return _POSSESSIVE.sub("", token.strip(".-'’"))


def lead(doc: dict[str, Any]) -> str:
    """The first sentences of the body: where a follow-up names what it follows."""
    text = " ".join(str(doc.get("text") or "").split())[:1200]
    return " ".join(_SENTENCE.split(text)[:LEAD_SENTENCES])


def _lowercase_words(text: str) -> set[str]:
    return {w for w in re.findall(r"(?<![\w'’-])[a-z][a-z]+(?![\w-])", text)}


def _body_names(text: str) -> tuple[set[str], set[str]]:
    """Tokens the body writes capitalised (or with inner capitals): (anywhere, somewhere other than a sentence's
    start)."""
    anywhere, inside = set(), set()
    for sentence in _SENTENCE.split(text):
        for j, m in enumerate(_TOKEN.finditer(sentence)):
            token = _clean(m.group())
            if token and (token[0].isupper() or any(c.isupper() for c in token[1:])):
                anywhere.add(token)
                if j:
                    inside.add(token)
    return anywhere, inside


def candidate_names(doc: dict[str, Any], sentences: list[str], register: list[str] | None = None) -> list[str]:
    """Names of organisations or products in ``sentences`` (title, evidence ...), best first.

    Register names (the suppliers' names, aliases, products) found there come first. Otherwise a token is a name
    when the body writes it capitalised and never in lower case and it is no generic word (title case makes
    every title word look like a name); written so in mid-sentence, as an owner ("X's") or in the title, it ranks
    higher; big platforms rank last.
    """
    body = " ".join(str(doc.get("text") or "").split())
    joined = " ".join(s for s in sentences if s)
    found: list[str] = []
    for name in register or []:
        if len(name) >= 3 and re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", joined, re.I):
            found.append(name)
    vendor = " ".join(str(doc.get("vendor") or "").split())
    if vendor and vendor.casefold() not in {f.casefold() for f in found}:
        found.append(vendor)  # an advisory's own vendor: the party whose artefact its advisory is about
    names, inside = _body_names(body)
    tool_text = f"{doc.get('title') or ''}. {body}"
    lower = _lowercase_words(body)
    score: dict[str, float] = {}
    for i, sentence in enumerate(s for s in sentences if s):
        for m in _TOKEN.finditer(sentence):
            token = _clean(m.group())
            key = token.casefold()
            if len(token) < 3 or key in GENERIC or token not in names or key in lower:
                continue
            if token not in inside and len(re.findall(rf"(?<![\w-]){re.escape(token)}(?![\w-])", body)) < 2:
                continue  # once, at a sentence's start ("Revocation and rotation of ..."): any word is capitalised there
            if re.search(r"-[a-z]", token) or re.search(rf"(?<![\w-]){re.escape(token)}{_TOOL}", tool_text, re.I):
                continue  # "Man-in-the-Middle" is no name; a malware family is no victim
            if not (token[0].isupper() or any(c.isupper() or c.isdigit() for c in token[1:])):
                continue
            owner = 1.0 if re.match(r"['’]s?\b", sentence[m.end():m.end() + 2]) else 0.0
            score[token] = (score.get(token, 0.0) + 1.0 + owner + (0.5 if i == 0 else 0.0) + 0.1 * body.count(token)
                            + (0.5 if token in inside else 0.0))
    ranked = sorted(score, key=lambda t: (t.casefold() in PLATFORMS, -score[t]))
    return found + [t for t in ranked if t.casefold() not in {f.casefold() for f in found}]


def named_as_an_example(text: str, party: str) -> bool:
    """Whether every mention of ``party`` in ``text`` is one example in a list of others ("hacking incidents at
    major companies such as Coupang and SK Telecom", "leaks at firms such as KT, Coupang and Lotte Card"): context,
    not what the text is about."""
    mentions = list(re.finditer(rf"(?<![\w-]){re.escape(party)}(?![\w-])", text or "", re.I))
    return bool(mentions) and all(
        re.search(r"\b(?:such as|including|like)\s+(?:[\w.&'’-]+,?\s+(?:and\s+|or\s+)?){0,6}$", text[:m.start()],
                  re.I) for m in mentions)


def names_party(text: str, party: str) -> bool:
    """Whether ``text`` names ``party`` as a word, capitalised as a name ("Opera", not the art form; "3CX" and
    "7Zip" by their first letter)."""
    pattern = re.compile(rf"(?<![\w-]){re.escape(party)}(?![\w-])", re.I)
    return any(next((c for c in m.group() if c.isalpha()), "").isupper() or m.group().isupper()
               for m in pattern.finditer(text or ""))


@dataclass
class Incident:
    party: str
    artefact: str
    first_document: Any
    first_published: str
    last_published: str
    title: str = ""
    evidence: str = ""
    status: str = "open"  # open | confirmed | rejected (an analyst's answer)
    id: int | None = None  # the store's id, once saved
    members: list[Any] = field(default_factory=list)
    stories: list[Any] = field(default_factory=list)  # the stories of its members (clustering): the same event
    dirty: bool = True

    @property
    def name(self) -> str:
        return f"{self.party} {self.artefact} compromise"

    def reason(self) -> str:
        return f"{vocabulary.FOLLOW_UP} {self.name}, first reported {str(self.first_published)[:10]}"

    def as_record(self) -> dict[str, Any]:
        return {"id": self.id, "party": self.party, "artefact": self.artefact, "first_document_id": self.first_document,
                "first_published": self.first_published, "last_published": self.last_published,
                "title": self.title, "evidence": self.evidence, "status": self.status, "members": list(self.members)}


class IncidentBook:
    """The incidents known so far, in publication order; what :func:`.labelling.label_documents` consults."""

    def __init__(self, window_days: int = WINDOW_DAYS, register: list[str] | None = None):
        self.window = window_days
        self.register = sorted(register or [], key=len, reverse=True)
        self.incidents: list[Incident] = []
        # Analysts' answers as prototypes: (sentence, +1 confirmed / -1 rejected, embedding or None)
        self.prototypes: list[tuple[str, int, Any]] = []

    @classmethod
    def from_records(cls, records: list[dict[str, Any]], **kwargs: Any) -> IncidentBook:
        book = cls(**kwargs)
        for r in records:
            inc = Incident(r["party"], r["artefact"], r["first_document_id"], r["first_published"],
                           r["last_published"], r.get("title") or "", r.get("evidence") or "", r["status"], r["id"],
                           list(r.get("members") or []), list(r.get("stories") or []), dirty=False)
            book.incidents.append(inc)
            if inc.status in ("confirmed", "rejected") and inc.evidence:
                book.prototypes.append((inc.evidence, 1 if inc.status == "confirmed" else -1, None))
        return book

    def _recent(self, inc: Incident, day: int | None) -> bool:
        last = day_number(inc.last_published)
        return day is None or last is None or 0 <= day - last <= self.window

    def follow_up_of(self, doc: dict[str, Any]) -> Incident | None:
        """The open or confirmed incident whose party ``doc``'s title or lead names within the window, or whose
        members' story ``doc`` was clustered into (story clustering and incidents are one grouping: a story is one
        event told by several outlets, an incident the stories about one compromise); the most recent first."""
        title, opening = str(doc.get("title") or ""), lead(doc)
        day = day_number(doc.get("published"))
        for inc in reversed(self.incidents):
            if doc.get("id") in inc.members:  # labelled again (a relabel, an edited article)
                return None if inc.status == "rejected" or inc.first_document == doc.get("id") else inc
            if inc.status == "rejected":
                continue
            if (doc.get("story_id") is not None and doc.get("story_id") in inc.stories
                    and (names_artefact(title) or names_artefact(opening))):
                # Clustered into a member's story and speaking of a certificate, key or update channel: another
                # outlet's account of the same event. A story-mate that does not (a weekly roundup clustered with
                # last week's, "X's website hacked" beside "X shipped Superfish") needs the party's name, below.
                return inc
            if not self._recent(inc, day):
                continue
            # The party in the title, or in the lead as what it is about: a lead that lists it only as one example
            # among others hit before ("leaks at firms such as X, Y and Z") is another party's story.
            if not (names_party(title, inc.party)
                    or (names_party(opening, inc.party) and not named_as_an_example(opening, inc.party))):
                continue
            # A big platform is named everywhere, and a vendor's own feed names the vendor in every advisory:
            # those follow only when they name the artefact too.
            own = names_party(str(doc.get("vendor") or ""), inc.party)
            if (inc.party.casefold() in PLATFORMS or own) and not (names_artefact(title) or names_artefact(opening)):
                continue
            return inc
        return None

    def open(self, doc: dict[str, Any], evidence: str, party: str | None = None) -> Incident | None:
        """A new incident from a document flagged on its own evidence (None when no party can be named); a
        document naming the party of an open incident joins it instead. ``party``: the owner the evidence
        names (:func:`.explicit.explicit_owner`), used as it is; "" when the evidence describes the owner without
        naming it ("a Taiwanese company"), so no incident opens: the title's names are the attackers' or the
        malware's as often as the victim's, and follow-ups of a wrong party flood the results."""
        known = self.of_document(doc.get("id")) or self.follow_up_of(doc)
        if known is not None:
            self.join(known, doc)
            return known
        if party is not None:
            names = [party] if party else []
        else:
            names = candidate_names(doc, [str(doc.get("title") or ""), evidence], self.register)
        if not names:
            return None
        published = str(doc.get("published") or "")
        # Its story too: another outlet's account clustered with it follows it in this same pass (run clusters first).
        inc = Incident(names[0], artefact_of(evidence), doc.get("id"), published, published,
                       str(doc.get("title") or ""), evidence, members=[doc.get("id")],
                       stories=[doc["story_id"]] if doc.get("story_id") is not None else [])
        self.incidents.append(inc)
        return inc

    def join(self, inc: Incident, doc: dict[str, Any]) -> None:
        """``doc`` is a member: the window renews from its day."""
        if doc.get("id") not in inc.members:
            inc.members.append(doc.get("id"))
        if doc.get("story_id") is not None and doc.get("story_id") not in inc.stories:
            inc.stories.append(doc.get("story_id"))
        published = str(doc.get("published") or "")
        if published > str(inc.last_published or ""):
            inc.last_published = published
        inc.dirty = True

    def of_document(self, doc_id: Any) -> Incident | None:
        for inc in reversed(self.incidents):
            if doc_id in inc.members:
                return inc
        return None

    def answer(self, doc: dict[str, Any], evidence: str, value: bool, embedding: Any = None) -> Incident | None:
        """An analyst's answer on ``doc``: yes confirms its incident (opening one when it has none) and makes the
        evidence a prototype; no rejects its incident (its follow-ups stop joining)."""
        inc = self.of_document(doc.get("id"))
        if inc is None and value:
            inc = self.open(doc, evidence)
        if inc is not None and not value and inc.first_document != doc.get("id"):
            inc.members.remove(doc.get("id"))  # a wrong follow-up leaves; the incident stands
            inc.dirty = True
        elif inc is not None:
            inc.status = "confirmed" if value else "rejected"
            inc.dirty = True
        if evidence:
            self.prototypes.append((evidence, 1 if value else -1, embedding))
        return inc

    def changed(self) -> list[Incident]:
        return [inc for inc in self.incidents if inc.dirty]
