"""A runbook in shadow mode, end to end: the agent only dry-runs over SSH and the task
escalates with its plan; operators endorse three such plans (`ccm approve`); the daemon
promotes the runbook to suggest, and the next alert asks before fixing."""

from __future__ import annotations

import asyncio

from ccm_tui.core.model import DecisionKind, RunbookMode, TaskState
from ccm_tui.hub import Hub
from tests.functional.daemon.conftest import FleetEnv, full_disk


async def _mode(hub: Hub) -> RunbookMode | None:
    stats = {s.host_group: s for s in await hub.runbook_stats("disk-full")}
    return stats["web"].mode if "web" in stats else None


async def test_endorsed_shadow_runs_take_the_runbook_out_of_shadow(env: FleetEnv,
                                                                    hub: Hub) -> None:
    roots = {h: full_disk(env.roots[h]) for h in ("web-01", "web-02")}
    await hub.set_runbook_mode("disk-full", "web", RunbookMode.SHADOW)
    await env.start_daemon(health_interval=None)
    for i, host in enumerate(("web-01", "web-02", "web-01")):
        task = await env.alert(host, run=str(i))
        done = await env.wait_state(task.id, TaskState.ESCALATED, TaskState.RESOLVED,
                                    TaskState.FAILED)
        assert done.state is TaskState.ESCALATED, done.outcome
        assert done.decision is not None and done.decision.kind is DecisionKind.SHADOW
        assert done.result.get("would"), done.result  # the plan it would have applied
        assert len(list((roots[host] / "var/log/app").iterdir())) == 9  # a dry run
        await hub.decide(task.id, "approve", actor="jordan", note="that plan was right")
        if i < 2:
            await asyncio.sleep(1.5)  # the daemon has looked at it by now: not yet enough
            assert await _mode(hub) is RunbookMode.SHADOW

    deadline = asyncio.get_running_loop().time() + 20
    while await _mode(hub) is not RunbookMode.SUGGEST:
        assert asyncio.get_running_loop().time() < deadline, "not promoted"
        await asyncio.sleep(0.2)
    promoted = [e for e in await hub.list_audit() if e.action == "runbook.promote"]
    assert [(e.target, e.detail["from"], e.detail["to"]) for e in promoted] == [
        ("disk-full@web", "shadow", "suggest")]
    assert all(a.relayed_at is not None for a in await hub.list_approvals())

    task = await env.alert("web-02", run="3")
    waiting = await env.wait_state(task.id, TaskState.AWAITING_APPROVAL, TaskState.ESCALATED,
                                   TaskState.FAILED, TaskState.RESOLVED)
    assert waiting.state is TaskState.AWAITING_APPROVAL, waiting.outcome
    assert waiting.decision is not None and waiting.decision.kind is DecisionKind.SUGGEST
    await hub.decide(task.id, "reject", actor="jordan")


async def test_a_rejected_shadow_plan_keeps_the_runbook_in_shadow(env: FleetEnv,
                                                                 hub: Hub) -> None:
    """Two endorsements, then a plan the engineer says was wrong (`ccm reject`), then two
    more: four endorsements in all, but not three in a row — still shadow."""
    for host in ("web-01", "web-02"):
        full_disk(env.roots[host])
    await hub.set_runbook_mode("disk-full", "web", RunbookMode.SHADOW)
    await env.start_daemon(health_interval=None)
    for i, kind in enumerate(("approve", "approve", "reject", "approve", "approve")):
        # two hosts in turn: a third firing on one host is under the recurrence breaker
        task = await env.alert(("web-01", "web-02")[i % 2], run=str(i))
        done = await env.wait_state(task.id, TaskState.ESCALATED, TaskState.RESOLVED,
                                    TaskState.FAILED)
        assert done.decision is not None and done.decision.kind is DecisionKind.SHADOW
        await hub.decide(task.id, kind, actor="jordan")
    deadline = asyncio.get_running_loop().time() + 20
    while any(a.relayed_at is None for a in await hub.list_approvals()):
        assert asyncio.get_running_loop().time() < deadline, "a decision was never taken in"
        await asyncio.sleep(0.2)
    assert await _mode(hub) is RunbookMode.SHADOW
    assert not [e for e in await hub.list_audit() if e.action == "runbook.promote"]
    assert (await hub.get_task(task.id)).state is TaskState.ESCALATED
