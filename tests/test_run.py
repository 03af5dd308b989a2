"""`supplywatch run` end to end (real crawl of a local site, the real model, clustering, aiosmtpd), its lock, its schedule.

The site has yesterday's news: two outlets covering one certificate theft and one unrelated item,
so the mailed digest must show one story "2 sources", and a second run must send nothing.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from supplywatch import config as configuration
from supplywatch.cli import cli
from supplywatch.lock import exclusive
from supplywatch.pipeline import digest_due
from tests.conftest import static, write_config
from tests.test_mail import SmtpServer, body

ROOT = Path(__file__).resolve().parents[1]


def _yesterday() -> datetime:
    """Yesterday at 10:00 UTC, read when a test builds its site (not at import: a suite that runs across
    midnight would serve the day before the one `run` digests)."""
    return datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0) - timedelta(days=1)

THEFT_A = (
    "Tessaract Mail said attackers stole the certificate its archiving service uses to authenticate to "
    "customers' Microsoft 365 tenants. About one in ten customers use the affected connection. "
    "Customers are asked to delete the existing connection and re-establish it with the new certificate. "
    "The company said it has revoked the stolen certificate and brought in a forensics firm."
)
THEFT_B = (
    "Email security vendor Tessaract Mail has told customers that a sophisticated threat actor compromised the "
    "certificate used by its products to connect to Microsoft 365 Exchange. Customers should delete the "
    "connection and re-create it with the replacement certificate Tessaract Mail issued on Monday."
)
OTHER = ("The town council of Wexbridge approved a new budget for road repairs on Tuesday. "
         "Work starts in the spring and will close two streets for a month.")


def _rss(items: list[tuple[str, str, str]], yesterday: datetime) -> str:
    when = format_datetime(yesterday)
    entries = "".join(
        f"<item><title>{t}</title><link>{{BASE}}/{slug}</link><guid>{slug}</guid><pubDate>{when}</pubDate>"
        f"<description>{text}</description></item>" for slug, t, text in items)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><link>{{BASE}}/</link>{entries}</channel></rss>'


@pytest.fixture
def site(server):
    server.yesterday = yesterday = _yesterday()
    a = _rss([("a/theft", "Tessaract Mail says hackers stole its Microsoft 365 certificate", THEFT_A),
              ("a/budget", "Wexbridge council approves road repair budget", OTHER)], yesterday)
    b = _rss([("b/theft", "Tessaract Mail customers told to re-create 365 connections after certificate compromise",
               THEFT_B)], yesterday)
    server.routes["/a.xml"] = static(a.replace("{BASE}", server.base))
    server.routes["/b.xml"] = static(b.replace("{BASE}", server.base))
    return server


def _config(tmp_path: Path, site, smtp_port: int, **digest: str) -> Path:
    path = write_config(tmp_path / "supplywatch.toml",
                        [{"name": "outlet-a", "url": f"{site.base}/a.xml"}, {"name": "outlet-b", "url": f"{site.base}/b.xml"}],
                        fetch_pages=False, private_allowlist=["127.0.0.1"], autothrottle_start_delay=0.0)
    extra = ["", "[email]", "smtp_host = '127.0.0.1'", f"smtp_port = {smtp_port}", "security = 'none'",
             "from = 'supplywatch <digest@example.com>'", "timeout = 5.0",
             "[[email.recipients]]", "address = 'risk@example.com'", "[digest]"]
    extra += [f"{k} = '{v}'" for k, v in digest.items()]
    path.write_text(path.read_text("utf-8") + "\n".join(extra) + "\n", "utf-8")
    return path


@pytest.mark.slow
def test_run_crawls_classifies_clusters_and_mails_once(tmp_path, site):
    db = str(tmp_path / "run.db")
    with SmtpServer() as smtp:
        cfg = _config(tmp_path, site, smtp.port, out_dir=str(tmp_path / "out"))
        first = CliRunner().invoke(cli, ["--config", str(cfg), "--db", db, "run", "--digest-now"])
        assert first.exit_code == 0, first.output
        assert "3 new documents" in first.output and "2 new stories, 1 joined one" in first.output
        [msg] = smtp.handler.messages()
        text = body(msg)
        assert text.count("\n* Tessaract Mail") == 1  # one story, not two items
        assert "2 sources: outlet-a, outlet-b" in text or "2 sources: outlet-b, outlet-a" in text
        assert "delete the existing connection" in text or "delete the connection" in text
        day = site.yesterday.strftime("%Y-%m-%d")
        assert (tmp_path / "out" / f"digest-{day}.html").is_file()

        again = CliRunner().invoke(cli, ["--config", str(cfg), "--db", db, "run", "--digest-now"])
        assert again.exit_code == 0, again.output
        assert "0 new documents" in again.output and "sent 0, already sent 1" in again.output
        assert len(smtp.handler.messages()) == 1  # never twice


def test_digest_is_not_due_before_send_at_and_due_after():
    cfg = configuration.load(None, env={})
    day, due = digest_due(cfg, datetime(2021, 1, 13, 6, 59, tzinfo=UTC))
    assert (day, due) == ("2021-01-12", False)
    assert digest_due(cfg, datetime(2021, 1, 13, 7, 0, tzinfo=UTC)) == ("2021-01-12", True)


def test_a_second_run_while_one_holds_the_lock_exits_75_and_does_nothing(tmp_path):
    db = str(tmp_path / "run.db")
    cfg = tmp_path / "supplywatch.toml"
    cfg.write_text("[digest]\nsend_at = '07:00'\n", "utf-8")
    with exclusive(db):
        result = CliRunner().invoke(cli, ["--config", str(cfg), "--db", db, "run"])
    assert result.exit_code == 75
    assert result.stderr.startswith("Error: another supplywatch run is in progress") and result.stderr.count("\n") == 1
    assert not Path(db).exists()  # it did nothing: not even create the database
    # Released with the block: the next holder gets it at once.
    with exclusive(db):
        pass


def test_a_crashed_run_leaves_no_stale_lock(tmp_path):
    db = str(tmp_path / "run.db")
    code = f"from supplywatch.lock import exclusive\nimport os\nwith exclusive({db!r}):\n    os._exit(9)\n"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 9
    with exclusive(db):  # the kernel dropped the dead process's lock
        pass


def test_bad_send_at_is_a_config_error(tmp_path):
    cfg = tmp_path / "supplywatch.toml"
    cfg.write_text("[digest]\nsend_at = '7am'\n", "utf-8")
    result = CliRunner().invoke(cli, ["--config", str(cfg), "run"])
    assert result.exit_code == 2 and "send_at must be HH:MM" in result.stderr


def test_scheduler_cron_runs_valid_commands_with_a_path_and_a_log():
    lines = [line for line in (ROOT / "scheduler.cron").read_text("utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    env = dict(line.split("=", 1) for line in lines if "=" in line.split()[0])
    assert ".venv/bin" in env["PATH"] and env["SHELL"] == "/bin/bash"
    jobs = [line.split(None, 5) for line in lines if "=" not in line.split()[0]]
    assert [job[:5] for job in jobs] == [["5", "*", "*", "*", "*"], ["0", "7", "*", "*", "*"]]
    for *_, command in jobs:
        words = shlex.split(command.split(">>")[0])
        assert words[0] == "supplywatch" and ">> /var/log/supplywatch/" in command and command.endswith("2>&1")
        # The arguments parse as a real invocation of the CLI (an unknown option would exit 2).
        assert words[1] == "run"
        cli.commands["run"].make_context("run", words[2:])
