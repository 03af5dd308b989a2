"""URL identity: the canonical form under which an article is stored once.

Pure functions; no network. Canonical means: scheme and host lower-cased, default port, fragment
and tracking parameters dropped, query sorted, trailing slash, AMP and mobile (``m.``) variants folded.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

TRACKING_PARAMS = {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid", "_hsenc", "_hsmi"}
AMP_PARAMS = {"amp", "outputtype"}  # ?amp, ?amp=1, ?outputType=amp
_AMP_PATH = re.compile(r"(/amp)+/?$|\.amp(?=\.html?$)|/amp(?=/)", re.I)


def is_http_url(url: str | None) -> bool:
    if not url:
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def absolute_http_url(link: str | None, base: str) -> str | None:
    """``link`` made absolute against ``base``, or None when it is not an http(s) URL (javascript:, mailto:)."""
    if not link:
        return None
    url = urljoin(base, link.strip())
    return url if is_http_url(url) else None


# Spiders ask for the same URL's identity several times (entry, page, document): compute it once.
@lru_cache(maxsize=8192)
def canonical_url(url: str) -> str:
    """The identity of an article URL (see module docstring). Raises ValueError on a non-http URL."""
    if not is_http_url(url):
        raise ValueError(f"not an http(s) URL: {url!r}")
    # w3lib sorts the query, normalises percent-encoding and drops the fragment.
    parts = urlsplit(canonicalize_url(url.strip(), keep_fragments=False))
    host = (parts.hostname or "").lower().rstrip(".")
    if host.startswith("m.") and host.count(".") >= 2:
        host = host[2:]
    if host.startswith("amp.") and host.count(".") >= 2:
        host = host[4:]
    port = parts.port
    scheme = parts.scheme.lower()
    netloc = host if port in (None, 80 if scheme == "http" else 443) else f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_")
        and k.lower() not in TRACKING_PARAMS
        and not (k.lower() in AMP_PARAMS and v.lower() in ("", "1", "amp", "true"))
    ]
    path = _AMP_PATH.sub(lambda m: "" if m.group(0).lower().startswith("/amp") else "", parts.path)
    path = path.rstrip("/") or "/"
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))
