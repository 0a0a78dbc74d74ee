"""Two daemons share one PostgreSQL hub: 100 tasks, each run exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from ccm_tui.core.model import Task, TaskState, new_task_id
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
