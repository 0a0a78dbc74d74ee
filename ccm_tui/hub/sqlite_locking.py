"""Waiting out another process's lock on the SQLite hub file, and committing off the loop.

The hub never blocks inside SQLite on a lock (its busy timeout is zero): a statement
that finds the file locked yields to the event loop and is retried with backoff, for
up to :data:`LOCK_PATIENCE` seconds, after which the hub counts as unavailable (and
the webhook answers 503, so Alertmanager retries).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from ccm_tui.core.errors import HubUnavailable

#: How long a writer keeps retrying a locked file before the hub counts as unavailable.
LOCK_PATIENCE = 30.0


def is_locked(exc: sqlite3.OperationalError) -> bool:
    """Whether ``exc`` says another connection holds the lock (rather than a real fault)."""
    text = str(exc)
    return "locked" in text or "busy" in text


class _Backoff:
    __slots__ = ("delay", "path", "waited", "what")

    def __init__(self, what: str, path: Path) -> None:
        self.delay, self.waited, self.what, self.path = 0.001, 0.0, what, path

    async def wait(self, exc: sqlite3.OperationalError) -> None:
        if self.waited > LOCK_PATIENCE:
            raise HubUnavailable(f"SQLite hub {self.path} stayed locked for "
                                 f"{self.waited:.0f}s ({self.what})") from exc
        await asyncio.sleep(self.delay)
        self.waited += self.delay
        self.delay = min(self.delay * 2, 0.05)


async def when_unlocked(op: Callable[[], Any], what: str, path: Path) -> Any:
    """Run ``op()``; while another process holds the file, yield and retry with backoff."""
    backoff = _Backoff(what, path)
    while True:
        try:
            return op()
        except sqlite3.OperationalError as exc:
            if not is_locked(exc):
                raise
            await backoff.wait(exc)


async def commit_off_loop(conn: sqlite3.Connection, executor: Executor, path: Path) -> None:
    """COMMIT on ``executor``'s thread: its fsync (``synchronous=full``) must not stall the loop.

    Other requests are read and parsed meanwhile (and join the next group commit).
    The caller holds the hub's lock; this returns only once the commit is over, even
    when the caller is cancelled meanwhile, so no other statement meets the
    connection mid-commit.
    """
    loop = asyncio.get_running_loop()
    backoff = _Backoff("committing", path)
    while True:
        fut = loop.run_in_executor(executor, conn.execute, "COMMIT")
        cancelled = False
        while not fut.done():
            try:
                await asyncio.shield(fut)
            except asyncio.CancelledError:
                cancelled = True
            except Exception:
                break  # examined below
        if cancelled:
            fut.result()  # the commit's own error, if any, wins over the cancel
            raise asyncio.CancelledError
        exc = fut.exception()
        if exc is None:
            return
        if not isinstance(exc, sqlite3.OperationalError) or not is_locked(exc):
            raise exc
        await backoff.wait(exc)


__all__ = ["LOCK_PATIENCE", "commit_off_loop", "is_locked", "when_unlocked"]
