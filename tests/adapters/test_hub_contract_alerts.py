"""The hub contract, alerts and ingest: every adapter stores, de-duplicates and silences
alerts the same way."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from ccm_tui.core import (
    AlertStatus,
    ConflictError,
    InvalidDecision,
    NotFound,
    Severity,
    Task,
    TaskState,
    utcnow,
)
from ccm_tui.hub import Hub
from tests.support.hub_builders import alert, task, to_state


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
                                     "0004_alert_indexes", "0005_silence_changes",
                                     "0006_daemon_hosts", "0007_runbook_outcomes"]
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
