"""An endorsement of a shadow run on a host one daemon does not know is left for the
daemon that has the host (and its group), not marked relayed unlearned."""

from __future__ import annotations

import asyncio

from ccm_tui.core.model import Decision, DecisionKind, Risk, RunbookMode
from ccm_tui.core.states import TaskState
from ccm_tui.hub import Hub
from tests.functional.daemon.conftest import FleetEnv
from tests.functional.daemon.test_review_claims_inventory import start_with
from tests.support.hub_builders import task as new_task
from tests.support.hub_builders import to_state


async def test_the_daemon_without_the_host_leaves_the_endorsement(env: FleetEnv,
                                                                  hub: Hub) -> None:
    knows = await env.start_daemon(health_interval=None)  # puts web-0x in the hub
    await env.stop_daemons()
    await hub.set_runbook_mode("disk-full", "web", RunbookMode.SHADOW)
    shadow = Decision(DecisionKind.SHADOW, 0.95, 0.95, 1.0, Risk.LOW, 1.0,
                      mode=RunbookMode.SHADOW, runbook="disk-full")
    t = await hub.create_task(new_task("web-01"))
    t = await to_state(hub, t, TaskState.CLAIMED, TaskState.DIAGNOSING)
    await hub.update_task(t.id, t.version, state=TaskState.ESCALATED, decision=shadow,
                          runbook="disk-full", outcome="escalated: shadow run")
    await hub.decide(t.id, "approve", actor="jordan", note="that plan was right")

    empty = await start_with(env, [], promote_after=1)
    stranger = await env.alert("x-99")  # proof that the empty daemon has ticked since
    await env.wait_state(stranger.id, TaskState.ESCALATED)
    [approval] = await hub.list_approvals(t.id)
    assert approval.relayed_at is None  # not swallowed by a daemon that cannot learn it
    assert empty.claimed == [stranger.id]

    await start_with(env, list(knows.hosts.values()), promote_after=1)
    for _ in range(200):
        [approval] = await hub.list_approvals(t.id)
        if approval.relayed_at is not None:
            break
        await asyncio.sleep(0.1)
    assert approval.relayed_at is not None
    stats = {s.host_group: s for s in await hub.runbook_stats("disk-full")}
    assert stats["web"].mode is RunbookMode.SUGGEST  # the endorsement was learned
