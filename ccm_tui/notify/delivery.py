"""What every channel shares: delivery outcomes, the retry rules, and a rate limiter.

The retry rules, the same for every HTTP channel:

- **2xx**: delivered.
- **429**: retry; a ``Retry-After`` header (seconds or an HTTP date) is honoured,
  otherwise exponential backoff.
- **5xx**, **408**, a timeout or a refused connection: retry with exponential backoff
  (``backoff_seconds × 2^(failures-1)``, at most ``backoff_max_seconds``).
- **any other 4xx** (400 above all): never retried — the request itself is wrong and
  would fail again; the message is given up (``dead``) with the receiver's answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from ccm_tui.core.records import OutboxMessage

#: Longest Retry-After honoured; anything longer is treated as this.
MAX_RETRY_AFTER = 3600.0


@dataclass(frozen=True, slots=True)
class Delivered:
    """The receiver accepted the message."""

    detail: str = ""


@dataclass(frozen=True, slots=True)
class Retry:
    """Try again later: after ``after`` seconds when the receiver said so, else backoff."""

    error: str
    after: float | None = None


@dataclass(frozen=True, slots=True)
class Dead:
    """Never try again (a 400, a channel not configured, a skipped conditional)."""

    error: str


@dataclass(frozen=True, slots=True)
class Defer:
    """Not yet: hold the message until ``until`` without counting a failure."""

    until: datetime
    reason: str


Outcome = Delivered | Retry | Dead | Defer


class Sender(Protocol):
    """Delivers the messages of one channel."""

    async def deliver(self, messages: list[OutboxMessage]) -> dict[int, Outcome]:
        """Deliver ``messages`` (claimed by the caller); return an outcome per message id."""


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def classify(status: int, body: str, headers: Mapping[str, str] | None = None) -> Outcome:
    """The outcome of one HTTP answer, by the retry rules of this module."""
    text = " ".join(body.split())[:300]
    if 200 <= status < 300:
        return Delivered(f"HTTP {status}")
    if status == 429:
        after = parse_retry_after((headers or {}).get("Retry-After"))
        return Retry(f"HTTP 429 rate limited: {text}", after)
    if status >= 500 or status == 408:
        return Retry(f"HTTP {status}: {text}")
    return Dead(f"HTTP {status} (not retried): {text}")


def backoff(failures: int, base: float, cap: float) -> float:
    """Seconds before the next attempt after ``failures`` failed ones (1, 2, 3…)."""
    return float(min(base * (2 ** max(failures - 1, 0)), cap))


async def post_json(session: Any, url: str, body: Any, *, headers: Mapping[str, str] | None = None,
                    timeout: float = 15.0) -> Outcome:
    """POST ``body`` as JSON with an aiohttp ``session``; classify the answer."""
    import aiohttp

    try:
        async with session.post(url, json=body, headers=dict(headers or {}),
                                timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            text = await resp.text()
            return classify(resp.status, text, resp.headers)
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        return Retry(f"{type(exc).__name__}: {exc}"[:300])


class RateLimiter:
    """At most one call per ``interval`` seconds (a monotonic clock; injectable for tests)."""

    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self._last: float | None = None

    async def wait(self) -> None:
        """Return once a call is allowed, and count it."""
        if self._last is not None and self.interval > 0:
            gap = self._last + self.interval - self.clock()
            if gap > 0:
                await self.sleep(gap)
        self._last = self.clock()


def in_seconds(now: datetime, seconds: float) -> datetime:
    """``now`` plus ``seconds``."""
    return now + timedelta(seconds=seconds)


__all__ = [
    "Dead",
    "Defer",
    "Delivered",
    "Outcome",
    "RateLimiter",
    "Retry",
    "Sender",
    "backoff",
    "classify",
    "parse_retry_after",
    "post_json",
]
