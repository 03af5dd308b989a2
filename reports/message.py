"""The digest as a mail message: per-recipient filtering, the subject, the MIME message with sanitised headers.

Built with the standard library's ``email`` package (multipart/alternative, text then HTML, both
UTF-8). Every header value that comes from feeds or configuration goes through
:func:`sanitize_header` first. Nothing here sends anything: :mod:`reports.mail` does.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email import policy as email_policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from .digest import TOPIC_LIMIT, Digest, Section
from .render import render_digest

# build_digest's topic_limit when the digest is to be filtered per recipient: keep every story,
# so each recipient's copy is cut after filtering and its "and N more" counts are exact.
UNCUT = 1_000_000
PLACEHOLDER_FROM = "supplywatch <supplywatch@localhost>"
PLACEHOLDER_TO = "digest-recipient@example.invalid"
HEADER_LIMIT = 300  # characters; the policy folds long headers, this only keeps a hostile title from bloating one

# RFC 2047 encoded words, loosely (any charset text, any one-letter encoding): we decode more than a
# strict parser would, never less, so nothing a mail client would decode can hide a CR or LF.
_ENCODED_WORD = re.compile(r"=\?([^?]*)\?([A-Za-z])\?([^?]*)\?=")
# Characters that end or split a header line (CR, LF, NEL, U+2028/9), other C0/C1 controls, DEL,
# zero-width and bidi controls, BOM, and lone surrogates (which cannot be encoded at all).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]")


def _decode_word(match: re.Match[str]) -> str:
    charset, encoding, data = match.group(1).split("*")[0] or "utf-8", match.group(2).lower(), match.group(3)
    try:
        if encoding == "q":
            raw = re.sub(rb"=([0-9A-Fa-f]{2})", lambda m: bytes.fromhex(m.group(1).decode()),
                         data.encode("utf-8", "replace").replace(b"_", b" "))
        elif encoding == "b":
            raw = base64.b64decode(data + "=" * (-len(data) % 4))
        else:
            return match.group(0)  # not an encoding anyone decodes; neutralised below anyway
    except (binascii.Error, ValueError):
        return " "
    try:
        return raw.decode(charset, "replace")
    except (LookupError, UnicodeError, ValueError, TypeError):  # unknown or non-text codec ("zlib")
        return raw.decode("utf-8", "replace")


def sanitize_header(value: Any, limit: int = HEADER_LIMIT) -> str:
    """``value`` as one safe line for a mail header: no way to end the header or start another.

    Encoded words (``=?utf-8?q?...?=``) are decoded first, repeatedly (one may decode into
    another), so a CR/LF hidden inside one is seen; then line breaks (CR, LF, NEL, U+2028/9),
    other control characters, zero-width and bidi controls become spaces, whitespace is collapsed,
    and any ``=?`` left over is broken up so no parser decodes it again. The mail policy encodes the
    result afresh. Longer than ``limit`` characters is cut with an ellipsis.
    """
    text = "" if value is None else str(value)
    for _ in range(5):
        decoded = _ENCODED_WORD.sub(_decode_word, text)
        if decoded == text:
            break
        text = decoded
    text = " ".join(_UNSAFE.sub(" ", text).split())
    text = text.replace("=?", "= ?")
    if len(text) > limit:
        text = text[:limit - 1].rstrip() + "…"
    return text


# -- per-recipient digests ---------------------------------------------------------------


@dataclass
class Recipient:
    """One configured recipient. ``suppliers`` picks the stories of the "Your suppliers" section (empty: every supplier's)."""

    address: str
    labels: list[str] = field(default_factory=list)
    min_score: float = 0.0
    suppliers: list[str] = field(default_factory=list)

    @classmethod
    def from_config(cls, entry: Mapping[str, Any]) -> Recipient:
        return cls(entry["address"], list(entry.get("labels") or []), float(entry.get("min_score") or 0.0),
                   list(entry.get("suppliers") or []))


def filter_digest(digest: Digest, *, labels: Iterable[str] = (), min_score: float = 0.0,
                  topic_limit: int | None = TOPIC_LIMIT, suppliers: Iterable[str] = ()) -> Digest:
    """A copy of ``digest`` with only the sections of ``labels`` (all when empty) and items scoring ``min_score`` or more.

    Topic sections are cut to ``topic_limit`` after filtering (the headline section never is) and
    each section's ``total`` is recomputed, so build the digest with ``topic_limit=UNCUT`` for exact
    "and N more" counts; a section already cut keeps its hidden stories in the count only when no
    ``min_score`` applies (their scores are not known). ``digest`` itself is left unchanged.

    The "Your suppliers" section is not a label's: ``labels`` and ``min_score`` leave it alone. With
    ``suppliers`` (names, any case) it keeps only the stories naming one of them, or affecting one through the
    register's relations; without, all. A story it
    drops goes back to its own section (the digest shows each story once, so it is nowhere else).
    """
    wanted = set(labels)
    names = {" ".join(n.split()).casefold() for n in suppliers}
    theirs = digest.suppliers
    returned: list[Any] = []  # stories of other suppliers: back to the section they would have had
    if theirs is not None and names:
        # A story naming one of them, or reaching one through the register's relations (issue 15).
        items = [i for i in theirs.items if any(n.casefold() in names for n in i.suppliers)
                 or any(p["party"].casefold() in names for p in i.impacts if p["status"] != "mentioned")]
        returned = [replace(i, suppliers=[], impacts=[]) for i in theirs.items if i not in items and i.label]
        theirs = replace(theirs, items=items, total=len(items))

    def keep(section: Section, limit: int | None) -> Section:
        if wanted and section.label not in wanted:
            return replace(section, items=[], total=0)
        back = [i for i in returned if i.label == section.label]
        if back:
            merged = sorted([*section.items, *back], key=lambda i: (-i.score, i.title.casefold()))
            section = replace(section, items=merged, total=section.total + len(back))
        items = [item for item in section.items if item.score >= min_score]
        hidden = section.more if min_score <= 0 else 0
        return replace(section, items=items[:limit] if limit else items, total=len(items) + hidden)

    return replace(digest, headline=keep(digest.headline, None), topics=[keep(s, topic_limit) for s in digest.topics],
                   suppliers=theirs)


def for_recipient(digest: Digest, recipient: Recipient) -> Digest:
    return filter_digest(digest, labels=recipient.labels, min_score=recipient.min_score, suppliers=recipient.suppliers)


def story_count(digest: Digest) -> int:
    """Stories in the digest: those shown (each in one section; a day's other stories of an incident listed under
    its item)
    plus those cut."""
    shown = {" ".join(title.split()).casefold() for section in digest.sections for item in section.items
             for title in [item.title, *(f.title for f in item.same_incident)]}
    return len(shown) + sum(section.more for section in digest.sections)


def subject(digest: Digest, template: str) -> str:
    """The Subject: ``template`` with ``{day}``, ``{count}``, ``{stories}`` ("1 story", "3 stories") and ``{top}``
    (the first story's title), sanitised. An older template's "{count} stories" reads "1 story" for one."""
    top = digest.sections[0].items[0].title if digest.sections else ""
    count = story_count(digest)
    text = template.format(day=digest.day, count=count, stories=plural(count, "story", "stories"),
                           top=sanitize_header(top))
    return sanitize_header(re.sub(r"(?<![\d.,])\b1 stories\b", "1 story", text))


def plural(n: int, one: str, many: str) -> str:
    """``"1 story"``, ``"2 stories"``."""
    return f"{n} {one if n == 1 else many}"


# -- the message -------------------------------------------------------------------------


def _address(value: str) -> Address:
    """An already validated ``Name <addr>`` or bare address as a header object (the policy quotes and encodes it)."""
    name, spec = parseaddr(value)
    return Address(display_name=sanitize_header(name), addr_spec=spec or value)


def _domain(sender: str) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2]
    return domain if re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?", domain) else "supplywatch.local"


def new_message_id(sender: str) -> str:
    """A fresh ``<...@domain>`` Message-ID in the sender's domain (no DNS look-up of our own host name)."""
    return make_msgid(idstring="supplywatch", domain=_domain(sender))


def build_message(digest: Digest, *, sender: str, to: str, subject_template: str, list_id: str,
                  message_id: str | None = None, templates_dir: str | Path | None = None,
                  now: datetime | None = None) -> EmailMessage:
    """The digest as it is mailed: multipart/alternative, text/plain then text/html, both UTF-8.

    Without ``message_id`` a fresh one is made; the mailer replaces it (``msg.replace_header``) with
    the one the store hands out, after rendering, so a template error never leaves a delivery started.
    """
    rendered = render_digest(digest, templates_dir=templates_dir)
    msg = EmailMessage(policy=email_policy.SMTP)
    msg["From"] = _address(sender)
    msg["To"] = _address(to)
    msg["Subject"] = subject(digest, subject_template)
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    msg["Message-ID"] = sanitize_header(message_id or new_message_id(sender))
    msg["List-Id"] = sanitize_header(list_id)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders must not answer it
    msg["X-Supplywatch-Day"] = sanitize_header(digest.day)
    # Quoted-printable: the HTML has lines far over SMTP's 998-octet limit, and 8bit needs 8BITMIME.
    msg.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg
