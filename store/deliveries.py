"""Digest deliveries in the store: which day's digest went to whom, under which Message-ID, and what failed.

Mixed into :class:`store.core.Store`; SQL stays in the store package. The mailer follows
send-then-mark: :meth:`start_delivery` before talking to the server, :meth:`mark_sent` only once
the server has accepted the message, :meth:`mark_failed` otherwise. Each write is its own
transaction, so a crash between sending and marking leaves a ``pending`` row whose retry reuses
the same Message-ID (a receiving system can then tell the two copies are one message).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import InputError
from .models import is_day

PENDING, SENT, FAILED = "pending", "sent", "failed"
SENDING, UNCERTAIN = "sending", "uncertain"  # claimed by a sender; handed over but the server's reply not seen
# A transfer whose reply was lost may have arrived: retry it once, never a second time, so a flaky
# server gets at most two copies of one digest per recipient by accident.
MAX_UNCONFIRMED = 2
_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _parse(stamp: str | None) -> datetime | None:
    try:
        return datetime.strptime(stamp or "", _FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_day(day: str) -> str:
    if not is_day(day):
        raise InputError(f"bad day {day!r}: expected YYYY-MM-DD")
    return day


class DeliveriesMixin:
    db: Any

    def _guard(self) -> Any: ...  # provided by Store

    def _delivery_row(self, day: str, recipient: str) -> dict[str, Any] | None:
        rows = self.db.execute_returning_dicts(
            "select * from deliveries where day = ? and recipient = ?", [day, recipient])
        return rows[0] if rows else None

    def delivery(self, day: str, recipient: str) -> dict[str, Any] | None:
        """The delivery row of ``day``'s digest to ``recipient``, or None if never attempted."""
        with self._guard():
            return self._delivery_row(_check_day(day), recipient)

    def deliveries(self, day: str | None = None) -> list[dict[str, Any]]:
        """Every delivery row (of ``day`` only, when given), by day then recipient."""
        with self._guard():
            if day is None:
                return self.db.execute_returning_dicts("select * from deliveries order by day, recipient")
            return self.db.execute_returning_dicts(
                "select * from deliveries where day = ? order by recipient", [_check_day(day)])

    def start_delivery(self, day: str, recipient: str, new_message_id: str, *, renew: bool = False,
                       now: str | None = None) -> str:
        """Record an attempt to send ``day``'s digest to ``recipient``; return the Message-ID to send it under.

        The first attempt stores ``new_message_id``; every later attempt keeps the stored one, so a
        retry after a failure (or after a crash that left the row ``pending``) is recognisably the
        same message. ``renew`` replaces it: a deliberate re-send of a digest already delivered is a
        new message (mail systems drop a second message carrying a Message-ID they have seen).
        """
        now = now or _now()
        with self._guard(), self._atomic():
            row = self._delivery_row(_check_day(day), recipient)
            if row is None:
                self.db["deliveries"].insert({
                    "day": day, "recipient": recipient, "message_id": new_message_id, "status": PENDING,
                    "attempts": 1, "first_attempt": now, "last_attempt": now,
                })
                return new_message_id
            message_id = new_message_id if renew else row["message_id"]
            self.db["deliveries"].update((day, recipient), {
                "message_id": message_id, "status": PENDING, "attempts": (row["attempts"] or 0) + 1,
                "last_attempt": now,
            })
            return message_id

    def claim_delivery(self, day: str, recipient: str, new_message_id: str, *, renew: bool = False, lease_s: float,
                       max_attempts: int = 0, backoff_s: float = 0.0,
                       now: str | None = None) -> tuple[str | None, str, str]:
        """Atomically take ``day``'s delivery to ``recipient`` for this sender: ``(message_id, "", "")`` to send.

        Otherwise ``(None, why, kind)``: kind ``done`` (already sent, or claimed by another sender within
        ``lease_s`` seconds), ``later`` (within the back-off: ``backoff_s`` doubled per attempt) or ``given_up``
        (``max_attempts`` reached, or MAX_UNCONFIRMED transfers whose reply was lost). A claim older than
        the lease is a sender that died mid-send: counted as an unconfirmed transfer. ``renew`` (a deliberate
        re-send) takes any row not being sent, under a new Message-ID.
        """
        now = now or _now()
        at = _parse(now) or datetime.now(UTC)
        with self._guard(), self._atomic():
            row = self._delivery_row(_check_day(day), recipient)
            if row is None:
                self.db["deliveries"].insert({
                    "day": day, "recipient": recipient, "message_id": new_message_id, "status": SENDING,
                    "attempts": 1, "first_attempt": now, "last_attempt": now, "claimed_at": now, "unconfirmed": 0,
                })
                return new_message_id, "", ""
            unconfirmed = row.get("unconfirmed") or 0
            if row["status"] in (SENDING, PENDING):
                claimed = _parse(row.get("claimed_at") or row.get("last_attempt"))
                if row["status"] == SENDING and claimed and at < claimed + timedelta(seconds=lease_s):
                    return None, f"being sent by another process since {row['claimed_at']}", "done"
                unconfirmed += 1  # its sender died between handing the message over and recording the reply
                self.db["deliveries"].update((day, recipient), {"status": UNCERTAIN, "unconfirmed": unconfirmed,
                                                                "last_error": "the sender stopped mid-send"})
            if not renew:
                if row["status"] == SENT:
                    return None, "already sent", "done"
                if unconfirmed >= MAX_UNCONFIRMED:
                    return None, (f"not retried: handed to the server {unconfirmed} times without a reply, "
                                  "so it probably arrived (a forced send sends it again)"), "given_up"
                attempts = row["attempts"] or 0
                if max_attempts and attempts >= max_attempts:
                    return None, f"gave up after {attempts} attempts (a forced send tries again)", "given_up"
                last = _parse(row["last_attempt"])
                if backoff_s and last and attempts:
                    ready = last + timedelta(seconds=backoff_s * 2 ** (attempts - 1))
                    if at < ready:
                        return None, f"next attempt not before {ready.strftime(_FORMAT)}", "later"
            self.db["deliveries"].update((day, recipient), {
                "message_id": new_message_id if renew else row["message_id"], "status": SENDING,
                "attempts": (row["attempts"] or 0) + 1, "last_attempt": now, "claimed_at": now,
                "unconfirmed": 0 if renew else unconfirmed,
            })
            return (new_message_id if renew else row["message_id"]), "", ""

    def mark_uncertain(self, day: str, recipient: str, error: str) -> None:
        """The message was handed over but the server's final reply never came: it may have arrived."""
        with self._guard(), self._atomic():
            row = self._delivery_row(_check_day(day), recipient)
            if row is None:
                raise InputError(f"no delivery of {day} to {recipient} was started")
            self.db["deliveries"].update((day, recipient), {
                "status": UNCERTAIN, "unconfirmed": (row.get("unconfirmed") or 0) + 1, "last_error": error})

    def mark_sent(self, day: str, recipient: str, *, now: str | None = None) -> None:
        """The server accepted the message: ``day``'s digest is never sent to ``recipient`` again (unless forced)."""
        self._finish(day, recipient, {"status": SENT, "sent_at": now or _now(), "last_error": None})

    def mark_failed(self, day: str, recipient: str, error: str) -> None:
        """The attempt failed with ``error`` (one line); the next run tries again under the same Message-ID."""
        self._finish(day, recipient, {"status": FAILED, "last_error": error})

    def _finish(self, day: str, recipient: str, values: dict[str, Any]) -> None:
        with self._guard(), self._atomic():
            if self._delivery_row(_check_day(day), recipient) is None:
                raise InputError(f"no delivery of {day} to {recipient} was started")
            self.db["deliveries"].update((day, recipient), values)

    def count_day_documents(self, day: str) -> int:
        """Documents published on the UTC ``day``, flagged or not: 0 suggests the crawl did not run."""
        with self._guard():
            return self.db.execute("select count(*) from documents where published like ?",
                                   [f"{_check_day(day)}%"]).fetchone()[0]
