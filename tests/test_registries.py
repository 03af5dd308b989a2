"""The registries and seams: source kinds, outputs, and the DocumentSink crawled documents go to."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from supplywatch import config as configuration
from supplywatch.crawlers import KINDS, StoreSink
from supplywatch.pipeline import make_pipeline
from supplywatch.reports.outputs import OUTPUTS
from supplywatch.store import ConfigError, Store

from .conftest import static, write_config
from .test_cli import RSS


def test_source_kinds_and_outputs_are_registered():
    assert list(KINDS) == ["feed", "advisories", "csaf"]
    assert all(k.spider.startswith("supplywatch.crawlers.") for k in KINDS.values())
    assert set(OUTPUTS) == {"files", "mail", "atom", "stix", "archive"}


def test_configuration_checks_kinds_against_the_registry(tmp_path):
    path = write_config(tmp_path / "c.toml", [{"name": "x", "kind": "jsonapi", "url": "https://x.example/"}])
    with pytest.raises(ConfigError, match="unknown kind 'jsonapi' \\(one of: feed, advisories, csaf\\)"):
        configuration.load(path)
    path = write_config(tmp_path / "c.toml", [{"name": "x", "kind": "advisories", "url": "https://x.example/"}])
    with pytest.raises(ConfigError, match="needs follow"):
        configuration.load(path)


class RecordingSink(StoreSink):
    """The store writer, also noting what it was handed (in a file: the crawl runs in a forked child)."""

    def __init__(self, db_path: str, log: Path):
        super().__init__(db_path)
        self.log = str(log)

    def write(self, documents, outcome):
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"source": outcome.source, "titles": [d.title for d in documents]}) + "\n")
        return super().write(documents, outcome)


def test_crawled_documents_go_to_the_sink(tmp_path, server, db_path):
    server.routes["/feed.xml"] = static(RSS.format(base=server.base))
    cfg = configuration.load(write_config(tmp_path / "c.toml", [{"name": "outlet", "url": server.url("/feed.xml")}],
                                          fetch_pages=False))
    log = tmp_path / "sink.jsonl"
    with make_pipeline(cfg, db_path, sink=RecordingSink(db_path, log)) as pipeline:
        (report,) = pipeline.crawl()
    (handed,) = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
    assert handed["source"] == "outlet" and len(handed["titles"]) == report["new"] > 0
    with Store.open(db_path) as store:
        assert sorted(d["title"] for d in store.recent_documents(limit=10)) == sorted(handed["titles"])
