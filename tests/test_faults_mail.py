"""Fault injection against a real, misbehaving SMTP server on 127.0.0.1 (issue 12, items 3 and 4).

The server is a raw socket server we control line by line: it can sit on the reply to DATA for a
while, or never send it. Every wait is bounded (socket and subprocess timeouts).
"""

from __future__ import annotations

import socket
import threading
import time
from email import message_from_bytes, policy

import pytest

from supplywatch import config as configuration
from supplywatch.pipeline import make_pipeline
from supplywatch.store import DeliveryError

from . import test_mail
from .test_faults import cli, finish
from .test_mail import DAY, rows, send, write_config


@pytest.fixture
def db(tmp_path) -> str:
    """test_mail's archive: a day with flagged stories to mail."""
    path = str(tmp_path / "mail.db")
    test_mail.seed(path)
    return path


TWO = [{"address": "alice@example.com"}, {"address": "bob@example.com"}]


class SlowSmtp:
    """A minimal SMTP server: answers everything at once except the end of DATA.

    ``reply_after``: seconds before the final 250 (None: never; the connection is held until the
    client gives up). ``messages``: every message received in full, whatever was answered.
    """

    def __init__(self, reply_after: float | None = 0.0):
        self.reply_after = reply_after
        self.messages: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> SlowSmtp:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.sock.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            thread = threading.Thread(target=self._session, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _session(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        with conn, conn.makefile("rb") as lines:
            try:
                conn.sendall(b"220 slow.test ESMTP\r\n")
                while not self._stop.is_set():
                    line = lines.readline()
                    if not line:
                        return
                    verb = line[:4].upper()
                    if verb == b"EHLO":
                        conn.sendall(b"250-slow.test\r\n250 8BITMIME\r\n")
                    elif verb == b"DATA":
                        conn.sendall(b"354 go ahead\r\n")
                        data = b""
                        while (chunk := lines.readline()) not in (b".\r\n", b""):
                            data += chunk
                        self.messages.append(data)
                        if self.reply_after is None:
                            while lines.readline():  # hold on until the client hangs up
                                pass
                            return
                        time.sleep(self.reply_after)
                        conn.sendall(b"250 queued\r\n")
                    elif verb == b"QUIT":
                        conn.sendall(b"221 bye\r\n")
                        return
                    else:
                        conn.sendall(b"250 ok\r\n")
            except OSError:
                return

    def copies(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for data in self.messages:
            to = message_from_bytes(data, policy=policy.SMTP)["To"]
            out[to] = out.get(to, 0) + 1
        return out


# -- 3. a slow or flaky SMTP server never multiplies mail ------------------------------------------------


def test_a_reply_slower_than_the_timeout_is_waited_for_and_mailed_once(tmp_path, db):
    with SlowSmtp(reply_after=1.5) as server:
        cfg = write_config(tmp_path, server.port, timeout=0.5, data_timeout=10.0)
        result = send(cfg, db)
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("alice@example.com: sent\n")
        assert send(cfg, db).stdout.startswith("alice@example.com: already sent")
    assert server.copies() == {"alice@example.com": 1}


def test_a_lost_reply_is_uncertain_and_retried_once_never_twice(tmp_path, db):
    with SlowSmtp(reply_after=None) as server:
        cfg = write_config(tmp_path, server.port, timeout=5.0, data_timeout=0.5)
        first = send(cfg, db)
        assert first.exit_code == 5 and "alice@example.com: uncertain: " in first.stdout
        assert "did not confirm within 0.5 s after the whole message was sent: it may have been delivered" in first.stdout
        row = rows(db)["alice@example.com"]
        assert row["status"] == "uncertain" and row["unconfirmed"] == 1
        assert send(cfg, db).exit_code == 5  # the one retry
        third = send(cfg, db)  # every later run: no third copy
        assert third.exit_code == 5
        assert "alice@example.com: held: not retried: handed to the server 2 times without a reply" in third.stdout
    assert server.copies() == {"alice@example.com": 2}
    ids = {message_from_bytes(m, policy=policy.SMTP)["Message-ID"] for m in server.messages}
    assert len(ids) == 1  # both copies carry one Message-ID, so a mail system can tell they are one message


def test_unattended_retries_back_off_and_stop_at_the_cap(tmp_path, db):
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: every attempt is a clean failure
    cfg = configuration.load(write_config(tmp_path, port, timeout=2.0, retry_backoff=3600.0, max_attempts=2))
    with make_pipeline(cfg, db) as pipeline:
        with pytest.raises(DeliveryError, match="connection refused"):
            pipeline.send_digest(DAY, unattended=True)
        again = pipeline.send_digest(DAY, unattended=True)  # the next hourly run, within the back-off
        assert again["results"][0]["status"] == "deferred"
        assert again["results"][0]["error"].startswith("next attempt not before ")
        with pipeline.store._atomic():  # an hour later
            pipeline.store.db.execute("update deliveries set last_attempt = '2000-01-01T00:00:00Z'")
        with pytest.raises(DeliveryError):
            pipeline.send_digest(DAY, unattended=True)
        with pipeline.store._atomic():
            pipeline.store.db.execute("update deliveries set last_attempt = '2000-01-01T00:00:00Z'")
        with pytest.raises(DeliveryError, match="gave up after 2 attempts"):
            pipeline.send_digest(DAY, unattended=True)
    assert rows(db)["alice@example.com"]["attempts"] == 2


# -- 4. concurrent senders send once --------------------------------------------------------------------------


def test_two_senders_at_once_deliver_one_copy_each(tmp_path, db):
    with SlowSmtp(reply_after=1.0) as server:
        cfg = write_config(tmp_path, server.port, TWO, timeout=5.0)
        args = ("--config", str(cfg), "--db", db, "digest", "--date", DAY, "--send")
        procs = [cli(*args), cli(*args)]
        outs: list[tuple[int, str, str]] = [finish(p, 60) for p in procs]
    assert server.copies() == {"alice@example.com": 1, "bob@example.com": 1}, outs
    assert all(code == 0 for code, _, _ in outs), outs
    lines = sorted(line for _, out, _ in outs for line in out.splitlines() if "@" in line)
    sent = [line for line in lines if line.endswith(": sent")]
    assert len(sent) == 2, lines  # each recipient sent by exactly one of the two
    assert all(r["status"] == "sent" for r in rows(db).values())


