"""Shared fixtures: a real HTTP server on 127.0.0.1, real SQLite files, a crawl helper.

Nothing here mocks the network or the store: crawls go through Scrapy to the local server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from store import Store
from supplywatch import app
from supplywatch import config as configuration
from supplywatch.localsite import LocalServer, Route

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
        return {r["source"]: r for r in app.crawl(cfg, self.db)}

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
