"""A synthetic news site of any size for scale tests and benchmarks: RSS feeds of article pages, served by
:class:`supplywatch.localsite.LocalServer` (optionally with a seeded per-response delay, like real servers).

Deterministic: the same ``(feeds, per_feed, seed)`` builds the same bytes. Pages are short but above the
crawler's minimum article length, so what is measured is the pipeline, not text extraction of long pages.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

from .localsite import Handler, LocalServer

WORDS = ("supplier", "firmware", "update", "signing", "certificate", "patch", "advisory", "breach", "network",
         "customers", "attackers", "researchers", "vendor", "library", "release", "disclosed", "exploited",
         "software", "security", "incident", "investigation", "systems", "credentials", "access")


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(9, 16))]
    return " ".join(words).capitalize() + "."


def build_site(folder: Path, feeds: int, per_feed: int, seed: int = 14) -> list[dict[str, Any]]:
    """Write ``feeds`` RSS feeds of ``per_feed`` articles each under ``folder``; the sources (url with {{BASE}})."""
    rng = random.Random(seed)
    sources = []
    for f in range(feeds):
        items = []
        (folder / f"f{f}").mkdir(parents=True, exist_ok=True)
        for a in range(per_feed):
            slug = f"f{f}/a{a}.html"
            title = f"Outlet {f} story {a}: " + " ".join(rng.choice(WORDS) for _ in range(5))
            body = "".join(f"<p>{_sentence(rng)} {_sentence(rng)}</p>\n" for _ in range(4))
            (folder / slug).write_text(
                f"<html><head><title>{title}</title></head><body><nav>Home | World | Security</nav>"
                f"<article><h1>{title}</h1>{body}</article><footer>(c) outlet {f}</footer></body></html>", "utf-8")
            day = 1 + (a % 28)
            items.append(f"<item><title>{title}</title><link>{{{{BASE}}}}/{slug}</link>"
                         f"<guid>urn:synth:{f}:{a}</guid><pubDate>Mon, {day:02d} Nov 2026 08:00:00 GMT</pubDate>"
                         f"<description>{_sentence(rng)}</description></item>")
        (folder / f"f{f}" / "feed.xml").write_text(
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Outlet {f}</title>'
            f"<link>{{{{BASE}}}}/</link><description>synthetic</description>{''.join(items)}</channel></rss>", "utf-8")
        sources.append({"name": f"outlet-{f}", "kind": "feed", "url": f"{{{{BASE}}}}/f{f}/feed.xml"})
    return sources


class _SlowHandler(Handler):
    def do_GET(self, head: bool = False) -> None:  # noqa: N802 - stdlib name
        server = self.server
        with server.lock:
            delay = server.rng.uniform(*server.delay)
        time.sleep(delay)
        super().do_GET(head)


class SlowServer(LocalServer):
    """LocalServer whose every response waits a seeded random ``delay`` (min, max) seconds first."""

    def __init__(self, root: Path, delay: tuple[float, float] = (0.05, 0.3), seed: int = 14):
        super().__init__(root)
        self.RequestHandlerClass = _SlowHandler
        self.delay = delay
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.request_queue_size = 128


def sources_toml(sources: list[dict[str, Any]], base: str, extra: str = "") -> str:
    """A configuration file for ``sources`` served at ``base``."""
    lines = [extra]
    for s in sources:
        url = s["url"].replace("{{BASE}}", base)
        lines += ["[[sources]]", f'name = "{s["name"]}"', f'kind = "{s["kind"]}"', f'url = "{url}"', ""]
    return "\n".join(lines)
