"""Waiting for a hub whose database is not up yet, instead of exiting.

A service started at boot (``ccm up``, ``ccm daemon``, ``ccm webhook``) may come up
before its PostgreSQL does. It keeps retrying, with backoff, while the receiver
answers 503 (Alertmanager retries those), and says so in its log. A local SQLite hub
is not retried: its errors (a path, permissions) are configuration, not outages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ccm_tui.core.errors import HubUnavailable
from ccm_tui.hub.base import Hub

#: First and longest pause between two connection attempts, in seconds.
FIRST_DELAY = 1.0
MAX_DELAY = 30.0


async def connect_patiently(hub: Hub, stop: asyncio.Event, *,
                            on_wait: Callable[[HubUnavailable, float], None] | None = None,
                            first_delay: float = FIRST_DELAY, max_delay: float = MAX_DELAY,
                            wait_first: bool = False) -> bool:
    """Connect ``hub``, retrying while its database is unreachable, until ``stop`` is set.

    ``on_wait(error, seconds)`` is told of each failed attempt and the pause before the
    next one; ``wait_first`` pauses ``first_delay`` before the first attempt. Returns
    ``False`` when ``stop`` came first. An SQLite hub's error, and any error other than
    :class:`HubUnavailable`, is raised at once.
    """
    delay = first_delay
    if wait_first:
        try:
            await asyncio.wait_for(stop.wait(), delay)
            return False
        except TimeoutError:
            delay = min(max_delay, delay * 2)
    while True:
        try:
            await hub.connect()
            return True
        except HubUnavailable as exc:
            if hub.url.startswith("sqlite"):
                raise
            if on_wait is not None:
                on_wait(exc, delay)
        try:
            await asyncio.wait_for(stop.wait(), delay)
            return False
        except TimeoutError:
            delay = min(max_delay, delay * 2)


__all__ = ["FIRST_DELAY", "MAX_DELAY", "connect_patiently"]
