"""Text hygiene for what comes off the web: choosing a charset, and cleaning titles and bodies.

Never raises on bad input: the worst case is text with replacement characters and a warning.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

# C0/C1 controls (but tab/newline), and the bidi overrides/isolates that can make a title read
# backwards in a terminal or a mail client ("Trojan Source").
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u2028\u2029\r\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")

_XML_DECL = re.compile(rb"^(\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding=[\"']([A-Za-z0-9._-]+)[\"']", re.S)
_META_CHARSET = re.compile(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9._-]+)", re.I)


def clean_line(text: str | None) -> tuple[str, bool]:
    """One-line text (a title, an author): controls and bidi marks removed, whitespace collapsed.

    Returns the text and whether anything other than whitespace had to be removed.
    """
    if not text:
        return "", False
    text = unicodedata.normalize("NFC", text)
    cleaned = _CONTROL.sub("", text)
    return _SPACES.sub(" ", cleaned).strip(), cleaned != text


def clean_text(text: str | None) -> str:
    """Multi-line body text: controls removed, paragraphs kept, runs of blank lines squeezed."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROL.sub("", text)
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None


def declared_charset(body: bytes, http_charset: str | None) -> str | None:
    """The charset the response claims: HTTP header first, then XML declaration or HTML meta."""
    if http_charset:
        return http_charset
    head = body[:2048]
    m = _XML_DECL.match(head) or _META_CHARSET.search(head)
    return m.group(m.lastindex).decode("ascii", "replace") if m else None


def decode(body: bytes, http_charset: str | None = None) -> tuple[str, str, str | None]:
    """Decode a response body, surviving mis-declared and missing charsets.

    Returns ``(text, encoding_used, warning)``. Valid UTF-8 with non-ASCII bytes is UTF-8 whatever
    the header says (the commonest mis-declaration is UTF-8 served as ISO-8859-1); a body that
    is not valid in its declared charset falls back to UTF-8, then Windows-1252.
    """
    if body.startswith(codecs.BOM_UTF8):
        return body[3:].decode("utf-8", "replace"), "utf-8", None
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return body.decode("utf-16", "replace"), "utf-16", None
    declared_name = declared_charset(body, http_charset)
    declared = _codec(declared_name)
    warning = None
    if declared_name and declared is None:
        warning = f"unknown charset {declared_name!r}"
    try:
        text = body.decode("utf-8")
        if declared and declared not in ("utf-8", "ascii") and not body.isascii():
            warning = f"declared charset {declared_name} but the body is UTF-8"
        return text, "utf-8", warning
    except UnicodeDecodeError:
        pass
    if declared and declared != "utf-8":
        try:
            return body.decode(declared), declared, warning
        except UnicodeDecodeError:
            warning = f"body is not valid {declared_name}"
    elif declared == "utf-8":
        warning = "declared UTF-8 but the body is not valid UTF-8; decoded as Windows-1252"
    else:
        warning = warning or "no charset declared and the body is not UTF-8; decoded as Windows-1252"
    return body.decode("cp1252", "replace"), "cp1252", warning


def to_utf8_xml(body: bytes, http_charset: str | None) -> tuple[bytes, str | None]:
    """Re-encode an XML document as UTF-8 with a matching declaration, so that feedparser, which
    trusts the declared charset, sees consistent bytes. Returns ``(bytes, warning)``."""
    text, _, warning = decode(body, http_charset)
    text = re.sub(r"^\s*(<\?xml[^>]*?encoding=)[\"'][A-Za-z0-9._-]+[\"']", r'\1"utf-8"', text, count=1)
    return text.encode("utf-8"), warning
