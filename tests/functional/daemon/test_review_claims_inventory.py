"""Two daemons on one hub whose inventories disagree: a daemon that does not know a host
leaves its tasks to one that does, escalates them only when none has taken them for a
while, and still escalates an unmanaged host's task at once."""

from __future__ import annotations

from typing import Any

from ccm_tui.core.states import TaskState
from ccm_tui.daemon.dispatcher import Daemon
from ccm_tui.fleet.inventory import FleetHost, sync_to_hub
from ccm_tui.hub import Hub
from tests.functional.daemon.conftest import FleetEnv, full_disk


async def start_with(env: FleetEnv, hosts: list[FleetHost], **kw: Any) -> Daemon:
    """A daemon whose inventory is ``hosts`` (the test fleet's pool and known hosts)."""
    return await env.start_daemon(hosts, health_interval=None, **kw)


async def test_a_daemon_without_the_host_leaves_its_tasks_to_one_that_has_it(
        env: FleetEnv, hub: Hub) -> None:
    full_disk(env.roots["web-01"])
    await hub.set_paused(True, actor="jordan", reason="change freeze")
    first = await env.start_daemon(health_interval=None)
    task = await env.alert("web-01")
    await env.wait_state(task.id, TaskState.AWAITING_APPROVAL)
    await env.stop_daemons()  # hands the waiting task back: its lease is released
    assert first.handed_back == [task.id]

    empty = await start_with(env, [], lease_seconds=3.0)
    stranger = await env.alert("x-99")  # a host no inventory has: escalated at once
    assert not stranger.managed
    done = await env.wait_state(stranger.id, TaskState.ESCALATED)
    assert done.outcome == "escalated: host not in the inventory; no agent was started"
    # The empty daemon has claimed since the hand-back, yet left the waiting task alone.
    waiting = await hub.get_task(task.id)
    assert waiting.state is TaskState.AWAITING_APPROVAL and waiting.lease_owner is None
    assert empty.claimed == [stranger.id]

    await hub.decide(task.id, "approve", actor="jordan")
    second = await env.start_daemon(health_interval=None)
    fixed = await env.wait_state(task.id, TaskState.RESOLVED, TaskState.FAILED,
                                 TaskState.ESCALATED)
    assert fixed.state is TaskState.RESOLVED, fixed.outcome
    assert fixed.attempts == 2 and second.claimed == [task.id]
    assert empty.claimed == [stranger.id]


async def test_a_task_no_daemon_takes_is_escalated_after_the_grace(
        env: FleetEnv, hub: Hub) -> None:
    knows = await env.start_daemon(health_interval=None)  # puts web-0x in the hub
    await env.stop_daemons()
    assert knows.claimed == []
    empty = await start_with(env, [], lease_seconds=1.0, owner="night-daemon")
    task = await env.alert("web-02", "Unknown")
    assert task.managed
    done = await env.wait_state(task.id, TaskState.ESCALATED, timeout=60)
    assert done.outcome == ("escalated: no daemon took it for 4s; daemon night-daemon saw it, "
                            "but its inventory lacks host web-02; no agent was started")
    assert "add web-02 to the inventory of night-daemon" in (done.note or "")
    assert empty.claimed == [task.id] and await hub.list_events(task.id) == []


async def test_an_alert_taken_before_any_daemon_synced_waits_for_one_that_has_the_host(
        env: FleetEnv, hub: Hub) -> None:
    early = await env.alert("web-01", "Unknown")  # the webhook ran first: hub knows no host
    assert not early.managed
    await sync_to_hub(hub, env.inventory)  # as a daemon that has web-01 does at start
    empty = await start_with(env, [])
    stranger = await env.alert("x-99")
    await env.wait_state(stranger.id, TaskState.ESCALATED)
    assert (await hub.get_task(early.id)).state is TaskState.NEW
    assert empty.claimed == [stranger.id]
    knows = await env.start_daemon(health_interval=None)
    done = await env.wait_state(early.id, TaskState.ESCALATED, TaskState.RESOLVED,
                                TaskState.FAILED)
    assert knows.claimed == [early.id] and empty.claimed == [stranger.id]
    assert [e.type for e in await hub.list_events(early.id)][:1] == ["started"], done.outcome


async def test_a_handed_back_task_no_daemon_takes_names_the_agent_left_running(
        env: FleetEnv, hub: Hub) -> None:
    full_disk(env.roots["web-01"])
    await hub.set_paused(True, actor="jordan")
    await env.start_daemon(health_interval=None)
    task = await env.alert("web-01")
    await env.wait_state(task.id, TaskState.AWAITING_APPROVAL)
    await env.stop_daemons()  # the only daemon with web-01 is gone for good
    await start_with(env, [], lease_seconds=1.0, owner="night-daemon")
    done = await env.wait_state(task.id, TaskState.ESCALATED, timeout=60)
    assert done.outcome == (
        "escalated: no daemon took it for 4s; daemon night-daemon saw it, but its inventory "
        f"lacks host web-01; its agent on web-01 (tmux session ccm-{task.id}) is no longer "
        "followed")


async def test_a_busy_daemon_keeps_its_waiting_task_past_the_grace(
        env: FleetEnv, hub: Hub) -> None:
    """The daemon with web-01 and web-02 is full (one session, held by a fix that waits
    for approval) for longer than the grace: the daemon without them leaves web-02's
    task alone, because the busy one keeps telling the hub it can reach web-02."""
    import asyncio

    full_disk(env.roots["web-01"])
    await hub.set_paused(True, actor="jordan")
    busy = await env.start_daemon(health_interval=None, max_sessions=1, lease_seconds=1.0)
    first = await env.alert("web-01")
    await env.wait_state(first.id, TaskState.AWAITING_APPROVAL)
    empty = await start_with(env, [], lease_seconds=1.0, owner="night-daemon")
    waiting = await env.alert("web-02", "Unknown")
    await asyncio.sleep(4 * 1.0 * 2)  # twice the grace of the daemon without the host
    assert (await hub.get_task(waiting.id)).state is TaskState.NEW
    assert empty.claimed == []
    await hub.decide(first.id, "approve", actor="jordan")
    await env.wait_state(first.id, TaskState.RESOLVED, TaskState.FAILED, TaskState.ESCALATED)
    done = await env.wait_state(waiting.id, TaskState.ESCALATED, TaskState.RESOLVED,
                                TaskState.FAILED, timeout=60)
    assert busy.claimed == [first.id, waiting.id], done.outcome
    assert empty.claimed == []
