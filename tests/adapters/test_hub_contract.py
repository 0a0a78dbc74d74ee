"""The hub contract: every adapter (SQLite file, real PostgreSQL) behaves the same."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from ccm_tui.core import (
    ApprovalKind,
    ConflictError,
    Decision,
    DecisionKind,
    Event,
    HealthSnapshot,
    Host,
    IllegalTransition,
    InvalidDecision,
    LeaseLost,
    NotFound,
    Risk,
    RunbookMode,
    Severity,
    TaskState,
    utcnow,
)
from ccm_tui.hub import Hub, TaskQuery
from tests.support.hub_builders import task, to_state


# -- hosts and health ---------------------------------------------------------------------
async def test_hosts_upsert_and_read(hub: Hub) -> None:
    n = await hub.upsert_hosts([
        Host("web-01", "10.0.0.1", 22, "ops", ("web",), {"env": "prod"}),
        Host("db-01", "10.0.0.9", 2222, "ops", ("db", "prod"), {}),
    ])
    assert n == 2
    assert [h.name for h in await hub.list_hosts()] == ["db-01", "web-01"]
    db = await hub.get_host("db-01")
    assert (db.port, db.groups, db.group) == (2222, ("db", "prod"), "db")
    assert await hub.upsert_hosts([Host("web-01", "10.0.0.1", 22, "ops", ("web",), {"env": "prod"})]) == 0
    await hub.upsert_hosts([Host("web-01", "10.0.0.2", 22, "ops", ("web",), {"env": "prod"})])
    assert (await hub.get_host("web-01")).address == "10.0.0.2"
    with pytest.raises(NotFound):
        await hub.get_host("nope")


async def test_health_history_and_latest(hub: Hub) -> None:
    t0 = utcnow()
    for i in range(5):
        await hub.record_health(HealthSnapshot("web-01", t0 + timedelta(seconds=i), cpu_pct=i,
                                               disk_pct=50 + i, data={"i": i}))
    await hub.record_health(HealthSnapshot("db-01", t0, reachable=False))
    hist = await hub.health_history("web-01", limit=3)
    assert [s.cpu_pct for s in hist] == [2, 3, 4]
    latest = await hub.latest_health()
    assert latest["web-01"].data == {"i": 4} and latest["db-01"].reachable is False


# -- tasks --------------------------------------------------------------------------------
async def test_create_get_list_and_prefix(hub: Hub) -> None:
    a = await hub.create_task(task("web-01", severity=Severity.CRITICAL, summary="disk 95%"))
    b = await hub.create_task(task("db-01", "ServiceDown", spec={"k": [1, 2]}))
    got = await hub.get_task(a.id)
    assert got.summary == "disk 95%" and got.state is TaskState.NEW and got.version == 1
    assert (await hub.get_task(b.id[:8] if b.id[:8] != a.id[:8] else b.id)).id == b.id
    assert (await hub.get_task(b.id)).spec == {"k": [1, 2]}
    with pytest.raises(NotFound):
        await hub.get_task("t-doesnotexist")
    assert {t.id for t in await hub.list_tasks()} == {a.id, b.id}
    assert [t.id for t in await hub.list_tasks(TaskQuery(host="db-01"))] == [b.id]
    assert [t.id for t in await hub.list_tasks(TaskQuery(states=[TaskState.NEW], limit=1))]
    assert await hub.list_tasks(TaskQuery(states=[TaskState.RESOLVED])) == []
    assert (await hub.find_open_task("web-01", "DiskFull")).id == a.id  # type: ignore[union-attr]
    assert await hub.find_open_task("web-01", "Other") is None


async def test_update_task_optimistic_concurrency(hub: Hub) -> None:
    t = await hub.create_task(task())
    t2 = await hub.update_task(t.id, t.version, note="first")
    assert t2.version == t.version + 1 and t2.note == "first"
    with pytest.raises(ConflictError):
        await hub.update_task(t.id, t.version, note="stale writer")
    assert (await hub.get_task(t.id)).note == "first"


async def test_state_machine_enforced(hub: Hub) -> None:
    t = await hub.create_task(task())
    with pytest.raises(IllegalTransition):
        await hub.update_task(t.id, t.version, state=TaskState.REMEDIATING)
    decision = Decision(DecisionKind.SUGGEST, 0.72, 0.9, 0.8, Risk.LOW, 1.0, reasons=("x",))
    t = await to_state(hub, t, TaskState.CLAIMED, TaskState.DIAGNOSING)
    t = await hub.update_task(t.id, t.version, state=TaskState.AWAITING_APPROVAL,
                              decision=decision, confidence=0.72, risk=Risk.LOW)
    assert t.decision == decision and t.risk is Risk.LOW
    t = await to_state(hub, t, TaskState.REMEDIATING, TaskState.VERIFYING, TaskState.RESOLVED)
    assert t.finished_at is not None and t.started_at is not None
    with pytest.raises(IllegalTransition):
        await hub.transition(t.id, TaskState.NEW)


async def test_transition_helper_retries_on_conflict(hub: Hub) -> None:
    t = await hub.create_task(task())
    await hub.update_task(t.id, t.version, note="moved")
    done = await hub.transition(t.id, TaskState.RESOLVED_UPSTREAM, outcome="resolved upstream")
    assert done.state is TaskState.RESOLVED_UPSTREAM and done.outcome == "resolved upstream"


# -- leases -------------------------------------------------------------------------------
async def test_claim_lease_renew_release(hub: Hub) -> None:
    warn = await hub.create_task(task("web-01"))
    crit = await hub.create_task(task("web-02", severity=Severity.CRITICAL))
    got = await hub.claim_next_task("daemon-a", lease_seconds=30)
    assert got is not None and got.id == crit.id  # most urgent first
    assert got.state is TaskState.CLAIMED and got.lease_owner == "daemon-a"
    assert got.lease_expires_at is not None and got.lease_expires_at > utcnow()
    second = await hub.claim_next_task("daemon-b")
    assert second is not None and second.id == warn.id
    assert await hub.claim_next_task("daemon-c") is None
    renewed = await hub.renew_lease(crit.id, "daemon-a", lease_seconds=60)
    assert renewed.lease_expires_at > got.lease_expires_at  # type: ignore[operator]
    with pytest.raises(LeaseLost):
        await hub.renew_lease(crit.id, "daemon-b")
    back = await hub.release_lease(warn.id, "daemon-b", requeue=True)
    assert back.state is TaskState.NEW and back.lease_owner is None
    with pytest.raises(LeaseLost):
        await hub.release_lease(warn.id, "daemon-b")


async def test_one_task_per_host_at_a_time(hub: Hub) -> None:
    first = await hub.create_task(task("web-01", "DiskFull"))
    await hub.create_task(task("web-01", "ServiceDown"))
    claimed = await hub.claim_next_task("d1")
    assert claimed is not None and claimed.id == first.id
    assert await hub.claim_next_task("d2") is None  # the host is busy


async def test_expired_lease_is_taken_over(hub: Hub) -> None:
    t = await hub.create_task(task())
    got = await hub.claim_next_task("dead-daemon", lease_seconds=0.05)
    assert got is not None
    got = await hub.update_task(got.id, got.version, state=TaskState.DIAGNOSING)
    await asyncio.sleep(0.2)
    taken = await hub.claim_next_task("live-daemon", lease_seconds=30)
    assert taken is not None and taken.id == t.id
    assert taken.lease_owner == "live-daemon" and taken.state is TaskState.DIAGNOSING
    assert taken.attempts == 2
    with pytest.raises(LeaseLost):
        await hub.renew_lease(t.id, "dead-daemon")


async def test_claim_limited_to_the_daemons_hosts(hub: Hub) -> None:
    mine = await hub.create_task(task("web-01"))
    theirs = await hub.create_task(task("db-01"))
    unmanaged = await hub.create_task(task("x-99", managed=False))
    got = [await hub.claim_next_task("d-web", hosts=["web-01"]) for _ in range(2)]
    assert {t.id for t in got if t} == {mine.id, unmanaged.id}  # unmanaged: anyone's
    assert await hub.claim_next_task("d-web", hosts=["web-01"], others_after=60) is None
    assert await hub.claim_next_task("d-empty", hosts=[], others_after=60) is None
    # Handed back by the daemon that knows db-01: still not for one that does not.
    held = await hub.claim_next_task("d-db", hosts=["db-01"])
    assert held is not None and held.id == theirs.id
    await to_state(hub, held, TaskState.DIAGNOSING, TaskState.AWAITING_APPROVAL)
    await hub.release_lease(theirs.id, "d-db")
    assert await hub.claim_next_task("d-empty", hosts=[], others_after=60) is None
    back = await hub.claim_next_task("d-db2", hosts=["db-01"])
    assert back is not None and back.state is TaskState.AWAITING_APPROVAL


async def test_unmanaged_task_whose_host_a_daemon_synced_since(hub: Hub) -> None:
    early = await hub.create_task(task("db-05", managed=False))  # before any daemon synced
    await hub.upsert_hosts([Host("db-05", "10.0.0.5", 22, "ops", ("db",), {})])
    assert await hub.claim_next_task("d-empty", hosts=[], others_after=60) is None
    got = await hub.claim_next_task("d-db", hosts=["db-05"])
    assert got is not None and got.id == early.id


async def test_claim_of_another_hosts_task_after_the_grace(hub: Hub) -> None:
    hour_ago = utcnow() - timedelta(hours=1)
    stale = await hub.create_task(task("db-02", created_at=hour_ago, updated_at=hour_ago))
    # db-03's old task waits: another task just ended there (a daemon is about).
    await hub.create_task(task("db-03", created_at=hour_ago, updated_at=hour_ago))
    done = await hub.create_task(task("db-03", "ServiceDown", created_at=hour_ago))
    await to_state(hub, done, TaskState.RESOLVED_UPSTREAM)
    got = await hub.claim_next_task("d-empty", hosts=[], others_after=60)
    assert got is not None and got.id == stale.id
    assert await hub.claim_next_task("d-empty", hosts=[], others_after=60) is None
    # An expired lease counts from its end.
    expired = await hub.create_task(task("db-04"))
    assert (await hub.claim_next_task("dead", hosts=["db-04"], lease_seconds=0.05)) is not None
    await asyncio.sleep(0.2)
    assert await hub.claim_next_task("d-empty", hosts=[], others_after=60) is None
    late = await hub.claim_next_task("d-empty", hosts=[], others_after=0.1)
    assert late is not None and late.id == expired.id


async def test_a_busy_daemon_that_has_the_host_keeps_its_waiting_tasks(hub: Hub) -> None:
    """The daemon with db-06 is full (it claims nothing) for longer than the grace: its
    note that it can reach db-06 keeps the task from a daemon that cannot run it."""
    hour_ago = utcnow() - timedelta(hours=1)
    waiting = await hub.create_task(task("db-06", created_at=hour_ago, updated_at=hour_ago))
    await hub.note_daemon_hosts("d-db", ["db-06", "db-07"])
    assert await hub.claim_next_task("d-empty", hosts=[], others_after=60) is None
    await hub.note_daemon_hosts("d-db", ["db-07"])  # its inventory lost db-06
    got = await hub.claim_next_task("d-empty", hosts=[], others_after=60)
    assert got is not None and got.id == waiting.id


async def test_a_daemon_that_stopped_or_went_quiet_no_longer_holds_its_hosts(hub: Hub) -> None:
    hour_ago = utcnow() - timedelta(hours=1)
    waiting = await hub.create_task(task("db-08", created_at=hour_ago, updated_at=hour_ago))
    await hub.note_daemon_hosts("d-a", ["db-08"])
    await hub.note_daemon_hosts("d-b", ["db-08"])
    await hub.note_daemon_hosts("d-a", [])  # stopped: forgotten at once
    assert await hub.claim_next_task("d-empty", hosts=[], others_after=60) is None  # d-b
    await asyncio.sleep(0.2)  # d-b is killed and says nothing more
    got = await hub.claim_next_task("d-empty", hosts=[], others_after=0.1)
    assert got is not None and got.id == waiting.id


# -- events -------------------------------------------------------------------------------
async def test_events_append_idempotent_and_ordered(hub: Hub) -> None:
    t = await hub.create_task(task())
    evs = [Event(t.id, i, "step", utcnow(), {"i": i, "text": "ü ☃"}) for i in range(1, 6)]
    assert await hub.append_events(evs) == 5
    assert await hub.append_events(evs[2:]) == 0
    assert await hub.append_event(Event(t.id, 6, "finished", utcnow(), {"outcome": "resolved"}))
    assert not await hub.append_event(evs[0])
    assert await hub.last_seq(t.id) == 6
    assert [e.seq for e in await hub.list_events(t.id, after_seq=3)] == [4, 5, 6]
    assert (await hub.list_events(t.id))[0].data == {"i": 1, "text": "ü ☃"}
    assert await hub.last_seq("t-none") == 0
    with pytest.raises(NotFound):
        await hub.append_event(Event("t-none", 1, "started", utcnow()))


# -- approvals and audit --------------------------------------------------------------------
async def test_decisions(hub: Hub) -> None:
    t = await hub.create_task(task())
    with pytest.raises(InvalidDecision):
        await hub.decide(t.id, ApprovalKind.APPROVE, actor="jordan")
    t = await to_state(hub, t, TaskState.CLAIMED, TaskState.DIAGNOSING,
                       TaskState.AWAITING_APPROVAL)
    ap = await hub.decide(t.id, "approve", actor="jordan", note="go")
    assert ap.kind is ApprovalKind.APPROVE and ap.actor == "jordan" and ap.id
    assert (await hub.get_task(t.id)).state is TaskState.AWAITING_APPROVAL
    assert [a.id for a in await hub.list_approvals(unrelayed_only=True)] == [ap.id]
    await hub.mark_relayed(ap.id or 0)
    assert await hub.list_approvals(unrelayed_only=True) == []

    r = await to_state(hub, await hub.create_task(task("web-02")), TaskState.CLAIMED,
                       TaskState.DIAGNOSING, TaskState.AWAITING_APPROVAL)
    await hub.decide(r.id, ApprovalKind.REJECT, actor="sam")
    rejected = await hub.get_task(r.id)
    assert (rejected.state, rejected.outcome) == (TaskState.CANCELLED, "rejected")

    e = await hub.create_task(task("web-03"))
    await hub.decide(e.id, ApprovalKind.ESCALATE, actor="sam", note="looks odd")
    assert (await hub.get_task(e.id)).state is TaskState.ESCALATED
    with pytest.raises(InvalidDecision):
        await hub.decide(e.id, ApprovalKind.ESCALATE, actor="sam")

    audit = await hub.list_audit()
    assert [(x.actor, x.action) for x in audit][:3] == [
        ("sam", "escalate"), ("sam", "reject"), ("jordan", "approve")]
    assert audit[2].target == t.id and audit[2].detail["note"] == "go"


async def test_audit_log(hub: Hub) -> None:
    entry = await hub.audit("jordan", "fleet.trust", "web-01", {"key": "SHA256:abc"})
    assert entry.id and (await hub.list_audit(limit=1))[0].detail == {"key": "SHA256:abc"}


# -- runbook stats --------------------------------------------------------------------------
async def test_runbook_stats(hub: Hub) -> None:
    for ok in (True, True, False):
        stats = await hub.record_runbook_outcome("disk-full", "web", success=ok)
    assert (stats.successes, stats.failures) == (2, 1)
    assert stats.success_rate == pytest.approx(21 / 23) and stats.streak == 0
    stats = await hub.record_runbook_outcome("disk-full", "web", approved=True)
    assert stats.approvals == 1 and stats.successes == 2
    assert stats.streak == 0  # the failure reset it
    stats = await hub.record_runbook_outcome("disk-full", "web", success=True)
    assert stats.streak == 1
    stats = await hub.set_runbook_mode("disk-full", "web", RunbookMode.AUTO)
    assert stats.mode is RunbookMode.AUTO and stats.successes == 3 and stats.streak == 0
    await hub.record_runbook_outcome("disk-full", "db", success=False)
    assert [s.host_group for s in await hub.runbook_stats("disk-full")] == ["db", "web"]
    assert len(await hub.runbook_stats()) == 2


async def test_a_tasks_outcome_counts_once(hub: Hub) -> None:
    first = await hub.record_task_outcome("t-1", "disk-full", "web", success=True, approved=True)
    assert first is not None and (first.successes, first.approvals, first.streak) == (1, 1, 1)
    # the same task finished again (a daemon took it over and replayed its journal)
    assert await hub.record_task_outcome("t-1", "disk-full", "web", success=True) is None
    assert await hub.record_task_outcome("t-1", "disk-full", "web", success=False) is None
    other = await hub.record_task_outcome("t-2", "disk-full", "web", success=True)
    assert other is not None and (other.successes, other.failures, other.streak) == (2, 0, 2)
    [stats] = await hub.runbook_stats("disk-full")
    assert (stats.successes, stats.failures, stats.approvals) == (2, 0, 1)


async def test_concurrent_finishes_of_one_task_count_once(hub: Hub) -> None:
    counted = await asyncio.gather(*(
        hub.record_task_outcome("t-9", "oom", "db", success=True) for _ in range(8)))
    assert sum(c is not None for c in counted) == 1
    [stats] = await hub.runbook_stats("oom")
    assert stats.successes == 1


# -- outbox -------------------------------------------------------------------------------
async def test_outbox_delivery_cycle(hub: Hub) -> None:
    assert await hub.enqueue("slack", {"text": "fixed"}, dedup_key="slack:t1:resolved")
    assert not await hub.enqueue("slack", {"text": "again"}, dedup_key="slack:t1:resolved")
    assert await hub.enqueue("pagerduty", {"event_action": "trigger"}, dedup_key="pd:t2")
    a = await hub.claim_outbox("worker-a", limit=1)
    b = await hub.claim_outbox("worker-b", limit=5)
    assert [m.channel for m in a] == ["slack"] and [m.channel for m in b] == ["pagerduty"]
    assert await hub.claim_outbox("worker-c") == []
    await hub.mark_sent(a[0].id, "worker-a")
    with pytest.raises(LeaseLost):
        await hub.mark_sent(b[0].id, "worker-a")
    await hub.mark_failed(b[0].id, "worker-b", error="HTTP 500", retry_at=utcnow())
    retry = await hub.claim_outbox("worker-b")
    assert [m.attempts for m in retry] == [2] and retry[0].last_error == "HTTP 500"
    await hub.mark_failed(retry[0].id, "worker-b", error="HTTP 400", retry_at=None)
    assert [m.state.value for m in await hub.list_outbox()] == ["dead", "sent"]
    assert await hub.claim_outbox("worker-b") == []


# -- control ------------------------------------------------------------------------------
async def test_pause_resume(hub: Hub) -> None:
    assert (await hub.get_control()).paused is False
    c = await hub.set_paused(True, actor="jordan", reason="deploy")
    assert c.paused and c.actor == "jordan" and c.reason == "deploy"
    assert (await hub.get_control()).paused
    assert not (await hub.set_paused(False, actor="jordan")).paused
    assert [e.action for e in await hub.list_audit()][:2] == ["resume", "pause"]
