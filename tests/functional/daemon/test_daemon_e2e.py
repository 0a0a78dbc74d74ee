"""Alert → agent over SSH in tmux → fix → verified, streamed into the hub."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from ccm_tui.core import Silence, parse_matcher, utcnow
from ccm_tui.core.model import DecisionKind, TaskState
from ccm_tui.hub import Hub
from tests.functional.daemon.conftest import FleetEnv, full_disk


def transcript_ok(seqs: list[int]) -> bool:
    return seqs == list(range(1, len(seqs) + 1))


async def test_disk_full_is_fixed_automatically(env: FleetEnv, hub: Hub) -> None:
    root = full_disk(env.roots["web-01"])
    await env.start_daemon()
    task = await env.alert("web-01")
    done = await env.wait_state(task.id, TaskState.RESOLVED, TaskState.FAILED,
                                TaskState.ESCALATED)
    assert done.state is TaskState.RESOLVED, done.outcome
    assert done.runbook == "disk-full" and done.decision is not None
    assert done.decision.kind is DecisionKind.AUTO and done.confidence is not None
    assert done.lease_owner is None and done.finished_at is not None
    events = await hub.list_events(task.id)
    assert transcript_ok([e.seq for e in events])
    types = [e.type for e in events]
    assert types[0] == "started" and types[-1] == "finished"
    assert {"decision", "action", "verified"} <= set(types)
    assert len(list((root / "var/log/app").iterdir())) == 1  # only the live log is left
    for _ in range(100):  # the outcome is learned just after the task is resolved
        stats = [s for s in await hub.runbook_stats("disk-full") if s.host_group == "web"]
        if stats:
            break
        await asyncio.sleep(0.05)
    assert [s.successes for s in stats] == [1]
    # The resolved task's tmux session was removed.
    for _ in range(50):
        if f"ccm-{task.id}" not in env.tmux_sessions():
            break
        await asyncio.sleep(0.1)
    assert f"ccm-{task.id}" not in env.tmux_sessions()


async def test_suggestion_waits_for_approval_then_fixes(env: FleetEnv, hub: Hub) -> None:
    root = full_disk(env.roots["web-01"])
    await hub.set_paused(True, actor="jordan", reason="change freeze")
    await env.start_daemon()
    task = await env.alert("web-01")
    waiting = await env.wait_state(task.id, TaskState.AWAITING_APPROVAL, TaskState.FAILED,
                                   TaskState.ESCALATED)
    assert waiting.state is TaskState.AWAITING_APPROVAL
    assert waiting.decision is not None and waiting.decision.kind is DecisionKind.SUGGEST
    assert any("paused" in r for r in waiting.decision.reasons)
    assert len(list((root / "var/log/app").iterdir())) == 9  # nothing touched yet
    await hub.decide(task.id, "approve", actor="jordan", note="go ahead")
    done = await env.wait_state(task.id, TaskState.RESOLVED, TaskState.FAILED,
                                TaskState.ESCALATED)
    assert done.state is TaskState.RESOLVED, done.outcome
    [approval] = await hub.list_approvals(task.id)
    assert approval.relayed_at is not None
    types = [e.type for e in await hub.list_events(task.id)]
    assert types.index("approval_requested") < types.index("finished")
    assert len(list((root / "var/log/app").iterdir())) == 1


async def test_a_maintenance_window_turns_an_earlier_task_into_a_suggestion(
        env: FleetEnv, hub: Hub) -> None:
    """The task was made before the deploy's window opened: it must not restart or
    delete anything on its own during the window; it waits for a human."""
    root = full_disk(env.roots["web-01"])
    task = await env.alert("web-01")
    now = utcnow()
    await hub.add_silence(Silence((parse_matcher("host=~web-.*"),), now - timedelta(minutes=1),
                                  now + timedelta(hours=1), reason="deploy", created_by="jordan"))
    await hub.add_silence(Silence((parse_matcher("host=db-01"),), now - timedelta(minutes=1),
                                  now + timedelta(hours=1), reason="not this host"))
    await env.start_daemon()
    waiting = await env.wait_state(task.id, TaskState.AWAITING_APPROVAL, TaskState.FAILED,
                                   TaskState.ESCALATED, TaskState.RESOLVED)
    assert waiting.state is TaskState.AWAITING_APPROVAL, waiting.outcome
    assert waiting.decision is not None and waiting.decision.kind is DecisionKind.SUGGEST
    assert any("silence" in r and "deploy" in r for r in waiting.decision.reasons), \
        waiting.decision.reasons
    assert len(list((root / "var/log/app").iterdir())) == 9  # nothing touched
    await hub.decide(task.id, "reject", actor="jordan")
    await env.wait_state(task.id, TaskState.CANCELLED)


async def test_reject_cancels_and_touches_nothing(env: FleetEnv, hub: Hub) -> None:
    root = full_disk(env.roots["web-01"])
    await hub.set_paused(True, actor="jordan")
    await env.start_daemon()
    task = await env.alert("web-01")
    await env.wait_state(task.id, TaskState.AWAITING_APPROVAL)
    await hub.decide(task.id, "reject", actor="sam", note="not during the sale")
    for _ in range(200):
        events = await hub.list_events(task.id)
        if events and events[-1].type == "finished":
            break
        await asyncio.sleep(0.1)
    assert events[-1].data["outcome"] == "rejected"
    assert (await hub.get_task(task.id)).state is TaskState.CANCELLED
    assert len(list((root / "var/log/app").iterdir())) == 9


async def test_unmanaged_host_escalates_without_an_agent(env: FleetEnv, hub: Hub) -> None:
    await env.start_daemon()
    task = await env.alert("mystery-01")
    done = await env.wait_state(task.id, TaskState.ESCALATED)
    assert "not in the inventory" in (done.outcome or "")
    assert await hub.list_events(task.id) == []
