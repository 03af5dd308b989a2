"""Heavy libraries stay unloaded where they are not needed: --help and search never import them."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("scrapy", "twisted.internet.reactor", "trafilatura", "torch", "transformers", "feedparser", "datasette", "uvicorn",
         "rich", "tantivy",
         # scale mode (issue 14): nothing of Redis loads unless a scale command runs
         "redis", "rq", "scrapy_redis",
         # the opt-in int8 encoder
         "onnxruntime", "onnx")

PROBE = """
import sys
from click.testing import CliRunner
from supplywatch.cli import cli
result = CliRunner().invoke(cli, {args!r})
assert result.exit_code == {code}, result.output
print(",".join(m for m in {heavy!r} if m in sys.modules))
"""


def _loaded(args: list[str], code: int = 0) -> str:
    out = subprocess.run([sys.executable, "-c", PROBE.format(args=args, code=code, heavy=HEAVY)],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_help_loads_nothing_heavy():
    assert _loaded(["--help"]) == ""


def test_search_loads_nothing_heavy(tmp_path):
    db = tmp_path / "s.db"
    from supplywatch.store import Store

    Store.open(db).close()
    assert _loaded(["--db", str(db), "search", "certificate"]) == ""
    assert _loaded(["--db", str(db), "sources"]) == ""


def test_exports_load_nothing_heavy(tmp_path):
    db = tmp_path / "s.db"
    from supplywatch.store import Store

    Store.open(db).close()
    assert _loaded(["--db", str(db), "feed"]) == ""
    assert _loaded(["--db", str(db), "stix"]) == ""


def test_relations_load_nothing_heavy(tmp_path):
    """Fourth parties (issue 15): importing relations matches and propagates without the classifier's libraries."""
    db = tmp_path / "s.db"
    from supplywatch.store import Store

    Store.open(db).close()
    csv = tmp_path / "rel.csv"
    csv.write_text("supplier,relation,target,product,versions,source,as_of\nAcme,uses,SolarWinds,Orion,,x,\n", "utf-8")
    assert _loaded(["--db", str(db), "suppliers", "relations", "import", str(csv)]) == ""
    assert _loaded(["--db", str(db), "suppliers", "relations", "list"]) == ""
    assert _loaded(["--db", str(db), "suppliers", "relations", "--help"]) == ""


def test_digest_and_progress_off_a_terminal_load_nothing_heavy(tmp_path):
    """rich draws bars only on a terminal: the one-line summaries of a cron run never import it."""
    db = tmp_path / "s.db"
    from supplywatch.store import Store

    Store.open(db).close()
    assert _loaded(["--db", str(db), "digest", "--date", "2021-01-12"]) == ""
    assert _loaded(["--db", str(db), "suppliers", "match"]) == ""


def test_scale_commands_load_nothing_until_they_run(tmp_path, monkeypatch):
    """Without [scale] redis_url nothing of Redis loads; the scale commands' help loads nothing either."""
    for args in (["worker", "--help"], ["worker", "crawl", "--help"], ["status", "--help"], ["enqueue", "--help"]):
        assert _loaded(args) == ""
    # Set but refused (no password off loopback): still nothing loaded, exit 2.
    monkeypatch.setenv("SUPPLYWATCH_REDIS_URL", "redis://10.9.9.9:6379/0")
    assert _loaded(["status"], code=2) == ""


def test_an_analysts_answer_loads_no_model(tmp_path):
    """`label DOC --yes` updates the incident records at once, without the encoder."""
    db = tmp_path / "s.db"
    from supplywatch.store import Document, FetchOutcome, Store

    with Store.open(db) as store:
        store.sync_sources([{"name": "feed", "kind": "feed", "url": "https://feed.example/rss"}])
        store.save_fetch([Document(source="feed", guid="1", title="Acme says its signing key was stolen",
                                   text="Attackers stole the Acme code-signing key. Acme revoked it.",
                                   url="https://feed.example/1", published="2021-01-12T00:00:00Z")],
                         FetchOutcome("feed", "ok", "2021-01-12T00:00:00Z", "2021-01-12T00:00:00Z"))
    assert _loaded(["--db", str(db), "label", "1", "--yes"]) == ""
