"""Waiting for a hub whose database is not up yet, instead of exiting.

A service started at boot (``ccm up``, ``ccm daemon``, ``ccm webhook``) may come up
before its PostgreSQL does. It keeps retrying, with backoff, while the receiver
answers 503 (Alertmanager retries those), and says so in its log. A local SQLite hub
is not retried: its errors (a path, permissions) are configuration, not outages.
"""

from __future__ import annotations

import asyncio
import logging

from ccm_tui.core.errors import HubUnavailable
from ccm_tui.hub.base import Hub

#: First and longest pause between two connection attempts, in seconds.
FIRST_DELAY = 1.0
MAX_DELAY = 30.0


async def connect_patiently(hub: Hub, stop: asyncio.Event, *, log: logging.Logger,
                            shown: str, meanwhile: str = "",
                            first_delay: float = FIRST_DELAY, max_delay: float = MAX_DELAY,
                            ) -> bool:
    """Connect ``hub``, retrying while its database is unreachable, until ``stop`` is set.

    Each failed attempt is logged with the pause before the next one (and
    ``meanwhile``: what the service does until then); a connection that needed
    retries is logged too. ``shown`` is the hub as the log may name it (no password).
    Returns ``False`` when ``stop`` came first. An SQLite hub's error, and any error
    other than :class:`HubUnavailable`, is raised at once.
    """
    delay, waited = first_delay, False
    while True:
        try:
            await hub.connect()
        except HubUnavailable as exc:
            if hub.url.lower().startswith("sqlite"):
                raise
            waited = True
            log.warning("hub %s unreachable (%s); retrying in %.0fs%s", shown, _why(exc),
                        delay, f", {meanwhile}" if meanwhile else "")
        else:
            if waited:
                log.info("hub %s connected", shown)
            return True
        try:
            await asyncio.wait_for(stop.wait(), delay)
            return False
        except TimeoutError:
            delay = min(max_delay, delay * 2)


def _why(exc: HubUnavailable) -> str:
    """The reason of a failed connection without the hub's URL, which the adapter's
    message repeats (the log line names the hub once, as ``shown``)."""
    cause = exc.__cause__
    if cause is None:
        return str(exc)
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__


__all__ = ["FIRST_DELAY", "MAX_DELAY", "connect_patiently"]
