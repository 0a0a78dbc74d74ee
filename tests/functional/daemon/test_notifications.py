"""The daemon tells the outbox about its tasks; the worker pages (loopback PagerDuty fake)."""

from __future__ import annotations

import asyncio

import aiohttp

from ccm_tui.commands.services import task_notifier
from ccm_tui.core.model import TaskState
from ccm_tui.daemon.dispatcher import Daemon
from ccm_tui.hub import Hub
from ccm_tui.notify.outbox import OutboxWorker, default_senders
from tests.fakes.fake_pagerduty import FakePagerDuty
from tests.functional.daemon.conftest import FleetEnv
from tests.functional.notify.conftest import notify_settings


async def test_an_escalation_pages_through_the_outbox(env: FleetEnv, hub: Hub) -> None:
    pd = FakePagerDuty()
    await pd.start()
    settings = notify_settings(pd)
    pool = env.pool()
    stop = asyncio.Event()
    daemon = Daemon(hub, pool, env.inventory, env.options(health_interval=None),
                    notifier=task_notifier(hub, settings))
    runner = asyncio.create_task(daemon.run(stop))
    try:
        await asyncio.wait_for(daemon.started.wait(), 20)
        task = await env.alert("legacy-01")  # not in the inventory: escalates at once
        await env.wait_state(task.id, TaskState.ESCALATED)
        for _ in range(100):
            if [m for m in await hub.list_outbox() if m.channel == "pagerduty"]:
                break
            await asyncio.sleep(0.05)
        async with aiohttp.ClientSession() as session:
            worker = OutboxWorker(hub, settings, default_senders(settings, session))
            await worker.run_once()
        [event] = pd.events
        assert event["event_action"] == "trigger" and event["dedup_key"] == f"ccm-{task.id}"
        assert event["payload"]["source"] == "legacy-01"
        assert event["payload"]["severity"] == "critical"
        # Later a human (or the alert resolving) closes it: the page is resolved too.
        await hub.transition(task.id, TaskState.RESOLVED, outcome="fixed by hand")
        for _ in range(100):
            if len([m for m in await hub.list_outbox() if m.channel == "pagerduty"]) == 2:
                break
            await asyncio.sleep(0.05)
        async with aiohttp.ClientSession() as session:
            await OutboxWorker(hub, settings, default_senders(settings, session)).run_once()
        assert [e["event_action"] for e in pd.events] == ["trigger", "resolve"]
        assert pd.events[1]["dedup_key"] == f"ccm-{task.id}"
    finally:
        stop.set()
        await asyncio.wait_for(runner, 30)
        await pool.close()
        await pd.stop()
