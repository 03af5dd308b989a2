"""Dates as stored: ISO 8601 in UTC with a ``Z``; missing and future dates clamped and flagged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def iso(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str | None) -> str | None:
    """An ISO 8601 date or datetime as stored form, or None when it is not one."""
    if not text:
        return None
    text = text.strip()
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return iso(dt)


def after(now: str, seconds: float) -> str:
    return iso(datetime.fromisoformat(now.replace("Z", "+00:00")) + timedelta(seconds=seconds))


def clamp(published: str | None, now: str, flags: list[str]) -> str:
    """A missing date becomes the fetch time and a future one is clamped to it; both are flagged."""
    if not published:
        flags.append("no_date")
        return now
    if published > now:
        flags.append("future_date")
        return now
    return published
