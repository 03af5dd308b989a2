"""Runs one crawl of the configured sources with Scrapy, in a child process.

Twisted's reactor cannot be restarted within a process, so each crawl runs in a forked child:
the CLI, the demo and the tests can crawl as often as they like. The child opens the store
itself and sends back one report per source. All sources share one Scrapy crawler (crawlers/multi.py).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import traceback
from typing import Any

from supplywatch.store import CrawlError, FetchOutcome, Store, models, utcnow

log = logging.getLogger("supplywatch.crawl")


def scrapy_settings(options: dict[str, Any]) -> dict[str, Any]:
    """Scrapy settings from the ``[crawl]`` options."""
    return {
        "BOT_NAME": "supplywatch",
        "USER_AGENT": options["user_agent"],
        "ROBOTSTXT_OBEY": options["obey_robots"],
        "AUTOTHROTTLE_ENABLED": options["autothrottle"],
        "AUTOTHROTTLE_START_DELAY": options["autothrottle_start_delay"],
        "AUTOTHROTTLE_MAX_DELAY": options["autothrottle_max_delay"],
        "AUTOTHROTTLE_TARGET_CONCURRENCY": options["autothrottle_target_concurrency"],
        "DOWNLOAD_DELAY": options["download_delay"],
        "CONCURRENT_REQUESTS": options["concurrent_requests"],
        "CONCURRENT_REQUESTS_PER_DOMAIN": options["concurrent_per_host"],
        "DOWNLOAD_TIMEOUT": options["timeout"],
        # Scrapy applies the cap to decompressed bodies too, which defuses gzip bombs.
        "DOWNLOAD_MAXSIZE": options["max_bytes"],
        "DOWNLOAD_WARNSIZE": 0,
        "REDIRECT_MAX_TIMES": options["max_redirects"],
        "RETRY_TIMES": options["retries"],
        # Scrapy starts CONCURRENT_ITEMS asyncio workers for every callback's output; at the default
        # (100) that task churn cost ~10 ms of reactor CPU per article (benchmarks/RESULTS.md). Our
        # callbacks yield one document or a handful of requests, and the pipeline only appends.
        "CONCURRENT_ITEMS": 1,
        # Each crawler counts every log record through a root handler: at DEBUG that is two records
        # per article per source. Scrapy's own debug log only with -vv.
        "LOG_LEVEL": "DEBUG" if logging.getLogger().getEffectiveLevel() <= logging.DEBUG else "WARNING",
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_ENABLED": False,
        "LOG_INSTALL_ROOT_HANDLER": False,
        "TWISTED_DNS_RESOLVER": "supplywatch.crawlers.safety.PrivateAddressResolver",
        # Scrapy's own, without the close race that logs an AlreadyCalledError traceback per source in big crawls.
        "DOWNLOADER": "supplywatch.crawlers.handlers.SlotDownloader",  # concurrent_per_host, really (handlers.py)
        "DOWNLOAD_HANDLERS": {"http": "supplywatch.crawlers.handlers.HTTPDownloadHandler",
                              "https": "supplywatch.crawlers.handlers.HTTPDownloadHandler"},
        "DOWNLOADER_MIDDLEWARES": {
            # Before robots.txt (100), so a refused host is not even asked for its robots.txt.
            "supplywatch.crawlers.safety.SafetyMiddleware": 50,
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "supplywatch.crawlers.middlewares.RetryAfterMiddleware": 550,
        },
        "SUPPLYWATCH_PRIVATE_ALLOWLIST": list(options["private_allowlist"]),
        "SUPPLYWATCH_RETRY_AFTER_MAX": options["retry_after_max"],
    }


class _Counting:
    """The sink, and after each source's write a call to ``notify(sources done so far)`` (progress to the parent)."""

    def __init__(self, sink: Any, notify: Any, done: int = 0):
        self.sink, self.notify, self.done = sink, notify, done

    def write(self, documents: Any, outcome: Any) -> Any:
        try:
            return self.sink.write(documents, outcome)
        finally:
            self.done += 1
            self.notify(self.done)


def _crawl(db_path: str, sources: list[dict[str, Any]], options: dict[str, Any], force: bool,
           sink: Any, notify: Any = None) -> list[dict[str, Any]]:
    from scrapy.crawler import CrawlerProcess

    from .multi import AllSourcesSpider, one_crawler_settings
    from .pipeline import SourceWriter
    from .sink import StoreSink
    from .workers import PagePool

    now = utcnow()
    reports: list[dict[str, Any]] = []
    with Store.open(db_path) as store:
        jobs = []
        for source in sources:
            state = store.source_state(source["name"])
            if not force and state.get("retry_after") and state["retry_after"] > now:
                store.save_fetch([], FetchOutcome(source["name"], models.SKIPPED, now, now))
                reports.append({"source": source["name"], "kind": source["kind"], "status": models.SKIPPED,
                                "error": f"rate limited: not before {state['retry_after']} (use --force)"})
                continue
            jobs.append((source, state, store.known_entries(source["name"])))
    if not jobs:
        return reports
    sink = sink or StoreSink(db_path)
    if notify is not None:
        notify(len(reports))  # the rate-limited sources are done already
        sink = _Counting(sink, notify, len(reports))
    pool = PagePool(options["extract_workers"])
    writer = SourceWriter(sink)  # its thread starts after the pool's workers forked
    spider = None
    failures: list[str] = []
    try:
        process = CrawlerProcess(one_crawler_settings(scrapy_settings(options), options, len(jobs)))
        crawler = process.create_crawler(AllSourcesSpider)
        d = process.crawl(crawler, jobs=jobs, now=now, options=options, pool=pool, writer=writer)
        d.addErrback(lambda f: failures.append(f"{f.type.__name__}: {f.value}"))
        process.start()
        spider = crawler.spider
    finally:
        writer.close()
        pool.close()
    for source, _, _ in jobs:
        name = source["name"]
        report = spider.report(name) if spider is not None else None
        if report is None or report.get("status") == "not_run":
            error = (spider.failures.get(name) if spider is not None else None) or (
                failures[0] if failures else "the spider did not run")
            log.error("%s: %s", name, error)
            report = {"source": name, "kind": source["kind"], "status": "crawl_error", "error": error}
        reports.append(report)
    return reports


def _child(conn: Any, parent: int, mask: set[signal.Signals], db_path: str, sources: list[dict[str, Any]],
           options: dict[str, Any], force: bool, sink: Any) -> None:
    from .workers import die_with_parent

    signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # the mask the command had before it blocked Ctrl-C to fork
    os.setpgid(0, 0)  # its own process group, so the parent can end it with its workers in one call
    die_with_parent()
    if os.getppid() != parent:  # the command died before the line above took effect
        os._exit(1)
    try:
        conn.send(("ok", _crawl(db_path, sources, options, force, sink, lambda done: conn.send(("progress", done)))))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises CrawlError
        log.debug("crawl failed", exc_info=True)
        conn.send(("error", f"{type(exc).__name__}: {exc}", traceback.format_exc()))
    finally:
        conn.close()


def _death(exitcode: int | None) -> str:
    """Why the crawler process ended without a report, in words."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (the out-of-memory killer, or someone, killed it)" if name == "SIGKILL" else ""
        return f"the crawler process was killed by {name}{hint}"
    return f"the crawler process died without a report (exit code {exitcode})"


def _end_group(pgid: int) -> None:
    """SIGKILL whatever is left of the crawler's process group (its extraction workers)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_crawl(db_path: str, sources: list[dict[str, Any]], options: dict[str, Any], *,
              force: bool = False, sink: Any = None, progress: Any = None) -> list[dict[str, Any]]:
    """Crawl ``sources``, their documents into ``sink`` (default the store at ``db_path``, which also holds
    the sources' state); return one report dict per source. The sink crosses into the forked child as is.
    ``progress(done, total)`` is called here, in this process, as the child finishes each source.

    The child runs in its own process group and dies with this process (PR_SET_PDEATHSIG). This side
    waits on the report pipe and the child's exit together: extraction workers forked by the child
    hold the pipe open, so end-of-file alone would never come when the child dies first. A child that
    dies is a CrawlError naming the cause, and its whole group is ended.
    """
    from multiprocessing.connection import wait

    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    # Ctrl-C is held back while forking: a KeyboardInterrupt raised inside an at-fork hook (logging's lock
    # release runs in the parent just after the fork) is printed and swallowed by Python, so the command would
    # run on as if never interrupted. Held back, it is raised below, where the finally ends the child.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        proc = ctx.Process(target=_child, args=(sender, os.getpid(), mask, db_path, sources, options, force, sink),
                           daemon=False)
        proc.start()
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        raise
    sender.close()
    try:
        os.setpgid(proc.pid, proc.pid)  # also here: whichever side runs first, the group exists at once
    except (ProcessLookupError, PermissionError):  # already exited, or already in its group
        pass
    message: tuple[Any, ...] | None = None
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a Ctrl-C held back during the fork is raised here
        while message is None:
            ready = wait([receiver, proc.sentinel])
            if receiver in ready:
                try:
                    message = receiver.recv()
                except EOFError:
                    proc.join()
                    message = ("error", _death(proc.exitcode), "")
                if message[0] == "progress":
                    if progress is not None:
                        progress(message[1], len(sources))
                    message = None
            elif proc.sentinel in ready:
                # Exited: a report it sent just before is still in the pipe; otherwise it died.
                if receiver.poll(0):
                    continue
                proc.join()
                message = ("error", _death(proc.exitcode), "")
        proc.join(timeout=30)
    finally:
        _end_group(proc.pid)
        if proc.is_alive():
            proc.join()
        receiver.close()
    if message[0] != "ok":
        if os.environ.get("SUPPLYWATCH_DEBUG"):
            log.error("%s", message[2])
        raise CrawlError(f"crawl failed: {message[1]}")
    return message[1]
