"""Two daemons share one PostgreSQL hub: 100 tasks, each run exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from ccm_tui.core.model import Task, new_task_id
from ccm_tui.core.states import TaskState
from ccm_tui.hub import open_hub
from tests.functional.daemon.conftest import make_env

pytestmark = pytest.mark.postgres

HOSTS, TASKS = 20, 100


async def test_two_daemons_run_each_task_once(pg_url: str, tmp_path: Path) -> None:
    async with open_hub(pg_url) as hub:
        await hub.migrate()
        env = make_env(tmp_path, hub, hosts=HOSTS, roots=False)
        try:
            names = [h.name for h in env.inventory]
            # Alerts no runbook knows: each agent starts, finds nothing, escalates.
            for i in range(TASKS):
                await hub.create_task(Task(id=new_task_id(), host=names[i % HOSTS],
                                           alertname=f"Unknown{i // HOSTS}",
                                           spec={"alert": {"labels": {"job": "x"}}}))
            a = await env.start_daemon(max_sessions=30, health_interval=None)
            b = await env.start_daemon(max_sessions=30, health_interval=None)
            deadline = asyncio.get_running_loop().time() + 240
            while True:
                counts = await hub.count_tasks()
                if counts.get(TaskState.ESCALATED, 0) == TASKS:
                    break
                assert asyncio.get_running_loop().time() < deadline, counts
                await asyncio.sleep(0.2)
            tasks = await hub.list_tasks()
            assert len(tasks) == TASKS and all(t.attempts == 1 for t in tasks)
            for t in tasks:
                started = [e for e in await hub.list_events(t.id) if e.type == "started"]
                assert len(started) == 1, t.id
            claimed = Counter(a.claimed + b.claimed)
            assert set(claimed) == {t.id for t in tasks} and set(claimed.values()) == {1}
            assert a.claimed and b.claimed  # both did real work
        finally:
            await env.close()


async def test_two_daemons_with_split_inventories_each_run_their_own_hosts(
        pg_url: str, tmp_path: Path) -> None:
    from tests.functional.daemon.test_review_claims_inventory import start_with

    async with open_hub(pg_url) as hub:
        await hub.migrate()
        env = make_env(tmp_path, hub, hosts=6, roots=False)
        try:
            hosts = list(env.inventory)
            mine, theirs = hosts[:3], hosts[3:]
            a = await start_with(env, mine, max_sessions=10)
            b = await start_with(env, theirs, max_sessions=10)
            tasks = [await hub.create_task(Task(id=new_task_id(), host=h.name,
                                                alertname=f"Unknown{i}",
                                                spec={"alert": {"labels": {"job": "x"}}}))
                     for i in range(2) for h in hosts]
            deadline = asyncio.get_running_loop().time() + 120
            while (await hub.count_tasks()).get(TaskState.ESCALATED, 0) < len(tasks):
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.2)
            on = {t.id: t.host for t in tasks}
            assert {on[t] for t in a.claimed} == {h.name for h in mine}
            assert {on[t] for t in b.claimed} == {h.name for h in theirs}
            assert sorted(a.claimed + b.claimed) == sorted(on)
            for t in await hub.list_tasks():  # each ran its agent; none was refused
                assert "inventory" not in (t.outcome or ""), t.outcome
                assert [e.type for e in await hub.list_events(t.id)][:1] == ["started"]
        finally:
            await env.close()
