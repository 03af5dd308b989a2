"""Mailing the digest through a real SMTP server (aiosmtpd on 127.0.0.1), send-then-mark, hostile headers.

The store is seeded as tests/test_digest.py seeds it; every message the server receives is parsed
back with the standard library and checked. Nothing here mocks smtplib.
"""

from __future__ import annotations

import email
import socket
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from click.testing import CliRunner

from supplywatch import config as configuration
from supplywatch.cli import cli
from supplywatch.reports import mail
from supplywatch.reports.digest import HEADLINE, build_digest
from supplywatch.store import ConfigError, Document, FetchOutcome, InputError, Label, Store
from tests.test_digest import DAY, T, seed
from tests.test_lazy_imports import _loaded

SENDER = "sw@example.com"
HOSTILE_TITLE = ("Evil\u2028Bcc: evil@example.com =?utf-8?q?x=0D=0ABcc:_evil@example.com?= "
                 "<script>alert(1)</script> certificate stolen")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Recorder:
    """An aiosmtpd handler that keeps what it accepts, refuses some addresses, or drops the connection after DATA."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.encrypted: list[bool] = []  # per accepted message: did it travel over TLS
        self.refuse: set[str] = set()
        self.drop = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.drop:
            # The whole message has arrived; the connection dies before the server says 250.
            server.transport.close()
            return "250 never seen by the client"
        self.envelopes.append(envelope)
        self.encrypted.append(session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(e.original_content, policy=policy.default) for e in self.envelopes]


class SmtpServer:
    def __init__(self, port: int | None = None, **kwargs: Any) -> None:
        self.port = port or free_port()
        self.handler = Recorder()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def db(tmp_path: Path) -> str:
    """test_digest's day, plus a story with a hostile title and a day with documents but nothing flagged."""
    path = str(tmp_path / "mail.db")
    seed(path)
    with Store.open(path) as store:
        store.sync_sources([{"name": "evil", "kind": "feed", "url": "https://evil.example/feed"}])
        store.save_fetch([
            Document(source="evil", guid="evil", title=HOSTILE_TITLE, text="Customers should panic.",
                     url="https://evil.example/a", published=f"{DAY}T16:00:00Z"),
            Document(source="evil", guid="quiet", title="A quiet day", text="Nothing happened.",
                     url="https://evil.example/quiet", published="2021-01-14T10:00:00Z"),
        ], FetchOutcome("evil", "ok", T, T))
        ids = dict(store.db.execute("select guid, id from documents where source = 'evil'").fetchall())
        store.save_labels([(ids["evil"], [(Label(HEADLINE, 0.99, "stolen"), True)]), (ids["quiet"], [])], "test-v1", T)
    return path


def write_config(tmp_path: Path, port: int, recipients: list[dict[str, Any]] | None = None, **email_opts: Any) -> Path:
    opts = {"smtp_host": "127.0.0.1", "smtp_port": port, "security": "none", "from": f"Supply Watch <{SENDER}>",
            "timeout": 5.0, **email_opts}
    lines = ["[email]"] + [f"{k} = {_toml(v)}" for k, v in opts.items()]
    for rcpt in recipients if recipients is not None else [{"address": "alice@example.com"}]:
        lines.append("[[email.recipients]]")
        lines += [f"{k} = {_toml(v)}" for k, v in rcpt.items()]
    path = tmp_path / "supplywatch.toml"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _toml(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, str):
        return "'" + value + "'"  # literal strings: no escapes to worry about
    return repr(value)


def send(cfg: Path, db: str, *args: str, env: dict[str, str] | None = None, day: str = DAY):
    return CliRunner().invoke(cli, ["--config", str(cfg), "--db", db, "digest", "--date", day, "--send", *args],
                              env=env)


def rows(db: str) -> dict[str, dict[str, Any]]:
    with Store.open(db) as store:
        return {r["recipient"]: r for r in store.deliveries(DAY)}


def body(msg: EmailMessage, kind: str = "plain") -> str:
    """The text/plain (or text/html) part, decoded, with the wire's CRLF line ends as LF."""
    return msg.get_body((kind,)).get_content().replace("\r\n", "\n")


def one_line_error(result) -> str:
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    return result.stderr


# -- delivery ----------------------------------------------------------------------------


def test_delivered_parsed_back_and_marked_sent(tmp_path, db, smtp):
    result = send(write_config(tmp_path, smtp.port), db)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["alice@example.com: sent", f"Digest of {DAY}: 1 sent, 0 already sent."]
    (envelope,) = smtp.handler.envelopes
    assert envelope.mail_from == SENDER and envelope.rcpt_tos == ["alice@example.com"]
    assert smtp.handler.encrypted == [False]  # security = "none" in these tests
    (msg,) = smtp.handler.messages()
    assert msg.get_content_type() == "multipart/alternative"
    text, html = msg.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert text.get_content_charset() == html.get_content_charset() == "utf-8"
    assert msg["From"] == f"Supply Watch <{SENDER}>" and msg["To"] == "alice@example.com"
    assert msg["Subject"] == f"supplywatch digest {DAY}: 5 stories"
    assert msg["Date"] and msg["Date"].datetime is not None
    assert msg["List-Id"] == "supplywatch daily digest <digest.supplywatch.local>"
    assert msg["Auto-Submitted"] == "auto-generated" and msg["X-Supplywatch-Day"] == DAY
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith("@example.com>")
    assert body(msg).startswith(f"supplywatch digest for {DAY}\n")
    page = body(msg, "html")
    assert "Quillmail Microsoft 365 certificate compromised" in page
    assert "Customers who use the connection are asked to delete" in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    row = rows(db)["alice@example.com"]
    assert row["status"] == "sent" and row["message_id"] == msg["Message-ID"] and row["attempts"] == 1
    assert row["sent_at"] and row["last_error"] is None


def test_second_run_skips_and_force_sends_again(tmp_path, db, smtp):
    cfg = write_config(tmp_path, smtp.port)
    assert send(cfg, db).exit_code == 0
    again = send(cfg, db)
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[0] == "alice@example.com: already sent, skipped (--force sends it again)"
    assert len(smtp.handler.envelopes) == 1  # never twice
    forced = send(cfg, db, "--force")
    assert forced.exit_code == 0 and forced.stdout.splitlines()[0] == "alice@example.com: sent"
    first, second = smtp.handler.messages()
    # A deliberate re-send is a new message: mail systems drop a Message-ID they have already seen.
    assert first["Message-ID"] != second["Message-ID"]
    row = rows(db)["alice@example.com"]
    assert row["status"] == "sent" and row["attempts"] == 2 and row["message_id"] == second["Message-ID"]


def test_server_down_then_retry_reuses_the_message_id(tmp_path, db):
    port = free_port()  # nothing listens here yet
    cfg = write_config(tmp_path, port)
    down = send(cfg, db)
    assert down.exit_code == 5
    assert f"alice@example.com: failed: cannot connect to 127.0.0.1:{port}: connection refused" in down.stdout
    assert "1 of 1 deliveries" in one_line_error(down)
    failed = rows(db)["alice@example.com"]
    assert failed["status"] == "failed" and "connection refused" in failed["last_error"] and failed["sent_at"] is None
    with SmtpServer(port) as server:
        up = send(cfg, db)
    assert up.exit_code == 0, up.output
    (msg,) = server.handler.messages()
    assert msg["Message-ID"] == failed["message_id"]
    row = rows(db)["alice@example.com"]
    assert row["status"] == "sent" and row["attempts"] == 2 and row["message_id"] == failed["message_id"]


def test_connection_dropped_after_data_is_not_marked_sent(tmp_path, db, smtp):
    cfg = write_config(tmp_path, smtp.port)
    smtp.handler.drop = True
    dropped = send(cfg, db)
    assert dropped.exit_code == 5
    # The whole message was handed over and no reply came: it may have arrived, so it is "uncertain"
    # (retried once under the same Message-ID), not a clean failure (issue 12).
    assert "closed the connection before confirming after the whole message was sent" in dropped.stdout
    one_line_error(dropped)
    assert smtp.handler.envelopes == []
    failed = rows(db)["alice@example.com"]
    assert failed["status"] == "uncertain" and failed["unconfirmed"] == 1 and failed["sent_at"] is None
    smtp.handler.drop = False
    assert send(cfg, db).exit_code == 0
    (msg,) = smtp.handler.messages()
    assert msg["Message-ID"] == failed["message_id"] and rows(db)["alice@example.com"]["status"] == "sent"


def test_one_refused_recipient_the_others_delivered(tmp_path, db, smtp):
    addresses = ["alice@example.com", "bob@example.com", "carol@example.com"]
    cfg = write_config(tmp_path, smtp.port, [{"address": a} for a in addresses])
    smtp.handler.refuse = {"bob@example.com"}
    result = send(cfg, db)
    assert result.exit_code == 5
    lines = result.stdout.splitlines()
    assert lines[0] == "alice@example.com: sent" and lines[2] == "carol@example.com: sent"
    assert lines[1].startswith("bob@example.com: refused: refused by 127.0.0.1:") and "550 5.1.1" in lines[1]
    error = one_line_error(result)
    assert "1 of 3 deliveries" in error and "bob@example.com" in error and "alice" not in error
    assert [e.rcpt_tos for e in smtp.handler.envelopes] == [["alice@example.com"], ["carol@example.com"]]
    state = {r: row["status"] for r, row in rows(db).items()}
    assert state == {"alice@example.com": "sent", "bob@example.com": "failed", "carol@example.com": "sent"}
    smtp.handler.refuse = set()
    retry = send(cfg, db)
    assert retry.exit_code == 0, retry.output
    assert [line.split(": ", 1)[1] for line in retry.stdout.splitlines()[:3]] == [
        "already sent, skipped (--force sends it again)", "sent", "already sent, skipped (--force sends it again)"]
    assert len(smtp.handler.envelopes) == 3


def test_authentication_refused_once_for_all_recipients(tmp_path, db):
    attempts = []

    def reject(server, session, envelope, mechanism, auth_data):
        attempts.append((session.peer, auth_data.login))  # smtplib tries PLAIN, then LOGIN, on one connection
        return AuthResult(success=False, handled=False)

    with SmtpServer(auth_require_tls=False, authenticator=reject) as server:
        cfg = write_config(tmp_path, server.port, [{"address": "alice@example.com"}, {"address": "bob@example.com"}],
                           username_env="SW_SMTP_USER", password_env="SW_SMTP_PASSWORD")
        result = send(cfg, db, env={"SW_SMTP_USER": "digest", "SW_SMTP_PASSWORD": "wrong"})
    assert result.exit_code == 5
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and all("refused the login of user 'digest': 535" in line for line in lines)
    assert "wrong" not in result.output  # never the password
    assert "2 of 2 deliveries" in one_line_error(result)
    # One refused login is not retried for the next recipient: no hammering, no account lock-out.
    assert {peer for peer, _ in attempts} == {attempts[0][0]} and {login for _, login in attempts} == {b"digest"}
    assert server.handler.envelopes == []
    assert {row["status"] for row in rows(db).values()} == {"failed"} and len(rows(db)) == 2


def test_missing_credentials_variable_is_a_config_error_before_anything(tmp_path, db, smtp):
    cfg = write_config(tmp_path, smtp.port, username_env="SW_SMTP_USER", password_env="SW_SMTP_PASSWORD")
    result = send(cfg, db, env={"SW_SMTP_USER": "digest", "SW_SMTP_PASSWORD": None})
    assert result.exit_code == 2
    assert "SW_SMTP_PASSWORD" in one_line_error(result)
    assert rows(db) == {} and smtp.handler.envelopes == []


def test_silent_server_times_out(tmp_path, db):
    with socket.socket() as listener:  # accepts the TCP connection, never greets
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        cfg = write_config(tmp_path, listener.getsockname()[1], timeout=0.5)
        result = send(cfg, db)
    assert result.exit_code == 5
    assert "did not answer within 0.5 s" in result.stdout
    one_line_error(result)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (PEM files)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


def _server_context(certificate: tuple[Path, Path]):
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_with_a_trusted_and_an_untrusted_certificate(tmp_path, db, certificate, monkeypatch, security):
    kwargs = ({"tls_context": _server_context(certificate), "require_starttls": True} if security == "starttls"
              else {"ssl_context": _server_context(certificate)})
    with SmtpServer(**kwargs) as server:
        cfg = write_config(tmp_path, server.port, security=security)
        untrusted = send(cfg, db)
        assert untrusted.exit_code == 5
        assert f"127.0.0.1:{server.port}: TLS certificate not trusted" in untrusted.stdout
        assert server.handler.envelopes == []
        # ssl.create_default_context() reads $SSL_CERT_FILE: trust our certificate, as a system CA store would.
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
        trusted = send(cfg, db)
    assert trusted.exit_code == 0, trusted.output
    assert server.handler.encrypted == [True] and rows(db)["alice@example.com"]["status"] == "sent"


def test_starttls_required_but_not_offered(tmp_path, db, smtp):
    result = send(write_config(tmp_path, smtp.port, security="starttls"), db)
    assert result.exit_code == 5 and "does not offer STARTTLS" in result.stdout
    assert smtp.handler.envelopes == []


def test_hostile_headers_never_add_a_header(tmp_path, db, smtp):
    cfg = write_config(tmp_path, smtp.port, subject="{top} [{count}]",
                       list_id="=?utf-8?q?x=0D=0AX-Evil:_1?= <digest.example.com>")
    result = send(cfg, db, "--to", "bob@example.com")
    assert result.exit_code == 0, result.output
    (envelope,) = smtp.handler.envelopes
    assert envelope.rcpt_tos == ["bob@example.com"]
    (msg,) = smtp.handler.messages()
    assert sorted(msg.keys()) == sorted(["From", "To", "Subject", "Date", "Message-ID", "List-Id", "Auto-Submitted",
                                         "X-Supplywatch-Day", "MIME-Version", "Content-Type"])
    assert msg.get_all("Bcc") is None and msg.get_all("X-Evil") is None
    subject = msg["Subject"]
    assert "\n" not in subject and "\r" not in subject and "\u2028" not in subject
    assert subject.startswith("Evil Bcc: evil@example.com x Bcc: evil@example.com <script>") and subject.endswith("[5]")
    raw = envelope.original_content
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert not any(line.lower().startswith((b"bcc:", b"x-evil:")) for line in head.split(b"\r\n"))
    assert "<script>" not in body(msg, "html")


# -- what is sent, and when --------------------------------------------------------------


def test_per_recipient_filters(tmp_path, db, smtp):
    cfg = write_config(tmp_path, smtp.port, [{"address": "vuln@example.com", "labels": ["vulnerability"]},
                                             {"address": "high@example.com", "min_score": 0.9,
                                              "suppliers": ["Acme"]}])
    assert send(cfg, db).exit_code == 0
    vuln, high = smtp.handler.messages()
    text = body(vuln)
    assert "VULNERABILITIES (1)" in text and "Quillmail" not in text and "MALWARE" not in text
    assert vuln["Subject"] == f"supplywatch digest {DAY}: 1 story"  # never "1 stories"
    text = body(high)
    assert "Evil" in text and "Quillmail" in text and "ACME-2021-003" in text  # 0.99, 0.97 and 0.93
    assert "Kestrel" not in text and "Brightmart" not in text  # 0.83, 0.79


def test_day_without_documents_is_refused_unless_forced(tmp_path, db, smtp):
    cfg = write_config(tmp_path, smtp.port)
    refused = send(cfg, db, day="2021-01-20")
    assert refused.exit_code == 5
    assert "no documents stored for 2021-01-20: the crawl may not have run" in one_line_error(refused)
    assert smtp.handler.envelopes == []
    forced = send(cfg, db, "--force", day="2021-01-20")
    assert forced.exit_code == 0, forced.output
    (msg,) = smtp.handler.messages()
    assert body(msg).startswith("No new items for 2021-01-20.")


def test_day_with_nothing_flagged_sends_the_one_line_digest(tmp_path, db, smtp):
    result = send(write_config(tmp_path, smtp.port), db, day="2021-01-14")
    assert result.exit_code == 0, result.output
    (msg,) = smtp.handler.messages()
    assert msg["Subject"] == "supplywatch digest 2021-01-14: 0 stories"
    assert body(msg).splitlines()[0] == "No new items for 2021-01-14."


def test_out_writes_the_message_as_it_would_be_sent(tmp_path, db, smtp):
    cfg = write_config(tmp_path, smtp.port)
    out = tmp_path / "out"
    args = ["--config", str(cfg), "--db", db, "digest", "--date", DAY, "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == str(out / f"digest-{DAY}.eml")
    preview = email.message_from_bytes((out / f"digest-{DAY}.eml").read_bytes(), policy=policy.default)
    assert preview["To"] == "alice@example.com" and preview["Message-ID"]
    assert [p.get_content_type() for p in preview.iter_parts()] == ["text/plain", "text/html"]
    assert smtp.handler.envelopes == [] and rows(db) == {}  # a preview sends and marks nothing
    assert send(cfg, db).exit_code == 0
    CliRunner().invoke(cli, args)
    again = email.message_from_bytes((out / f"digest-{DAY}.eml").read_bytes(), policy=policy.default)
    assert again["Message-ID"] == rows(db)["alice@example.com"]["message_id"]  # the delivery's own


def test_out_without_configuration_uses_placeholders(tmp_path, db):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "none.toml"), "--db", db, "digest", "--date", DAY,
                                      "--out", str(out)])
    assert result.exit_code == 2 and "no such configuration file" in result.output  # an explicit file must exist
    (tmp_path / "empty.toml").write_text("")
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "empty.toml"), "--db", db, "digest", "--date", DAY,
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    preview = email.message_from_bytes((out / f"digest-{DAY}.eml").read_bytes(), policy=policy.default)
    assert preview["To"] == mail.PLACEHOLDER_TO and preview["From"] == mail.PLACEHOLDER_FROM
    assert preview["Message-ID"].endswith("@localhost>")


@pytest.mark.parametrize("args,needle", [
    (["--to", "a@example.com"], "--to and --force go with --send"),
    (["--force"], "--to and --force go with --send"),
    (["--send", "--to", "not an address"], "--to:"),
    (["--send", "--to", "a@example.com\r\nBcc: evil@example.com"], "--to:"),
])
def test_bad_options_are_usage_errors(tmp_path, db, args, needle):
    cfg = write_config(tmp_path, free_port())
    result = CliRunner().invoke(cli, ["--config", str(cfg), "--db", db, "digest", "--date", DAY, *args])
    assert result.exit_code == 2, result.output
    assert needle in one_line_error(result)


def test_no_recipients_and_no_sender(tmp_path, db):
    result = send(write_config(tmp_path, free_port(), recipients=[]), db)
    assert result.exit_code == 2 and "no recipients" in one_line_error(result)
    result = send(write_config(tmp_path, free_port(), **{"from": ""}), db)
    assert result.exit_code == 2 and "[email] from is not set" in one_line_error(result)
    assert rows(db) == {}


def test_digest_out_loads_nothing_heavy(db, tmp_path):
    assert _loaded(["--db", db, "digest", "--date", DAY, "--out", str(tmp_path / "o")]) == ""


# -- the parts ---------------------------------------------------------------------------


@pytest.mark.parametrize("value,expected", [
    ("plain subject", "plain subject"),
    ("a\r\nBcc: evil@example.com", "a Bcc: evil@example.com"),
    ("a\nb\rc", "a b c"),
    ("a\u2028b\u2029c\x85d", "a b c d"),
    ("tab\tand\x00nul\x1b[31m and \x7f", "tab and nul [31m and"),
    ("  many    spaces  ", "many spaces"),
    ("=?utf-8?q?x=0D=0ABcc:_evil@example.com?=", "x Bcc: evil@example.com"),
    ("=?UTF-8?B?eA0KQmNjOiBldmlsQGV4YW1wbGUuY29t?=", "x Bcc: evil@example.com"),
    # An encoded word whose decoding is another encoded word hiding a line break.
    ("=?utf-8?q?=3D=3Futf-8=3Fq=3Fa=3D0D=3D0ABcc:=5Fe=3F=3D?=", "a Bcc: e"),
    ("=?bogus-charset?q?a=0D=0Ab?=", "a b"),
    ("=?utf-8*en?q?a=0D=0Ab?=", "a b"),
    ("=?utf-8?b?!!!?=", ""),
    ("=?utf-8?x?abc?= and a=?b", "= ?utf-8?x?abc?= and a= ?b"),
    ("caf=?utf-8?q?=C3=A9?=", "café"),
    ("right\u202eto left \u200bzero", "right to left zero"),
    ("lone \ud800 surrogate", "lone surrogate"),
    (None, ""),
])
def test_sanitize_header(value, expected):
    assert mail.sanitize_header(value) == expected


def test_sanitized_values_survive_the_mail_policy():
    for value in ["=?utf-8?q?x=0D=0ABcc:_evil@example.com?=", "=?utf-8?x?a=0D=0Ab?=", "ünïcödé\u2028line", "a" * 500]:
        msg = EmailMessage(policy=policy.SMTP)
        msg["Subject"] = mail.sanitize_header(value)
        parsed = email.message_from_bytes(msg.as_bytes(), policy=policy.default)
        assert list(parsed.keys()) == ["Subject"]
        assert "\n" not in parsed["Subject"] and len(parsed["Subject"]) <= mail.HEADER_LIMIT


def test_filter_digest_copies_filters_and_recounts(db):
    with Store.open(db) as store:
        full = build_digest(store, DAY, topic_limit=mail.UNCUT)
    before = [len(s.items) for s in [full.headline, *full.topics]]
    only = mail.filter_digest(full, labels=["malware", HEADLINE])
    assert [s.label for s in only.sections] == [HEADLINE, "malware"]
    high = mail.filter_digest(full, min_score=0.9)
    assert [(s.label, s.total, len(s.items)) for s in high.sections] == [(HEADLINE, 2, 2), ("vulnerability", 1, 1)]
    assert mail.story_count(high) == 3 and mail.story_count(full) == 5
    assert mail.filter_digest(full, min_score=1.0).empty
    assert [len(s.items) for s in [full.headline, *full.topics]] == before  # the original is untouched


def test_filter_digest_cuts_topics_after_filtering(tmp_path):
    path = str(tmp_path / "many.db")
    with Store.open(path) as store:
        store.sync_sources([{"name": "s", "kind": "feed", "url": "https://s.example/feed"}])
        store.save_fetch([Document(source="s", guid=str(i), title=f"Bug {i:02d}", text="", url=f"https://s.example/{i}",
                                   published=f"{DAY}T01:00:00Z") for i in range(13)], FetchOutcome("s", "ok", T, T))
        store.save_labels([(i + 1, [(Label("vulnerability", 0.5 + i / 100), True)]) for i in range(13)], "v", T)
        full = build_digest(store, DAY, topic_limit=mail.UNCUT)
    section = mail.filter_digest(full).topics[0]
    assert (len(section.items), section.total, section.more) == (10, 13, 3)
    section = mail.filter_digest(full, min_score=0.55).topics[0]
    assert (len(section.items), section.total, section.more) == (8, 8, 0)


def test_store_deliveries(tmp_path):
    with Store.open(tmp_path / "d.db") as store:
        assert store.delivery(DAY, "a@example.com") is None
        assert store.start_delivery(DAY, "a@example.com", "<1@x>", now="t1") == "<1@x>"
        store.mark_failed(DAY, "a@example.com", "boom")
        assert store.start_delivery(DAY, "a@example.com", "<2@x>", now="t2") == "<1@x>"  # a retry keeps it
        store.mark_sent(DAY, "a@example.com", now="t3")
        row = store.delivery(DAY, "a@example.com")
        assert (row["status"], row["attempts"], row["first_attempt"], row["last_attempt"], row["sent_at"],
                row["last_error"]) == ("sent", 2, "t1", "t2", "t3", None)
        assert store.start_delivery(DAY, "a@example.com", "<3@x>", renew=True) == "<3@x>"
        assert [r["status"] for r in store.deliveries()] == ["pending"] and store.deliveries("2021-01-13") == []
        with pytest.raises(InputError):
            store.mark_sent(DAY, "never@example.com")
        with pytest.raises(InputError):
            store.delivery("yesterday", "a@example.com")
        assert store.count_day_documents(DAY) == 0


# -- configuration -----------------------------------------------------------------------


def test_email_configuration_defaults_file_and_environment(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[email]\nfrom = "Risk Team <risk@example.com>"\nsecurity = "ssl"\n'
                    '[[email.recipients]]\naddress = "a@example.com"\nlabels = ["malware"]\nmin_score = 1\n'
                    'suppliers = ["Acme"]\n')
    cfg = configuration.load(path, env={"SUPPLYWATCH_EMAIL_SMTP_HOST": "mail.example.com",
                                        "SUPPLYWATCH_EMAIL_SMTP_PORT": "2525"})
    assert cfg.email["smtp_host"] == "mail.example.com" and cfg.email["smtp_port"] == 2525
    assert cfg.email["security"] == "ssl" and cfg.email["from"] == "Risk Team <risk@example.com>"
    assert cfg.email["subject"] == "supplywatch digest {day}: {stories}" and cfg.email["timeout"] == 30.0
    assert cfg.email["recipients"] == [{"address": "a@example.com", "labels": ["malware"], "min_score": 1.0,
                                        "suppliers": ["Acme"]}]
    (tmp_path / "empty.toml").write_text("")
    assert configuration.load(tmp_path / "empty.toml", env={}).email["recipients"] == []
    settings = mail.SmtpSettings.from_config(cfg.email, {})
    assert settings.port == 2525 and settings.username == ""
    assert mail.SmtpSettings.from_config({**cfg.email, "smtp_port": 0}, {}).port == 465


@pytest.mark.parametrize("text,needle", [
    ('[email]\nsecurity = "tls"', "security must be one of starttls, ssl, none"),
    ('[email]\nsmtp_port = 70000', "smtp_port must be within 0..65535"),
    ('[email]\nsmtp_port = "25"', "smtp_port must be an integer"),
    ('[email]\nsmtp_host = "mail example"', "smtp_host must be a host name"),
    ('[email]\npassword = "hunter2"', "unknown key 'password'"),
    ('[email]\nusername_env = "SMTP_USER"', "username_env and password_env go together"),
    ('[email]\nusername_env = "smtp user"\npassword_env = "P"', "must be the NAME of an environment variable"),
    ('[email]\nfrom = "not an address"', "from:"),
    ('[email]\nsubject = "{day} {title}"', "unknown placeholder {title}"),
    ('[email]\nsubject = "{day.__class__}"', "unknown placeholder"),
    ('[email]\nsubject = "{day"', "bad template"),
    ('[email]\nlist_id = "a\\nb"', "list_id must be one line"),
    ('[email]\ntimeout = 0', "timeout must be more than 0"),
    ('[email]\nrecipients = "a@example.com"', "recipients must be an array of tables"),
    ('[[email.recipients]]\nlabels = ["malware"]', "#1: missing address"),
    ('[[email.recipients]]\naddress = "Alice <a@example.com>"', "expected a bare address"),
    ('[[email.recipients]]\naddress = "a@example.com, b@example.com"', "is not a mail address"),
    ('[[email.recipients]]\naddress = "nobody"', "is not a mail address"),
    ('[[email.recipients]]\naddress = "a@example.com"\nlabels = ["ransomware"]', "unknown label 'ransomware'"),
    ('[[email.recipients]]\naddress = "a@example.com"\nmin_score = 1.5', "min_score must be a number within 0..1"),
    ('[[email.recipients]]\naddress = "a@example.com"\nsuppliers = "Acme"', "suppliers must be a list"),
    ('[[email.recipients]]\naddress = "a@example.com"\ncc = "b@example.com"', "unknown key(s) cc"),
    ('[[email.recipients]]\naddress = "a@example.com"\n[[email.recipients]]\naddress = "A@example.com"',
     "listed twice"),
])
def test_bad_email_configuration(tmp_path, text, needle):
    path = tmp_path / "supplywatch.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(ConfigError) as err:
        configuration.load(path, env={})
    assert needle in str(err.value) and str(path) in str(err.value)


def test_check_address():
    assert configuration.check_address(" a@example.com ") == "a@example.com"
    assert configuration.check_address('"Risk, Team" <r@example.com>', allow_name=True) == '"Risk, Team" <r@example.com>'
    for bad in ["", "a", "a@", "@b", "a@b\r\nBcc: c@d", "ä@example.com", "<a@example.com>"]:
        with pytest.raises(ValueError):
            configuration.check_address(bad)
