"""Fetch safety: which addresses may be fetched, and which XML is refused before parsing.

Private, loopback, link-local, CGNAT, unspecified, multicast and reserved addresses (and their
IPv4-mapped IPv6 forms) are refused after DNS resolution, unless the host is allowlisted. This
module decides; the Scrapy resolver and middleware below enforce it on every hop.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest
from scrapy.resolver import CachingThreadedResolver, HostResolution
from twisted.internet.address import IPv6Address
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import IHostnameResolver
from zope.interface import implementer

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Allowlist:
    """Hosts and networks that may be fetched although private (tests, the demo, an intranet PSIRT)."""

    def __init__(self, entries: Iterable[str] = ()):
        self.hosts: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in entries:
            entry = entry.strip().lower()
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.hosts.add(entry.rstrip("."))

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".").strip("[]") in self.hosts

    def allows_ip(self, ip: IPAddress) -> bool:
        return any(ip in net for net in self.networks if net.version == ip.version)


def address_problem(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be fetched, or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if mapped is not None:
            problem = address_problem(mapped)
            return f"{problem} (IPv6-embedded)" if problem else None
    for attr, word in (
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_unspecified", "unspecified"),
        ("is_multicast", "multicast"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
    ):
        if getattr(ip, attr):
            return word
    if not ip.is_global:  # CGNAT 100.64/10 and the like are neither private nor global
        return "non-global"
    return None


def check_ip(ip_text: str, allow: Allowlist, host: str = "") -> str | None:
    """An error message when ``ip_text`` (the address ``host`` resolved to) is refused, else None."""
    try:
        ip = ipaddress.ip_address(ip_text.strip("[]"))
    except ValueError:
        return None
    if allow.allows_ip(ip) or (host and allow.allows_host(host)):
        return None
    problem = address_problem(ip)
    if problem is None:
        return None
    shown = f"{host} resolves to {ip}" if host and host != ip_text else str(ip)
    return f"refused: {shown} is a {problem} address (add the host to [crawl] private_allowlist to allow it)"


def check_url(url: str, allow: Allowlist) -> str | None:
    """Refuse non-http(s) schemes and IP-literal hosts in refused ranges; None when acceptable."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return f"refused: malformed URL {url!r}"
    if parts.scheme.lower() not in ("http", "https"):
        return f"refused: scheme {parts.scheme!r} is not http or https"
    if not host:
        return f"refused: URL has no host: {url!r}"
    return check_ip(host, allow, host)


# Entity declarations: billion laughs, quadratic blow-up, XXE. feedparser's loose parser would
# expand them, so such documents never reach it. The check runs on decoded text (a UTF-16 feed
# hides them from a byte scan) and looks at the whole document, since DTD comments and brackets
# can hide where the prolog ends. A feed has no business declaring entities at all.
_DOCTYPE = re.compile(r"<!DOCTYPE", re.I)
_ENTITY = re.compile(r"<!ENTITY", re.I)


def declares_entities(text: str | bytes) -> bool:
    """True when the document has a DOCTYPE and declares entities anywhere."""
    if isinstance(text, bytes):
        from .text import decode

        text = decode(text)[0]
    return bool(_DOCTYPE.search(text) and _ENTITY.search(text))


# host -> why the resolver refused it, in this crawler process. Twisted's HostnameEndpoint turns an error
# from the resolver into its own "no results for hostname lookup", so the crawl's failure message looks here.
REFUSED_AT_CONNECT: dict[str, str] = {}


def refusal_at_connect(host: str | None) -> str | None:
    """Why the connect-time resolver refused ``host`` (a name that passed the first check, then resolved to
    a refused address: DNS rebinding), or None."""
    return REFUSED_AT_CONNECT.get((host or "").lower())


class PrivateAddressResolver(CachingThreadedResolver):
    """Scrapy's caching resolver, refusing names that resolve to refused addresses.

    Checking after resolution (not on the URL text) is what stops ``evil.example`` -> 127.0.0.1
    and redirects to internal names; Scrapy installs it for every request, robots.txt included.
    """

    allowlist = Allowlist()

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> PrivateAddressResolver:
        resolver = super().from_crawler(crawler, reactor)
        resolver.allowlist = Allowlist(crawler.settings.getlist("SUPPLYWATCH_PRIVATE_ALLOWLIST"))
        return resolver

    def install_on_reactor(self) -> None:
        super().install_on_reactor()
        # Twisted wraps this (IPv4-only, gethostbyname) resolver so that every address it yields is IPv4:
        # an IPv6 literal ("[::1]", "[2001:db8::1]") could never be connected to. Literals bypass it.
        self.reactor.installNameResolver(_IPv6Literals(self.reactor.nameResolver, self.allowlist))

    def getHostByName(self, name: str, timeout: Any = ()) -> Any:  # noqa: N802 (Twisted's name)
        d = super().getHostByName(name, timeout)

        def _check(address: str) -> str:
            problem = check_ip(address, self.allowlist, name)
            if problem:
                if len(REFUSED_AT_CONNECT) < 10_000:
                    REFUSED_AT_CONNECT[name.lower()] = f"{problem}; it resolved to a public address a moment before " \
                                                       "(DNS rebinding?)"
                raise DNSLookupError(problem)
            return address

        return d.addCallback(_check)


@implementer(IHostnameResolver)
class _IPv6Literals:
    """Name resolution where an IPv6 literal resolves to itself (checked again); everything else as before."""

    def __init__(self, inner: Any, allowlist: Allowlist):
        self.inner = inner
        self.allowlist = allowlist

    def resolveHostName(self, receiver: Any, hostName: str, portNumber: int = 0,  # noqa: N802, N803 (Twisted's)
                        addressTypes: Any = None, transportSemantics: str = "TCP") -> Any:  # noqa: N803
        host = hostName.strip("[]")
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if ip is None or ip.version != 6:
            return self.inner.resolveHostName(receiver, hostName, portNumber, addressTypes, transportSemantics)
        receiver.resolutionBegan(HostResolution(hostName))
        problem = check_ip(host, self.allowlist, host)
        if problem:
            REFUSED_AT_CONNECT[host.lower()] = problem
        else:
            receiver.addressResolved(IPv6Address("TCP", host, portNumber))
        receiver.resolutionComplete()
        return receiver


class SafetyMiddleware:
    """Downloader middleware: refuse bad schemes and refused addresses on every request and hop.

    Host names are resolved here (in a thread) and every address checked, so a refusal carries a
    clear "refused: ..." message; the resolver above checks again at connect time.
    """

    def __init__(self, allow: Allowlist):
        self.allow = allow
        self._checked: dict[str, str | None] = {}

    @classmethod
    def from_crawler(cls, crawler: Any) -> SafetyMiddleware:
        return cls(Allowlist(crawler.settings.getlist("SUPPLYWATCH_PRIVATE_ALLOWLIST")))

    async def process_request(self, request: Any) -> None:
        problem = check_url(request.url, self.allow)
        if problem:
            raise IgnoreRequest(problem)
        host = urlsplit(request.url).hostname or ""
        if self.allow.allows_host(host) or _is_ip(host):
            return None
        if host not in self._checked:
            self._checked[host] = await _resolve_and_check(host, self.allow)
        if self._checked[host]:
            raise IgnoreRequest(self._checked[host])
        return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


async def _resolve_and_check(host: str, allow: Allowlist) -> str | None:
    import asyncio
    import socket

    try:
        infos = await asyncio.get_running_loop().run_in_executor(None, socket.getaddrinfo, host, None)
    except (OSError, UnicodeError):
        return None  # unresolvable: the download fails with Scrapy's own DNS error
    for info in infos:
        problem = check_ip(str(info[4][0]), allow, host)
        if problem:
            return problem
    return None
