"""Heavy libraries stay unloaded where they are not needed: --help and search never import them."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("scrapy", "twisted.internet.reactor", "trafilatura", "torch", "transformers", "feedparser", "datasette", "uvicorn",
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
