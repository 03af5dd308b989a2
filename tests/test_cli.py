"""The CLI end to end on real files and the local server: init, crawl, sources, search, errors."""

from __future__ import annotations

import json

from click.testing import CliRunner

from supplywatch.cli import cli

from .conftest import static, write_config

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Test outlet</title><link>{base}/</link>
<item><title>Vendor signing key stolen in build server breach</title><link>{base}/a1</link><guid>a1</guid>
<pubDate>Tue, 12 Jan 2021 09:00:00 GMT</pubDate>
<description>Attackers stole the code-signing key of Examplesoft and signed malware with it.</description></item>
<item><title>Certificate expiry takes down payment terminals</title><link>{base}/a2</link><guid>a2</guid>
<pubDate>Wed, 13 Jan 2021 09:00:00 GMT</pubDate>
<description>An expired intermediate certificate broke card payments for a day.</description></item>
</channel></rss>"""


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def test_init_writes_starter_and_refuses_to_overwrite(tmp_path):
    cfg, db = tmp_path / "supplywatch.toml", tmp_path / "sw.db"
    result = invoke("--config", str(cfg), "--db", str(db), "init")
    assert result.exit_code == 0, result.output
    assert cfg.exists() and db.exists()
    assert "[[sources]]" in cfg.read_text() and "bleepingcomputer" in cfg.read_text()
    again = invoke("--config", str(cfg), "--db", str(db), "init")
    assert again.exit_code == 1 and "already exists" in again.output
    sources = invoke("--db", str(db), "sources", "--json")
    assert len(json.loads(sources.output)) >= 8


def test_crawl_sources_search_round_trip(tmp_path, server):
    server.routes["/feed.xml"] = static(RSS.format(base=server.base))
    cfg = write_config(tmp_path / "c.toml", [{"name": "outlet", "url": server.url("/feed.xml")}], fetch_pages=False)
    db = str(tmp_path / "sw.db")
    crawl = invoke("--config", str(cfg), "--db", db, "crawl")
    assert crawl.exit_code == 0, crawl.output
    assert "2 new documents" in crawl.output and "1 of 1 sources healthy" in crawl.output

    table = invoke("--config", str(cfg), "--db", db, "sources")
    assert "outlet" in table.output and " ok " in table.output

    hits = json.loads(invoke("--db", db, "search", "signing key", "--json").output)
    assert [h["title"] for h in hits] == ["Vendor signing key stolen in build server breach"]
    assert "[signing]" in hits[0]["snippet"]
    text = invoke("--db", db, "search", 'NEAR("key"').output  # FTS syntax is quoted, not parsed
    assert "Traceback" not in text

    again = json.loads(invoke("--config", str(cfg), "--db", db, "crawl", "--json").output)
    assert again[0]["new"] == 0 and again[0]["unchanged"] == 2

    one = invoke("--config", str(cfg), "--db", db, "crawl", "--source", "nope")
    assert one.exit_code == 2 and "no source named 'nope'" in one.output


def test_bad_database_is_one_line_error(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_text("not a database at all" * 50)
    result = CliRunner().invoke(cli, ["--db", str(junk), "search", "x"])
    assert result.exit_code == 3
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    missing = CliRunner().invoke(cli, ["--db", str(tmp_path / "nope.db"), "sources"])
    assert missing.exit_code == 3 and "no such database" in missing.output
    assert not (tmp_path / "nope.db").exists()


def test_search_input_errors(tmp_path):
    db = str(tmp_path / "sw.db")
    invoke("--db", db, "--config", str(tmp_path / "c.toml"), "init")
    empty = CliRunner().invoke(cli, ["--db", db, "search", "  "])
    assert empty.exit_code == 2 and "empty search query" in empty.output
    long = CliRunner().invoke(cli, ["--db", db, "search", "x" * 10_000])
    assert long.exit_code == 2 and "too long" in long.output
