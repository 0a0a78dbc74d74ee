"""Several daemons on one PostgreSQL hub: no task is claimed twice; expired leases move on."""

from __future__ import annotations

import asyncio

import pytest

from ccm_tui.core import Task, TaskState, new_task_id
from ccm_tui.hub import open_hub

pytestmark = pytest.mark.postgres


async def _migrated(url: str) -> None:
    hub = open_hub(url)
    try:
        await hub.migrate()
    finally:
        await hub.close()


async def test_concurrent_claimers_never_share_a_task(pg_url: str) -> None:
    await _migrated(pg_url)
    hubs = [open_hub(pg_url) for _ in range(4)]
    for h in hubs:
        await h.connect()
    try:
        created = {(await hubs[0].create_task(
            Task(id=new_task_id(), host=f"web-{i:03d}", alertname="DiskFull"))).id
            for i in range(120)}

        async def claimer(i: int) -> list[str]:
            got: list[str] = []
            while True:
                t = await hubs[i].claim_next_task(f"daemon-{i}", lease_seconds=60)
                if t is None:
                    return got
                got.append(t.id)

        results = await asyncio.gather(*(claimer(i) for i in range(len(hubs))))
        flat = [tid for r in results for tid in r]
        assert len(flat) == len(set(flat)) == len(created)
        assert set(flat) == created
        assert sum(1 for r in results if r) >= 2  # the work really was shared
        owners = {t.id: t.lease_owner for t in await hubs[0].list_tasks()}
        for i, r in enumerate(results):
            assert all(owners[tid] == f"daemon-{i}" for tid in r)
    finally:
        for h in hubs:
            await h.close()


async def test_expired_lease_taken_over_by_second_daemon(pg_url: str) -> None:
    await _migrated(pg_url)
    async with open_hub(pg_url) as a, open_hub(pg_url) as b:
        t = await a.create_task(Task(id=new_task_id(), host="db-01", alertname="ServiceDown"))
        mine = await a.claim_next_task("daemon-a", lease_seconds=0.2)
        assert mine is not None and mine.id == t.id
        assert await b.claim_next_task("daemon-b") is None  # lease still live
        await asyncio.sleep(0.4)
        theirs = await b.claim_next_task("daemon-b", lease_seconds=30)
        assert theirs is not None and theirs.id == t.id and theirs.lease_owner == "daemon-b"
        assert theirs.state is TaskState.CLAIMED


async def test_one_task_per_host_holds_across_concurrent_claimers(pg_url: str) -> None:
    await _migrated(pg_url)
    hubs = [open_hub(pg_url) for _ in range(4)]
    for h in hubs:
        await h.connect()
    try:
        for round_ in range(10):
            host = f"db-{round_:02d}"
            for name in ("DiskFull", "ServiceDown", "HighMemory"):
                await hubs[0].create_task(Task(id=new_task_id(), host=host, alertname=name))
            got = await asyncio.gather(*(h.claim_next_task(f"d{i}") for i, h in
                                         enumerate(hubs)))
            claimed = [t for t in got if t is not None]
            assert len(claimed) == 1, [(t.host, t.alertname) for t in claimed]
            await hubs[0].transition(claimed[0].id, TaskState.CANCELLED)
            for t in await hubs[0].list_tasks():
                if t.state is TaskState.NEW:
                    await hubs[0].transition(t.id, TaskState.CANCELLED)
    finally:
        for h in hubs:
            await h.close()
