"""The hub contract: every adapter (SQLite file, real PostgreSQL) behaves the same."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from ccm_tui.core import (
    AlertStatus,
    ApprovalKind,
    ChangeKind,
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
    Silence,
    Task,
    TaskState,
    parse_matcher,
    utcnow,
)
from ccm_tui.hub import Hub, TaskQuery
from tests.support.hub_builders import alert, task


async def to_state(hub: Hub, t: Task, *states: TaskState) -> Task:
    for s in states:
        t = await hub.update_task(t.id, t.version, state=s)
    return t


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


# -- alerts -------------------------------------------------------------------------------
async def test_record_alert_is_idempotent(hub: Hub) -> None:
    a = alert()
    first = await hub.record_alert(a)
    again = await hub.record_alert(a)
    assert first.is_new and not again.is_new
    assert again.alert.id == first.alert.id and again.alert.seen_count == 2
    resolved = await hub.record_alert(alert(status=AlertStatus.RESOLVED, starts_at=a.starts_at))
    assert resolved.is_new
    refired = await hub.record_alert(alert(starts_at=a.starts_at + timedelta(minutes=5)))
    assert refired.is_new
    assert len(await hub.list_alerts(fingerprint="abc123")) == 3
    t = await hub.create_task(task())
    await hub.link_alert(first.alert.id or 0, t.id)
    stored = await hub.list_alerts(fingerprint="abc123")
    assert {x.task_id for x in stored if x.id == first.alert.id} == {t.id}
    assert stored[-1].labels["instance"] == "web-01:9100"



async def test_latest_alert_is_the_newest_without_documents(hub: Hub) -> None:
    assert await hub.latest_alert("nope") is None
    a = alert(fp="head")
    first = (await hub.record_alert(a)).alert
    head = await hub.latest_alert("head")
    assert head is not None and head.id == first.id and head.status is AlertStatus.FIRING
    assert head.starts_at == a.starts_at and head.task_id is None and head.suppressed is None
    done = (await hub.record_alert(alert(fp="head", status=AlertStatus.RESOLVED,
                                         starts_at=a.starts_at))).alert
    head = await hub.latest_alert("head")
    assert head is not None and head.id == done.id and head.status is AlertStatus.RESOLVED
    held = await hub.record_alert(alert(fp="head", starts_at=a.starts_at + timedelta(minutes=1),
                                        suppressed="flapping"))
    head = await hub.latest_alert("head")
    assert head is not None and (head.id, head.suppressed) == (held.alert.id, "flapping")
    assert head.id == (await hub.list_alerts(fingerprint="head", limit=1))[0].id


async def test_record_firing_creates_then_joins_in_one_go(hub: Hub) -> None:
    template = task(severity=Severity.WARNING, summary="disk full", spec={"alert": {"n": 1}})
    first = await hub.record_firing(alert(fp="f1", severity=Severity.WARNING), template)
    assert first.is_new and first.created and not first.joined
    assert first.alert.id is not None and first.alert.task_id == template.id
    t = await hub.get_task(template.id)
    assert (t.state, t.summary, t.spec, t.repeat_count, t.version) == (
        TaskState.NEW, "disk full", {"alert": {"n": 1}}, 0, 1)
    [stored] = await hub.list_alerts(fingerprint="f1")
    assert stored.task_id == template.id and stored.id == first.alert.id
    assert stored.labels == first.alert.labels and stored.seen_count == 1

    second = await hub.record_firing(alert(fp="f2", severity=Severity.CRITICAL), task())
    assert second.is_new and second.joined and not second.created
    assert second.alert.task_id == template.id
    t = await hub.get_task(template.id)
    assert (t.repeat_count, t.version, t.severity) == (1, 2, Severity.CRITICAL)
    third = await hub.record_firing(alert(fp="f3", severity=Severity.INFO), task())
    t = await hub.get_task(template.id)
    assert third.joined and (t.repeat_count, t.severity) == (2, Severity.CRITICAL)
    assert {a.fingerprint for a in await hub.list_alerts(task_id=template.id)} == {
        "f1", "f2", "f3"}
    assert len(await hub.list_tasks()) == 1

    again = await hub.record_firing(alert(fp="f1", starts_at=stored.starts_at), task())
    assert not again.is_new and not again.created and not again.joined
    assert again.alert.task_id == template.id and again.alert.seen_count == 2
    assert (await hub.get_task(template.id)).repeat_count == 2

    other = await hub.record_firing(alert(fp="f4", host="web-02"), task("web-02"))
    assert other.created and other.alert.task_id != template.id


async def test_record_firing_after_the_task_closed_makes_a_new_one(hub: Hub) -> None:
    old = await hub.record_firing(alert(fp="c1"), task())
    await hub.transition(old.alert.task_id or "", TaskState.CANCELLED)
    fresh = task()
    new = await hub.record_firing(alert(fp="c2"), fresh)
    assert new.created and new.alert.task_id == fresh.id
    assert (await hub.find_open_task("web-01", "DiskFull")).id == fresh.id  # type: ignore[union-attr]


async def test_record_firing_settles_an_alert_left_without_its_task(hub: Hub) -> None:
    a = alert(fp="orphan")
    left = (await hub.record_alert(a)).alert  # stored by an older receiver, then a crash
    rec = await hub.record_firing(a, t := task())
    assert not rec.is_new and rec.created and rec.alert.id == left.id
    assert rec.alert.task_id == t.id and rec.alert.seen_count == 2
    [stored] = await hub.list_alerts(fingerprint="orphan")
    assert stored.task_id == t.id


async def test_record_firing_stores_a_suppressed_alert_without_a_task(hub: Hub) -> None:
    rec = await hub.record_firing(alert(fp="quiet", suppressed="silenced:1"), task())
    assert rec.is_new and not rec.created and not rec.joined and rec.alert.task_id is None
    assert await hub.list_tasks() == []
    held = (await hub.record_alert(alert(fp="held", suppressed="flapping"))).alert
    again = await hub.record_firing(alert(fp="held", starts_at=held.starts_at), task())
    assert not again.is_new and not again.created and again.alert.suppressed == "flapping"
    assert await hub.list_tasks() == []


async def test_record_firing_is_all_or_nothing(hub: Hub) -> None:
    closed = await hub.create_task(task())
    await hub.transition(closed.id, TaskState.CANCELLED)
    clash = Task(id=closed.id, host="web-01", alertname="DiskFull")  # cannot be inserted
    with pytest.raises(ConflictError):
        await hub.record_firing(alert(fp="atomic"), clash)
    assert await hub.list_alerts(fingerprint="atomic") == []
    assert await hub.latest_alert("atomic") is None
    with pytest.raises(ValueError):
        await hub.record_firing(alert(fp="r", status=AlertStatus.RESOLVED), task())
    with pytest.raises(ValueError):
        await hub.record_firing(alert(fp="x"), task("db-01"))
    assert await hub.list_alerts() == []


async def test_record_firing_concurrent_writers_share_one_task(hub: Hub) -> None:
    async def fire(i: int) -> str:
        for _ in range(10):
            try:
                rec = await hub.record_firing(alert(fp=f"c{i}"), task())
            except ConflictError:
                continue  # another writer created the task first: join it
            assert rec.alert.task_id is not None
            return rec.alert.task_id
        raise AssertionError("never settled")

    ids = await asyncio.gather(*(fire(i) for i in range(12)))
    assert len(set(ids)) == 1
    t = await hub.get_task(ids[0])
    assert t.repeat_count == 11 and len(await hub.list_tasks()) == 1
    assert len(await hub.list_alerts(task_id=t.id)) == 12

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


# -- realtime -----------------------------------------------------------------------------
async def test_subscribe_sees_events_and_task_changes_in_order(hub: Hub) -> None:
    received: list[tuple[str, str | None]] = []
    ready = asyncio.Event()

    async def listen() -> None:
        sub = hub.subscribe([ChangeKind.EVENT, ChangeKind.TASK])
        it = sub.__aiter__()
        first = asyncio.ensure_future(it.__anext__())
        await asyncio.sleep(0.3)
        ready.set()
        ch = await first
        while True:
            received.append((ch.kind.value, ch.ref))
            if ch.kind is ChangeKind.EVENT and ch.event and ch.event.type == "finished":
                return
            ch = await it.__anext__()

    listener = asyncio.create_task(listen())
    await ready.wait()
    t = await hub.create_task(task())
    t = await to_state(hub, t, TaskState.CLAIMED)
    await hub.append_events([Event(t.id, 1, "started", utcnow()),
                             Event(t.id, 2, "finished", utcnow(), {"outcome": "noop"})])
    await hub.record_health(HealthSnapshot("web-01", utcnow()))  # filtered out
    await asyncio.wait_for(listener, timeout=10)
    assert received == [("task", "new"), ("task", "claimed"), ("event", "1"), ("event", "2")]


async def test_subscribe_since_replays_then_follows(hub: Hub) -> None:
    t = await hub.create_task(task())
    await hub.append_events([Event(t.id, i, "step", utcnow()) for i in (1, 2, 3)])
    seqs: list[int] = []
    sub = hub.subscribe([ChangeKind.EVENT], since=0)
    async for ch in sub:
        assert ch.event is not None and ch.task_id == t.id
        seqs.append(ch.event.seq)
        if ch.event.seq == 3:
            await hub.append_event(Event(t.id, 4, "finished", utcnow()))
        if ch.event.seq == 4:
            break
    assert seqs == [1, 2, 3, 4]


async def test_silences_reach_the_feed(hub: Hub) -> None:
    """Added and expired silences are changes, so a daemon holds fixes and the TUI
    redraws at once (ref: the silence id)."""
    sub = hub.subscribe([ChangeKind.SILENCE])
    it = sub.__aiter__()
    first = asyncio.ensure_future(it.__anext__())
    await asyncio.sleep(0.3)
    now = utcnow()
    s = await hub.add_silence(Silence((parse_matcher("host=web-01"),), now,
                                      now + timedelta(hours=1), "deploy", "jordan"))
    added = await asyncio.wait_for(first, 10)
    assert (added.kind, added.ref, added.task_id) == (ChangeKind.SILENCE, str(s.id), None)
    await hub.expire_silence(s.id or 0, actor="jordan")
    expired = await asyncio.wait_for(it.__anext__(), 10)
    assert (expired.kind, expired.ref) == (ChangeKind.SILENCE, str(s.id))
    await sub.aclose()  # type: ignore[attr-defined]


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


# -- ingest support -----------------------------------------------------------------------
async def test_one_open_task_per_host_and_alert(hub: Hub) -> None:
    first = await hub.create_task(task("web-01", "DiskFull"))
    with pytest.raises(ConflictError):
        await hub.create_task(task("web-01", "DiskFull"))
    await hub.transition(first.id, TaskState.RESOLVED_UPSTREAM)
    again = await hub.create_task(task("web-01", "DiskFull"))
    assert again.id != first.id


async def test_silences_and_firing_counts(hub: Hub) -> None:
    from ccm_tui.core import Silence, parse_matcher

    now = utcnow()
    s = await hub.add_silence(Silence((parse_matcher("host=~web-.*"),), now,
                                      now + timedelta(hours=2), "deploy", "jordan"))
    later = await hub.add_silence(Silence((parse_matcher("alertname=Backup"),),
                                          now + timedelta(hours=3), now + timedelta(hours=4),
                                          "maintenance", "jordan"))
    assert [x.id for x in await hub.list_silences()] == [s.id, later.id]
    assert [x.id for x in await hub.list_silences(active_at=now)] == [s.id]
    assert s.silences(alert(host="web-07"), now) and not s.silences(alert(host="db-01"), now)
    gone = await hub.expire_silence(s.id or 0, actor="jordan")
    assert gone.expired_at is not None and not gone.active_at(utcnow())
    assert [x.id for x in await hub.list_silences()] == [later.id]
    assert len(await hub.list_silences(include_expired=True)) == 2
    with pytest.raises(NotFound):
        await hub.expire_silence(999, actor="jordan")
    assert [e.action for e in await hub.list_audit()][:3] == [
        "silence.expire", "silence.add", "silence.add"]

    t0 = now.replace(microsecond=0)
    for i in range(3):
        await hub.record_alert(alert(fp="flappy", starts_at=t0 + timedelta(minutes=i)))
        await hub.record_alert(alert(fp="flappy", status=AlertStatus.RESOLVED,
                                     starts_at=t0 + timedelta(minutes=i)))
    assert await hub.count_firings("flappy", now - timedelta(minutes=30)) == 3
    rec = await hub.record_alert(alert(fp="held", suppressed="flapping"))
    assert rec.alert.suppressed == "flapping"


async def test_count_tasks_and_single_approval(hub: Hub) -> None:
    assert await hub.count_tasks() == {}
    a = await hub.create_task(task("web-01"))
    await hub.create_task(task("web-02"))
    a = await to_state(hub, a, TaskState.CLAIMED, TaskState.DIAGNOSING,
                       TaskState.AWAITING_APPROVAL)
    assert await hub.count_tasks() == {TaskState.NEW: 1, TaskState.AWAITING_APPROVAL: 1}
    await hub.decide(a.id, "approve", actor="jordan")
    with pytest.raises(InvalidDecision, match="already approved by jordan"):
        await hub.decide(a.id, "approve", actor="sam")
    assert len(await hub.list_approvals(a.id)) == 1


async def test_sqlite_reports_what_opening_applied(tmp_path: object) -> None:
    from ccm_tui.hub import open_hub

    url = f"sqlite:///{tmp_path}/fresh.db"
    async with open_hub(url) as h:
        assert await h.migrate() == ["0001_ccm_core", "0002_ingest", "0003_runbook_streak",
                                     "0004_alert_indexes", "0005_silence_changes"]
        assert await h.migrate() == []
    async with open_hub(url) as h:
        assert await h.migrate() == []


async def test_note_resends(hub: Hub) -> None:
    first = (await hub.record_alert(alert(fp="loud"))).alert
    assert first.id is not None
    await hub.note_resends({first.id: 4}, utcnow())
    await hub.note_resends({}, utcnow())
    [stored] = await hub.list_alerts(fingerprint="loud")
    assert stored.seen_count == 5


async def test_sqlite_checkpoints_off_the_loop(tmp_path: object) -> None:
    """Checkpoints run on a worker thread, also for a writer that never yields."""
    from pathlib import Path

    from ccm_tui.hub import open_hub
    from ccm_tui.hub.sqlite import CHECKPOINT_EVERY, SqliteHub

    db = Path(str(tmp_path)) / "busy.db"
    async with open_hub(f"sqlite:///{db}") as h:
        assert isinstance(h, SqliteHub)
        before = db.stat().st_size
        for i in range(CHECKPOINT_EVERY * 3):
            await h.record_alert(alert(fp=f"cp{i}", labels={"i": "x" * 500}))
        running = h._checkpointing
        assert running is not None
        running.result(timeout=30)
        assert db.stat().st_size > before  # the WAL reached the database file
    async with open_hub(f"sqlite:///{db}") as h:
        assert len(await h.list_alerts(limit=10_000)) == CHECKPOINT_EVERY * 3
