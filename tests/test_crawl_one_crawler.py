"""One Scrapy crawler fetches for every source (crawlers/multi.py); politeness, duplicates and health stay per source."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from supplywatch import config as configuration
from supplywatch.crawlers import StoreSink, run_crawl
from supplywatch.crawlers.kinds import KINDS, SourceKind, register
from supplywatch.crawlers.spiders import FeedSpider
from supplywatch.store import Store
from tests.conftest import static, write_config

PAGE = ("<html><head><title>{t}</title></head><body><article><h1>{t}</h1>"
        + "<p>A supplier disclosed a breach of its build systems; customers are asked to rotate their keys. " * 4
        + "</p></article></body></html>")


def rss(base: str, paths: list[str]) -> str:
    items = "".join(f"<item><title>Story {p}</title><link>{base}{p}</link><guid>{base}{p}</guid>"
                    f"<pubDate>Mon, 06 Jan 2025 10:00:00 GMT</pubDate><description>About {p}.</description></item>"
                    for p in paths)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'


def page(title: str) -> Any:
    return static(PAGE.format(t=title), "text/html; charset=utf-8")


def test_sources_share_one_crawler_but_not_their_duplicates(server, crawl):
    """Three sources on one host: robots.txt is asked once (one crawler), a page two sources link is fetched
    for each of them (as when each source had its own crawler), and each source keeps its own
    health (c's feed is missing: 404)."""
    server.routes["/robots.txt"] = static("User-agent: *\nAllow: /\n", "text/plain")
    server.routes["/shared.html"] = page("Shared")
    for name in ("a", "b", "c"):
        server.routes[f"/{name}.html"] = page(f"Own {name}")
    server.routes["/a.xml"] = static(rss(server.base, ["/a.html", "/shared.html"]))
    server.routes["/b.xml"] = static(rss(server.base, ["/b.html", "/shared.html"]))
    reports = crawl([{"name": n, "kind": "feed", "url": server.url(f"/{n}.xml")} for n in ("a", "b", "c")],
                    obey_robots=True)
    hits = Counter(server.hits)
    assert hits["/robots.txt"] == 1, hits
    assert hits["/shared.html"] == 2, hits
    assert reports["a"]["status"] == reports["b"]["status"] == "ok" and reports["c"]["status"] == "gone", reports
    # Each source found both of its entries; the store keeps one document per canonical URL (the first source's).
    assert sorted((r["new"], r["unchanged"]) for n, r in reports.items() if n != "c") == [(1, 1), (2, 0)], reports
    titles = sorted(d["title"] for d in crawl.documents())
    assert titles == ["Story /a.html", "Story /b.html", "Story /shared.html"]
    for name in ("a", "b"):
        assert crawl.health(name)["last_status"] == "ok"
    assert crawl.health("c")["last_status"] == "gone"


def test_each_source_has_its_own_download_slot(server, crawl):
    """concurrent_per_host = 1 holds per source: one page of a source in flight at a time (Scrapy's own
    downloader started 2 at once here: crawlers/handlers.py SlotDownloader), and the other source's pages
    on the same host are fetched meanwhile, not queued behind them."""
    lock = threading.Lock()
    now: Counter[str] = Counter()
    most: Counter[str] = Counter()

    def slow(name: str, i: int) -> Any:
        def route(handler: Any) -> tuple[int, dict[str, str], bytes]:
            with lock:
                now[name] += 1
                now["all"] += 1
                most[name] = max(most[name], now[name])
                most["all"] = max(most["all"], now["all"])
            time.sleep(0.3)
            with lock:
                now[name] -= 1
                now["all"] -= 1
            return 200, {"Content-Type": "text/html; charset=utf-8"}, PAGE.format(t=f"{name} {i}").encode()
        return route

    for name in ("a", "b"):
        paths = [f"/{name}/{i}.html" for i in range(4)]
        for i, path in enumerate(paths):
            server.routes[path] = slow(name, i)
        server.routes[f"/{name}.xml"] = static(rss(server.base, paths))
    reports = crawl([{"name": n, "kind": "feed", "url": server.url(f"/{n}.xml")} for n in ("a", "b")],
                    obey_robots=False, autothrottle=False, concurrent_per_host=1, concurrent_requests=3)
    assert {n: (r["status"], r["new"]) for n, r in reports.items()} == {"a": ("ok", 4), "b": ("ok", 4)}
    assert most["a"] == most["b"] == 1 and most["all"] == 2, most


class BrokenPageSpider(FeedSpider):
    """A feed spider with a bug on one page (a kind registered by the test below only)."""

    async def parse_page(self, response: Any, entry: Any):  # noqa: ANN201
        if response.url.endswith("/bug.html"):
            raise RuntimeError("a bug in our own parsing")
        async for out in super().parse_page(response, entry):
            yield out


def test_a_bug_in_one_sources_parsing_is_its_internal_error_only(server, crawl):
    register(SourceKind("broken-page", f"{__name__}:BrokenPageSpider"))
    try:
        for path in ("/ok.html", "/bug.html", "/other.html"):
            server.routes[path] = page(path)
        server.routes["/broken.xml"] = static(rss(server.base, ["/ok.html", "/bug.html"]), headers={"ETag": '"v2"'})
        server.routes["/fine.xml"] = static(rss(server.base, ["/other.html"]))
        reports = crawl([{"name": "broken", "kind": "broken-page", "url": server.url("/broken.xml")},
                         {"name": "fine", "kind": "feed", "url": server.url("/fine.xml")}], obey_robots=False)
    finally:
        KINDS.pop("broken-page")
    assert reports["fine"]["status"] == "ok" and reports["fine"]["new"] == 1, reports
    broken = reports["broken"]
    assert broken["status"] == "parse_error" and broken["new"] == 1, broken
    assert any(w.startswith(f"internal error on {server.base}/bug.html: RuntimeError(") for w in broken["warnings"])
    assert crawl.health("broken")["etag"] is None  # not kept: the next crawl fetches the whole feed again


class ThreadNotingSink(StoreSink):
    """The store writer, also noting which thread of the crawler process called it (in a file: a forked child)."""

    def __init__(self, db_path: str, log: Path):
        super().__init__(db_path)
        self.log = str(log)

    def write(self, documents: Any, outcome: Any) -> Any:
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"source": outcome.source, "thread": threading.current_thread().name}) + "\n")
        return super().write(documents, outcome)


def test_sources_are_written_off_the_reactor_thread_and_counted_once_each(tmp_path, server, db_path):
    """(From branch issue-13-crawl.) Each source is handed to the sink once, on the writer thread, and the
    progress callback ticks once per source written."""
    names = ["one", "two", "three"]
    for name in names:
        server.routes[f"/{name}.xml"] = static(rss(server.base, [f"/{name}.html"]))
    cfg = configuration.load(write_config(tmp_path / "c.toml", [{"name": n, "url": server.url(f"/{n}.xml")}
                                                                for n in names], fetch_pages=False))
    log, ticks = tmp_path / "sink.jsonl", []
    with Store.open(db_path) as store:
        store.sync_sources(cfg.sources)
    reports = run_crawl(db_path, cfg.sources, cfg.crawl, sink=ThreadNotingSink(db_path, log),
                        progress=lambda done, total: ticks.append((done, total)))
    assert sorted(r["source"] for r in reports if r["status"] == "ok") == sorted(names)
    handed = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
    assert sorted(h["source"] for h in handed) == sorted(names)
    # The reactor runs on the crawler process's main thread; the writes on the one writer thread.
    assert {h["thread"] for h in handed} == {"supplywatch-store_0"}
    assert ticks == [(0, 3), (1, 3), (2, 3), (3, 3)]  # the rate-limited sources first (none), then one a source
