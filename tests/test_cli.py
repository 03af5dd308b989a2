"""The CLI end to end on real files and the local server: init, crawl, sources, search, errors."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from supplywatch.cli import cli
from supplywatch.store import Store

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
    assert again.exit_code == 2 and again.output == f"Error: {cfg} exists; --force to overwrite\n"
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

    again = json.loads(invoke("--config", str(cfg), "--db", db, "crawl", "--json").stdout)  # progress is on stderr
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


# -- issue 11: no silent failures ------------------------------------------------------------------


def test_crawl_without_configuration_is_a_config_error_and_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SUPPLYWATCH_CONFIG", raising=False)
    monkeypatch.delenv("SUPPLYWATCH_DB", raising=False)
    for command in (["crawl"], ["run", "--no-crawl"]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 2, result.output
        assert result.output == "Error: no configuration: supplywatch.toml not found (supplywatch init writes a " \
                                "starter one)\n"
        assert list(tmp_path.iterdir()) == []  # no ./supplywatch.db, no lock file
    (tmp_path / "empty.toml").write_text("[crawl]\n")
    empty = CliRunner().invoke(cli, ["--config", "empty.toml", "crawl"])
    assert empty.exit_code == 2 and "no sources configured" in empty.output and empty.output.count("\n") == 1
    assert not (tmp_path / "supplywatch.db").exists()


def test_crawl_exit_status_says_whether_any_source_was_healthy(tmp_path, server):
    server.routes["/feed.xml"] = static(RSS.format(base=server.base))
    good = {"name": "outlet", "url": server.url("/feed.xml")}
    bad = {"name": "gone", "url": server.url("/no-such-feed.xml")}
    db = str(tmp_path / "sw.db")
    partial = write_config(tmp_path / "p.toml", [good, bad], fetch_pages=False, retries=0)
    result = CliRunner().invoke(cli, ["--config", str(partial), "--db", db, "crawl"])
    assert result.exit_code == 0, result.output  # a partial failure stores what it got
    assert "2 new documents; 1 of 2 sources healthy." in result.stdout
    assert len(json.loads(invoke("--db", db, "search", "certificate OR key", "--raw", "--json").output)) == 2

    dead = write_config(tmp_path / "d.toml", [bad], fetch_pages=False, retries=0)
    result = CliRunner().invoke(cli, ["--config", str(dead), "--db", db, "crawl"])
    assert result.exit_code == 4, result.output
    assert "0 of 1 sources healthy." in result.stdout  # the report, then the error
    # stderr: the crawl's one progress line (not a terminal), then the error.
    assert result.stderr.startswith("crawl: done: 1 sources in ") and result.stderr.count("\n") == 2
    assert result.stderr.splitlines()[1].startswith("Error: 0 of 1 sources healthy: gone: ")


def test_unknown_names_are_errors_not_empty_results(tmp_path):
    db = str(tmp_path / "sw.db")
    invoke("--db", db, "--config", str(tmp_path / "c.toml"), "init")
    source = CliRunner().invoke(cli, ["--db", db, "search", "key", "--source", "nosuch"])
    assert source.exit_code == 2 and source.output.startswith("Error: no source named 'nosuch' (sources: ")
    assert source.output.count("\n") == 1 and "bleepingcomputer" in source.output
    supplier = CliRunner().invoke(cli, ["--db", db, "search", "key", "--supplier", "nosuch"])
    assert supplier.exit_code == 2 and supplier.output == "Error: no supplier named 'nosuch' in the register\n"
    label = CliRunner().invoke(cli, ["--db", db, "search", "key", "--label", "nosuch"])
    assert label.exit_code == 2 and "'nosuch' is not one of" in label.output


@pytest.mark.parametrize("value", ["2021", "2021-01", "2021-01-12"])
def test_every_date_option_takes_a_year_a_month_or_a_day(value):
    from supplywatch.cli import DATE

    options = [(name, p) for name, cmd in cli.commands.items() if name != "digest"
               for p in cmd.params if isinstance(p, click.Option) and p.name in ("since", "until")]
    assert {name for name, _ in options} == {"search", "eval", "supplier", "train"}
    assert all(p.type is DATE for _, p in options)
    period = DATE.convert(value, None, None)
    assert period.first.startswith(value) and period.last.startswith(value)


@pytest.mark.parametrize("value,first,last", [
    ("2021", "2021-01-01", "2021-12-31"), ("2024-02", "2024-02-01", "2024-02-29"),
    ("2021-12", "2021-12-01", "2021-12-31"), ("2021-01-12", "2021-01-12", "2021-01-12"),
])
def test_date_range(value, first, last):
    from supplywatch.store import date_range

    assert tuple(d.isoformat() for d in date_range(value)) == (first, last)


@pytest.mark.parametrize("args", [
    ["search", "key", "--since", "2021-1"],
    ["supplier", "Acme", "--since", "21"],
    ["eval", "{data}", "--until", "2021-02-30"],
    ["eval", "{data}", "--since", "last year"],
])
def test_bad_dates_read_the_same_everywhere(tmp_path, args):
    data = tmp_path / "d.jsonl"
    data.write_text('{"title": "t", "text": "x"}\n')
    db = str(tmp_path / "sw.db")
    Store.open(db).close()
    result = CliRunner().invoke(cli, ["--db", db, *[a.format(data=data) for a in args]])
    assert result.exit_code == 2, result.output
    assert result.output == f"Error: {args[-2]}: {args[-1]!r} is not a date (YYYY, YYYY-MM or YYYY-MM-DD, " \
                            "for example 2021, 2021-01 or 2021-01-12)\n"


def test_readme_lists_every_exit_code():
    from pathlib import Path

    from supplywatch.cli import EXIT_CODES

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    section = readme.split("### Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip().strip("`") for line in section.splitlines() if line.startswith("| `")}
    assert rows == {str(code) for code in EXIT_CODES.values()} | {"0", "130"}


# -- eval never scores a head on its own training data silently ------------------------------------

HEADS = Path(__file__).resolve().parents[1] / "classifiers"


def _labelled(path: Path) -> Path:
    rows = [{"title": "Vendor signing key stolen", "text": "Attackers stole the code-signing key of Examplesoft.",
             "labels": ["supply_chain_cert_compromise"], "categories": [], "published": "2016-03-01"},
            {"title": "Quarterly results", "text": "Revenue rose.", "labels": [], "categories": [],
             "published": "2016-04-01"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_training_overlap_by_name_and_time_cut():
    from supplywatch.classifiers.evaluate import training_overlap

    manifest = {"sources": {"project examples": 280, "../shared/eval/dev.jsonl": 2190}}
    assert training_overlap(manifest, "/elsewhere/dev.jsonl") == "../shared/eval/dev.jsonl"
    assert training_overlap(manifest, "/elsewhere/dev.jsonl", since="2019-01-01") == "../shared/eval/dev.jsonl"
    assert training_overlap(manifest, "other.jsonl") is None
    cut = {"sources": {"../shared/eval/dev.jsonl (published before 2015)": 1348, "x.jsonl (before 2020-06-01)": 3}}
    assert training_overlap(cut, "dev.jsonl") == "../shared/eval/dev.jsonl (published before 2015)"
    assert training_overlap(cut, "dev.jsonl", since="2014-12-31") is not None
    assert training_overlap(cut, "dev.jsonl", since="2015-01-01") is None
    assert training_overlap(cut, "x.jsonl", since="2020-05-01") is not None
    assert training_overlap(cut, "x.jsonl", since="2020-06-01") is None


def test_eval_refuses_the_heads_training_data_and_points_to_the_held_out_head(tmp_path):
    data = _labelled(tmp_path / "dev.jsonl")  # the packaged head's manifest lists ../shared/eval/dev.jsonl
    for head in (HEADS / "head", HEADS / "head-timesplit"):
        result = CliRunner().invoke(cli, ["--db", str(tmp_path / "x.db"), "eval", str(data), "--head", str(head)])
        assert result.exit_code == 2, result.output
        assert result.output.count("\n") == 1 and result.output.startswith(f"Error: {data} overlaps the data head ")
        # the cut as `train --until 2015` recorded it in the held-out head's manifest ("before 2015-01-01")
        assert "--head " in result.output and "head-timesplit --since 2015-01-01)" in result.output
        assert "or pass --allow-training-overlap" in result.output


@pytest.mark.slow
def test_eval_errors_lists_each_wrong_headline_with_why_in_text_and_json(tmp_path):
    rows = [{"id": "a", "title": "Vendor signing key stolen", "labels": ["supply_chain_cert_compromise"],
             "text": "Attackers stole the code-signing key of Examplesoft and signed malware with it.",
             "categories": [], "published": "2016-03-01"},
            {"id": "b", "title": "Quarterly results", "text": "Revenue rose.", "categories": [], "published": "2016-04-01",
             "labels": ["supply_chain_cert_compromise"], "incident": "made-up"},  # gold says yes: a miss
            {"id": "c", "title": "Acme's signing key stolen", "labels": [], "categories": [], "published": "2016-05-01",
             "text": "Attackers stole Acme's code-signing key and signed ransomware with it."}]  # gold says no
    data = tmp_path / "later.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["--db", str(tmp_path / "x.db"), "eval", str(data), "--head", str(HEADS / "head-timesplit"), "--errors"]
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    errors = json.loads(result.stdout)["errors"]
    assert [(e["id"], e["error"]) for e in errors] == [("b", "missed"), ("c", "false positive")]
    assert errors[0]["incident"] == "made-up" and errors[0]["score"] < errors[0]["threshold"]
    assert errors[1]["score"] >= errors[1]["threshold"] * 0.4 and "Acme" in errors[1]["evidence"] and errors[1]["reason"]
    text = CliRunner().invoke(cli, args)
    assert text.exit_code == 0, text.output
    tail = text.stdout[text.stdout.index("headline errors: 2"):].splitlines()
    assert tail[1].split()[0] == "MISSED" and tail[1].endswith("Quarterly results  [made-up]")
    assert tail[3].lstrip().startswith("FALSE POSITIVE") and "evidence: Attackers stole Acme" in tail[4]
    without = CliRunner().invoke(cli, [*args[:-1], "--json"])
    assert "errors" not in json.loads(without.stdout)


@pytest.mark.slow
def test_eval_with_allow_training_overlap_warns_on_stderr(tmp_path):
    data = _labelled(tmp_path / "dev.jsonl")
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "x.db"), "eval", str(data), "--head", str(HEADS / "head"),
                                      "--allow-training-overlap", "--json"])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(f"WARNING: {data} overlaps the data head ") and "in-sample" in result.stderr
    assert json.loads(result.stdout)["training_overlap"] == "../shared/eval/dev.jsonl"
    held_out = CliRunner().invoke(cli, ["--db", str(tmp_path / "x.db"), "eval", str(data), "--head",
                                        str(HEADS / "head-timesplit"), "--since", "2015", "--json"])
    # no warning: stderr holds only eval's one progress line (not a terminal)
    assert held_out.exit_code == 0 and held_out.stderr.startswith("eval: done: "), held_out.output
    assert held_out.stderr.count("\n") == 1
    assert "training_overlap" not in json.loads(held_out.stdout)
