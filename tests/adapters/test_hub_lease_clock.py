"""Leases on a shared PostgreSQL hub follow the hub's clock, not each daemon's.

Two daemons on two machines whose clocks disagree must still agree on whether a
lease has expired; otherwise a daemon with a fast clock takes over tasks that are
being worked, and a task runs twice. A skewed machine is simulated by moving the
clock the hub module reads (``utcnow``) — the only process clock it uses.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
import pytest

from ccm_tui.core import Task
from ccm_tui.core.model import utcnow
from ccm_tui.core.records import OutboxMessage
from ccm_tui.hub import open_hub

pytestmark = pytest.mark.postgres


def _skew(monkeypatch: pytest.MonkeyPatch, by: timedelta) -> None:
    def skewed() -> datetime:
        return utcnow() + by

    import ccm_tui.hub.sql as sql
    import ccm_tui.hub.sql_core as sql_core

    monkeypatch.setattr(sql, "utcnow", skewed)
    monkeypatch.setattr(sql_core, "utcnow", skewed)


async def test_a_fast_clock_does_not_steal_a_live_lease(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async with open_hub(pg_url) as hub:
        await hub.migrate()
        await hub.create_task(Task(id="t-skew1", host="web-01", alertname="DiskFull"))
        claimed = await hub.claim_next_task("daemon-a", lease_seconds=60)
        assert claimed is not None and claimed.id == "t-skew1"
        _skew(monkeypatch, timedelta(minutes=10))  # daemon-b's machine runs 10 min fast
        assert await hub.claim_next_task("daemon-b", lease_seconds=60) is None
        renewed = await hub.renew_lease("t-skew1", "daemon-a", lease_seconds=60)
        conn = await asyncpg.connect(pg_url)
        try:
            db_now: datetime = await conn.fetchval("SELECT clock_timestamp()")
        finally:
            await conn.close()
        assert renewed.lease_expires_at is not None
        # Granted by the hub's clock: about a minute from the hub's now, not eleven.
        assert timedelta(seconds=50) < renewed.lease_expires_at - db_now < timedelta(seconds=70)


async def test_a_slow_clock_still_takes_over_an_expired_lease(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async with open_hub(pg_url) as hub:
        await hub.migrate()
        await hub.create_task(Task(id="t-skew2", host="web-02", alertname="DiskFull"))
        assert await hub.claim_next_task("daemon-a", lease_seconds=0.05) is not None
        conn = await asyncpg.connect(pg_url)
        try:  # wait on the hub's clock until the lease has run out
            await conn.execute("SELECT pg_sleep(0.2)")
        finally:
            await conn.close()
        _skew(monkeypatch, -timedelta(minutes=10))  # daemon-b's machine runs 10 min slow
        taken = await hub.claim_next_task("daemon-b", lease_seconds=60)
        assert taken is not None and taken.id == "t-skew2" and taken.lease_owner == "daemon-b"


async def test_outbox_leases_follow_the_hub_clock(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async with open_hub(pg_url) as hub:
        await hub.migrate()
        assert await hub.enqueue("slack", {"text": "hello"}, dedup_key="skew:1")
        first = await hub.claim_outbox("worker-a", lease_seconds=60)
        assert [m.dedup_key for m in first] == ["skew:1"]
        _skew(monkeypatch, timedelta(minutes=10))
        second: list[OutboxMessage] = await hub.claim_outbox("worker-b", lease_seconds=60)
        assert second == []
