"""``a`` on a task a shadow-mode runbook escalated endorses its plan, ``r`` rejects it
(real hub)."""

from __future__ import annotations

from typing import Any

from ccm_tui.app import CCMApp
from ccm_tui.core.lifecycle import decision_from_agent
from ccm_tui.core.model import ApprovalKind, Task, new_task_id
from ccm_tui.core.states import TaskState
from tests.functional.tui.conftest import loaded, wait_for, wait_hub
from tests.functional.tui.seed import fixed_clock, seed


async def _shadow_escalation(hub: Any) -> Task:
    """A task a shadow-mode runbook escalated with its dry-run plan (on the seeded hub)."""
    await seed(hub)
    t = await hub.create_task(Task(id=new_task_id(), host="web-07", alertname="DiskFull"))
    shadow = decision_from_agent({"verdict": "shadow", "confidence": 0.93, "risk": "low",
                                  "runbook": "disk-full", "mode": "shadow"})
    for state in (TaskState.CLAIMED, TaskState.DIAGNOSING):
        t = await hub.transition(t.id, state, runbook="disk-full", decision=shadow)
    return await hub.transition(t.id, TaskState.ESCALATED, outcome="noop")


async def test_a_on_a_shadow_escalation_endorses_it(hub_url: str, hub: Any) -> None:
    t = await _shadow_escalation(hub)
    app = CCMApp(hub, actor="jordan", clock=fixed_clock)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await loaded(pilot)
        await wait_for(pilot, lambda: t.id in screen.snap.tasks)
        assert screen.timeline.select_task(t.id)
        await wait_for(pilot, lambda: screen.selected == t.id)
        await pilot.press("a")
        found = await wait_hub(pilot, lambda: hub.list_approvals(t.id), bool)
        assert [(a.kind, a.actor) for a in found] == [(ApprovalKind.APPROVE, "jordan")]
        await wait_for(pilot, lambda: any("endorsed" in str(n.message)
                                          for n in app._notifications))
        assert (await hub.get_task(t.id)).state is TaskState.ESCALATED


async def test_r_on_a_shadow_escalation_says_the_plan_was_wrong(hub_url: str, hub: Any) -> None:
    t = await _shadow_escalation(hub)
    app = CCMApp(hub, actor="jordan", clock=fixed_clock)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await loaded(pilot)
        await wait_for(pilot, lambda: t.id in screen.snap.tasks)
        assert screen.timeline.select_task(t.id)
        await wait_for(pilot, lambda: screen.selected == t.id)
        await pilot.press("r", *"wrong unit", "enter")
        found = await wait_hub(pilot, lambda: hub.list_approvals(t.id), bool)
        assert [(a.kind, a.actor, a.note) for a in found] == [
            (ApprovalKind.REJECT, "jordan", "wrong unit")]
        await wait_for(pilot, lambda: any("endorsements start again" in str(n.message)
                                          for n in app._notifications))
        assert (await hub.get_task(t.id)).state is TaskState.ESCALATED
