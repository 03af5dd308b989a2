"""Mailing the daily digest: SMTP and send-then-mark.

Delivery state lives in the store (``claim_delivery``, ``mark_sent``, ``mark_failed``, ``mark_uncertain``): a
recipient is marked sent only once the server has accepted the message, a failure is recorded and the other
recipients go on, and a retry reuses the Message-ID. The message itself is built by :mod:`reports.message`
(re-exported here). ``smtplib`` and ``ssl`` are imported only when something is sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from supplywatch.store.errors import ConfigError

from .digest import Digest
from .message import (  # noqa: F401 (the message half, re-exported: callers use mail.Recipient, mail.UNCUT, ...)
    HEADER_LIMIT,
    PLACEHOLDER_FROM,
    PLACEHOLDER_TO,
    UNCUT,
    Recipient,
    build_message,
    filter_digest,
    for_recipient,
    new_message_id,
    plural,
    sanitize_header,
    story_count,
    subject,
)

DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


# -- SMTP --------------------------------------------------------------------------------


class SendFailed(Exception):
    """One message was not accepted. ``refused``: the server said no to the address; ``connection``:
    no connection (or login) could be made, so the other recipients would fail the same way."""

    def __init__(self, message: str, *, refused: bool = False, connection: bool = False, uncertain: bool = False):
        super().__init__(message)
        self.refused = refused
        self.connection = connection
        self.uncertain = uncertain  # the whole message was handed over, the final reply never came


@dataclass
class SmtpSettings:
    host: str
    port: int
    security: str
    timeout: float
    username: str = ""
    password: str = field(default="", repr=False)
    # The wait for the reply to the message itself: RFC 5321 4.5.3.2.6 suggests 10 minutes, as the server
    # may scan it before answering. Giving up sooner is how a slow server got a new copy every hour.
    data_timeout: float = 600.0

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def from_config(cls, opts: Mapping[str, Any], environ: Mapping[str, str]) -> SmtpSettings:
        """From the [email] section; the credentials are read from the environment variables it names."""
        username = password = ""
        if opts.get("username_env"):
            values = []
            for key in ("username_env", "password_env"):
                name = opts[key]
                if not environ.get(name):
                    raise ConfigError(f"environment variable {name} (named by [email] {key}) is not set")
                values.append(environ[name])
            username, password = values
        return cls(opts["smtp_host"], opts["smtp_port"] or DEFAULT_PORTS[opts["security"]], opts["security"],
                   float(opts["timeout"]), username, password, float(opts.get("data_timeout") or 600.0))


def _response(resp: bytes | str) -> str:
    text = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)
    return " ".join(text.split())


def describe(exc: BaseException, settings: SmtpSettings) -> str:
    """One line saying what went wrong talking to the server (never a traceback, never the password)."""
    import smtplib
    import socket
    import ssl

    where = settings.where
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"{where} refused the login of user {settings.username!r}: {exc.smtp_code} {_response(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        # smtplib reports a read timeout as a disconnection ("Connection unexpectedly closed: timed out").
        if "timed out" in str(exc):
            return f"{where} did not answer within {settings.timeout:g} s"
        return f"{where} closed the connection unexpectedly"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{where} answered {exc.smtp_code} {_response(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPException):
        return f"{where}: {_response(str(exc))}"
    if isinstance(exc, ConnectionRefusedError):
        return f"cannot connect to {where}: connection refused (is the SMTP server running there?)"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the SMTP host {settings.host!r}: {exc.strerror or exc}"
    if isinstance(exc, TimeoutError):
        return f"{where} did not answer within {settings.timeout:g} s"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"{where}: TLS certificate not trusted: {exc.verify_message or exc}"
    if isinstance(exc, ssl.SSLError):
        return f"{where}: TLS failed: {exc.reason or exc}"
    if isinstance(exc, OSError):
        return f"cannot talk to {where}: {exc.strerror or _response(str(exc))}"
    return f"{where}: {type(exc).__name__}: {_response(str(exc))}"


class Mailer:
    """One SMTP connection, opened at the first message and opened again after one was lost."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._smtp: Any = None

    def _connect(self) -> Any:
        import smtplib
        import ssl

        s = self.settings
        smtp = None
        try:
            if s.security == "ssl":
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            smtp.ehlo()
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise SendFailed(f"{s.where} does not offer STARTTLS (set [email] security = \"none\" only for "
                                     "a relay on a trusted network)", connection=True)
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.username:
                if not smtp.has_extn("auth"):
                    raise SendFailed(f"{s.where} does not offer AUTH, but [email] username_env is set", connection=True)
                smtp.login(s.username, s.password)
        except BaseException as exc:
            if smtp is not None:
                smtp.close()
            if isinstance(exc, SendFailed):
                raise
            if isinstance(exc, OSError):  # smtplib's exceptions, sockets, TLS, timeouts
                raise SendFailed(describe(exc, s), connection=True) from None
            raise
        return smtp

    def send(self, msg: EmailMessage, sender: str, recipient: str) -> None:
        """Send ``msg`` to ``recipient`` alone; returns only once the server has accepted it, else SendFailed.

        SendFailed(uncertain=True) when the message was handed over whole but the final reply did not
        come within ``data_timeout`` (or the connection dropped first): it may have been delivered.
        """
        import smtplib

        if self._smtp is None:
            self._smtp = self._connect()
        smtp, where = self._smtp, self.settings.where
        handed_over = False
        try:
            code, resp = smtp.mail(sender)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, resp, sender)
            code, resp = smtp.rcpt(recipient)
            if code not in (250, 251):
                smtp.rset()  # the transaction is reset: the connection lives on for the next recipient
                raise SendFailed(f"refused by {where}: {code} {_response(resp)}", refused=True)
            code, resp = smtp.docmd("data")
            if code != 354:
                raise smtplib.SMTPDataError(code, resp)
            smtp.send(_dot_stuffed(msg))
            handed_over = True
            smtp.sock.settimeout(self.settings.data_timeout)
            code, resp = smtp.getreply()
            smtp.sock.settimeout(self.settings.timeout)
            if code != 250:
                raise smtplib.SMTPDataError(code, resp)
        except SendFailed:
            raise
        except smtplib.SMTPSenderRefused as exc:
            self.close()
            raise SendFailed(f"sender {exc.sender} refused by {where}: {exc.smtp_code} "
                             f"{_response(exc.smtp_error)}") from None
        except smtplib.SMTPResponseException as exc:  # a clear "no" (4xx/5xx): the message was not accepted
            self.close()
            raise SendFailed(describe(exc, self.settings)) from None
        except OSError as exc:  # smtplib's disconnections, timeouts, resets
            # After a timeout or a reset the session's state is unknown: start afresh.
            self.close()
            timed_out = isinstance(exc, TimeoutError) or "timed out" in str(exc)
            if handed_over:
                why = (f"did not confirm within {self.settings.data_timeout:g} s" if timed_out
                       else "closed the connection before confirming")
                raise SendFailed(f"{where} {why} after the whole message was sent: it may have been delivered "
                                 "(retried once, under the same Message-ID)", uncertain=True) from None
            why = f"did not answer within {self.settings.timeout:g} s" if timed_out else "closed the connection"
            raise SendFailed(f"{where} {why} before the message was sent") from None

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except Exception:  # the connection is already gone: nothing left to tidy up
            smtp.close()


def _dot_stuffed(msg: EmailMessage) -> bytes:
    """The message as DATA carries it: CRLF lines, a leading dot doubled, ending with the lone dot."""
    from email.generator import BytesGenerator
    from io import BytesIO

    buf = BytesIO()
    BytesGenerator(buf, policy=msg.policy).flatten(msg, linesep="\r\n")
    data = re.sub(rb"(?m)^\.", b"..", buf.getvalue())
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


# -- send-then-mark ----------------------------------------------------------------------

SENT, SKIPPED, REFUSED, FAILED = "sent", "skipped", "refused", "failed"
UNCERTAIN = "uncertain"  # handed over, the server's reply not seen: may have arrived; retried once
DEFERRED = "deferred"  # within the back-off after a failure: a later run tries
HELD = "held"  # not tried again today: attempts used up, or two transfers whose reply was lost


def deliver(store: Any, digest: Digest, recipients: list[Recipient], opts: Mapping[str, Any], *,
            environ: Mapping[str, str], force: bool = False, templates_dir: str | Path | None = None,
            report: Callable[[dict[str, Any]], None] | None = None,
            mailer: Mailer | None = None, unattended: bool = False) -> list[dict[str, Any]]:
    """Mail ``digest`` (built with ``topic_limit=UNCUT``) to each recipient, send-then-mark; one result per recipient.

    Each (day, recipient) is claimed in the store first (an atomic state change), so a second sender
    running at the same time skips it; a recipient already sent is skipped unless ``force``. The
    message is then sent, and marked sent only after the server accepted it; a clear failure is marked
    failed, a lost final reply ``uncertain`` (retried once, never twice: at most two copies by
    accident). ``unattended`` (cron's `run`) also caps the attempts per day and recipient
    (``[email] max_attempts``) and backs off between them (``retry_backoff`` seconds, doubling).
    When the connection or login itself fails, the remaining recipients are marked failed with the
    same error without trying again (no hammering, no account lock-out). Results are dicts:
    recipient, status (sent/skipped/refused/failed/uncertain/deferred/held), message_id, error;
    ``report`` gets each as it happens. Raises ConfigError before touching anything when [email] cannot send.
    """
    sender = opts.get("from") or ""
    if not sender:
        raise ConfigError("[email] from is not set: the sender's address is needed to send the digest")
    mailer = mailer or Mailer(SmtpSettings.from_config(opts, environ))
    s = mailer.settings
    # A claim outlives the longest a send can take (connect, login, envelope, then the data reply).
    lease = s.data_timeout + 6 * s.timeout + 60
    envelope_from = parseaddr(sender)[1]
    results: list[dict[str, Any]] = []
    broken: SendFailed | None = None
    try:
        for rcpt in recipients:
            row = store.delivery(digest.day, rcpt.address)
            already_sent = bool(row and row["status"] == "sent")
            if already_sent and not force:
                results.append({"recipient": rcpt.address, "status": SKIPPED, "message_id": row["message_id"],
                                "error": ""})
                if report is not None:
                    report(results[-1])
                continue
            msg = build_message(for_recipient(digest, rcpt), sender=sender, to=rcpt.address,
                                subject_template=opts["subject"], list_id=opts["list_id"],
                                templates_dir=templates_dir)
            message_id, why, kind = store.claim_delivery(
                digest.day, rcpt.address, new_message_id(sender), renew=force, lease_s=lease,
                max_attempts=int(opts.get("max_attempts") or 0) if unattended else 0,
                backoff_s=float(opts.get("retry_backoff") or 0.0) if unattended else 0.0)
            if message_id is None:
                status = {"done": SKIPPED, "later": DEFERRED}.get(kind, HELD)
                result = {"recipient": rcpt.address, "status": status,
                          "message_id": row["message_id"] if row else "", "error": why}
            else:
                msg.replace_header("Message-ID", message_id)
                try:
                    if broken is not None:
                        raise broken
                    mailer.send(msg, envelope_from, rcpt.address)
                except SendFailed as exc:
                    if exc.connection:
                        broken = exc
                    if exc.uncertain:
                        store.mark_uncertain(digest.day, rcpt.address, str(exc))
                    else:
                        store.mark_failed(digest.day, rcpt.address, str(exc))
                    status = UNCERTAIN if exc.uncertain else REFUSED if exc.refused else FAILED
                    result = {"recipient": rcpt.address, "status": status, "message_id": message_id,
                              "error": str(exc)}
                else:
                    store.mark_sent(digest.day, rcpt.address)
                    result = {"recipient": rcpt.address, "status": SENT, "message_id": message_id, "error": ""}
            results.append(result)
            if report is not None:
                report(result)
    finally:
        mailer.close()
    return results
