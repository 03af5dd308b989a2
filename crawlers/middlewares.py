"""Scrapy downloader middleware for politeness: honour Retry-After on 429 and 503.

A short Retry-After is waited out and the request retried; a long one is not retried and the
source is marked rate limited until then (the runner skips it meanwhile).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent/bad."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RetryAfterMiddleware(RetryMiddleware):
    def __init__(self, settings: Any):
        super().__init__(settings)
        self.retry_after_max = settings.getfloat("SUPPLYWATCH_RETRY_AFTER_MAX", 120.0)

    async def process_response(self, request: Any, response: Any) -> Any:
        if response.status in (429, 503) and not request.meta.get("dont_retry"):
            delay = retry_after_seconds(response.headers.get("Retry-After"))
            if delay is not None:
                if delay > self.retry_after_max:
                    return response  # the spider records it as rate limited, with the time
                retry = get_retry_request(
                    request, spider=self.crawler.spider, reason=f"{response.status} Retry-After {delay:g}s",
                    max_retry_times=self.max_retry_times,
                )
                if retry is None:
                    return response
                await asyncio.sleep(delay)
                return retry
        return super().process_response(request, response)
