"""A task's outcome teaches its runbook once.

When a daemon's lease on a running task lapses (a starved machine, a long GC pause),
another daemon takes the task over, re-attaches to the agent and replays its journal
to the end, so both finish the task. Each then calls ``learn_from``: the runbook's
record must count that outcome once, and promote or demote it by one rung only.
"""

from __future__ import annotations

import asyncio

from ccm_tui.core.lifecycle import decision_from_agent
from ccm_tui.core.model import RunbookMode, Task, new_task_id
from ccm_tui.core.states import TaskState
from ccm_tui.daemon.options import DaemonOptions
from ccm_tui.daemon.rails import learn_from
from ccm_tui.hub import Hub


async def _finished(hub: Hub, host: str, *, success: bool, approve: bool) -> Task:
    t = await hub.create_task(Task(id=new_task_id(), host=host, alertname="DiskFull"))
    if approve:
        for state in (TaskState.CLAIMED, TaskState.DIAGNOSING, TaskState.AWAITING_APPROVAL):
            t = await hub.transition(t.id, state, runbook="disk-full")
        await hub.decide(t.id, "approve", actor="alice")
    else:
        auto = decision_from_agent({"verdict": "auto", "confidence": 0.95, "risk": "low",
                                    "runbook": "disk-full", "mode": "auto"})
        for state in (TaskState.CLAIMED, TaskState.DIAGNOSING):
            t = await hub.transition(t.id, state, runbook="disk-full", decision=auto)
    t = await hub.transition(t.id, TaskState.REMEDIATING)
    if success:
        t = await hub.transition(t.id, TaskState.VERIFYING)
        return await hub.transition(t.id, TaskState.RESOLVED, outcome="disk at 41%")
    return await hub.transition(t.id, TaskState.FAILED, outcome="verify failed")


async def test_two_daemons_finishing_one_success_promote_once(hub: Hub) -> None:
    options = DaemonOptions(promote_after=2)
    await hub.set_runbook_mode("disk-full", "web", RunbookMode.SUGGEST)
    task = await _finished(hub, "web-01", success=True, approve=True)
    first, again = await asyncio.gather(
        learn_from(hub, task, "web", "suggest", options, "daemon a"),
        learn_from(hub, task, "web", "suggest", options, "daemon b"))
    assert (first is None) != (again is None)  # exactly one of them counted it
    [stats] = await hub.runbook_stats("disk-full")
    assert (stats.successes, stats.approvals, stats.streak) == (1, 1, 1)
    assert stats.mode is RunbookMode.SUGGEST  # one success is not the two it takes

    second = await _finished(hub, "web-02", success=True, approve=True)
    await learn_from(hub, second, "web", "suggest", options, "daemon a")
    assert await learn_from(hub, second, "web", "suggest", options, "daemon b") is None
    [stats] = await hub.runbook_stats("disk-full")
    assert stats.mode is RunbookMode.AUTO and stats.successes == 2
    promotions = [e for e in await hub.list_audit() if e.action == "runbook.promote"]
    assert [(e.detail["from"], e.detail["to"], e.detail["task"]) for e in promotions] == [
        ("suggest", "auto", second.id)]


async def test_a_failure_finished_twice_demotes_one_rung(hub: Hub) -> None:
    await hub.set_runbook_mode("disk-full", "db", RunbookMode.AUTO)
    task = await _finished(hub, "db-01", success=False, approve=False)
    for actor in ("daemon a", "daemon b", "daemon a"):
        await learn_from(hub, task, "db", "auto", DaemonOptions(), actor)
    [stats] = await hub.runbook_stats("disk-full")
    assert (stats.failures, stats.mode) == (1, RunbookMode.SUGGEST)  # not down to shadow
    demotions = [e for e in await hub.list_audit() if e.action == "runbook.demote"]
    assert [(e.actor, e.detail["to"]) for e in demotions] == [("daemon a", "suggest")]
