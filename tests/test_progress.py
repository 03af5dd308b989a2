"""Progress of the long stages goes to stderr only: a bar on a terminal, one summary line under cron, nothing with -q.

Real `supplywatch` processes over a real SQLite file (and a real crawl of the local server); the terminal is a
pseudo-terminal from the stdlib `pty` module, so rich sees what a user's terminal would give it.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from supplywatch.progress import Bars, Reporter, Summary, reporter
from supplywatch.store import Document, FetchOutcome, Store
from tests.conftest import static, write_config

ROOT = Path(__file__).resolve().parents[1]
T = "2021-01-12T10:00:00Z"


def _seed(db: Path, n: int = 30) -> None:
    docs = [Document(source="news", guid=f"g{i}", title=f"Acme gateway flaw number {i}", text="Acme fixed it.",
                     url=f"https://news.example/{i}", published=T) for i in range(n)]
    with Store.open(db) as store:
        store.sync_sources([{"name": "news", "kind": "feed", "url": "https://news.example/rss"}])
        store.save_fetch(docs, FetchOutcome("news", "ok", T, T))
    with Store.open(db) as store:
        store.import_suppliers([{"name": "Acme", "aliases": [], "domains": [], "products": [], "tier": "1", "owner": ""}])


def _sw(*args: str, stderr: int | None = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SUPPLYWATCH_QUIET"}
    return subprocess.run([sys.executable, "-m", "supplywatch", *args], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=stderr, text=True, timeout=120, env=env)


def test_not_a_terminal_prints_one_summary_line_on_stderr_and_clean_json_on_stdout(tmp_path):
    db = tmp_path / "s.db"
    _seed(db)
    result = _sw("--db", str(db), "suppliers", "match", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["documents"] == 30  # stdout is the JSON and nothing else
    [line] = result.stderr.splitlines()
    assert re.fullmatch(r"suppliers match: done: 30 documents in \d+\.\d s, \d+\.\d documents/s", line), line


def test_quiet_prints_nothing_on_stderr(tmp_path):
    db = tmp_path / "s.db"
    _seed(db)
    result = _sw("--db", str(db), "-q", "suppliers", "match", "--json")
    assert result.returncode == 0 and result.stderr == ""
    assert json.loads(result.stdout)["documents"] == 30


def test_a_terminal_gets_a_bar_with_the_count_and_stdout_stays_clean(tmp_path):
    db = tmp_path / "s.db"
    _seed(db)
    main, child = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "supplywatch", "--db", str(db), "suppliers", "match", "--json"],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=child, text=True,
                                env={**os.environ, "COLUMNS": "120", "TERM": "xterm"})
        os.close(child)
        out, _ = proc.communicate(timeout=120)
        seen = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the child side is closed and everything has been read
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(main)
    assert proc.returncode == 0
    assert json.loads(out)["documents"] == 30
    screen = seen.decode("utf-8", "replace")
    assert "suppliers match" in screen and "30/30" in screen and "documents/s" in screen
    assert "\x1b[" in screen  # drawn as a terminal bar (cursor and colour codes), not a summary line
    assert "suppliers match: done:" not in screen


def test_crawl_json_stays_clean_while_progress_goes_to_stderr(tmp_path, server):
    items = "".join(f"<item><title>Item {i}</title><link>{server.base}/p/{i}</link><guid>p{i}</guid>"
                    f"<pubDate>Tue, 12 Jan 2021 10:00:00 GMT</pubDate><description>Text {i}.</description></item>"
                    for i in range(3))
    server.routes["/a.xml"] = static(f'<?xml version="1.0"?><rss version="2.0"><channel><title>a</title>{items}'
                                     f"</channel></rss>")
    cfg = write_config(tmp_path / "supplywatch.toml", [{"name": "a", "url": f"{server.base}/a.xml"}], fetch_pages=False)
    result = _sw("--config", str(cfg), "--db", str(tmp_path / "c.db"), "crawl", "--json")
    assert result.returncode == 0, result.stderr
    assert [r["new"] for r in json.loads(result.stdout)] == [3]
    assert result.stderr.startswith("crawl: done: 1 sources in ") and result.stderr.count("\n") == 1


def test_the_reporter_follows_quiet_and_the_stream(tmp_path):
    with open(tmp_path / "log", "w") as log:
        assert type(reporter(quiet=False, stream=log)) is Summary
        assert type(reporter(quiet=True, stream=log)) is Reporter
    main, child = pty.openpty()
    with os.fdopen(child, "w") as tty:
        assert type(reporter(quiet=False, stream=tty)) is Bars
    os.close(main)


def test_a_stage_that_fails_says_how_far_it_got(tmp_path):
    with open(tmp_path / "log", "w+") as log:
        with pytest.raises(KeyboardInterrupt), Summary(log).stage("classify") as tick:
            tick(0, 10)
            tick(4)
            raise KeyboardInterrupt
        log.seek(0)
        assert re.fullmatch(r"classify: stopped after 4 of 10 documents in \d+\.\d s, \d+\.\d documents/s\n", log.read())
