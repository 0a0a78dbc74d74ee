"""Group commit and re-sends answered from memory, on a real SQLite hub.

Concurrent requests' firing alerts are stored by one writer in one transaction
(``ccm_tui.ingest.group_commit``); a re-send of a stored firing alert is answered
from the receiver's memory (``ccm_tui.ingest.known_firing``). Everything here runs
against a real hub file; nothing of CCM's own is mocked.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ccm_tui.core import (
    Alert,
    AlertStatus,
    ConflictError,
    HubUnavailable,
    Severity,
    Task,
    TaskState,
    new_task_id,
    utcnow,
)
from ccm_tui.core.errors import HubError
from ccm_tui.hub import FiringRecord, open_hub
from ccm_tui.hub.sqlite import SqliteHub
from ccm_tui.ingest.group_commit import GroupCommit
from ccm_tui.ingest.metrics import Metrics
from ccm_tui.ingest.parsers import ParsedAlert, generic
from ccm_tui.ingest.pipeline import Ingestor, IngestReport, Outcome
from ccm_tui.ingest.service import start_receiver
from tests.functional.ingest.conftest import FLEET

STARTS = "2026-11-27T02:00:00Z"
COMMITS = "ccm_ingest_group_commits_total"
COMMITTED_ALERTS = "ccm_ingest_group_commit_alerts_total"


@pytest.fixture
async def sqlite_hub(tmp_path: Path) -> AsyncIterator[SqliteHub]:
    hub = open_hub(f"sqlite:///{tmp_path / 'hub.db'}")
    assert isinstance(hub, SqliteHub)
    async with hub:
        await hub.upsert_hosts(FLEET)
        yield hub


def fire(name: str, host: str, fp: str, *, starts: str = STARTS) -> ParsedAlert:
    """One firing alert as the generic endpoint parses it."""
    [parsed] = generic.parse({"name": name, "host": host, "fingerprint": fp,
                              "severity": "critical", "starts_at": starts,
                              "summary": f"{name} on {host}"}).alerts
    return parsed


def twelve_alerts() -> list[ParsedAlert]:
    """Six (host, alertname) pairs, two alerts each: six tasks, six alerts joining one."""
    return [fire(name, host, f"fp-{host}-{name}-{n}")
            for host in ("web-01", "web-02", "db-01") for name in ("DiskFull", "HighLoad")
            for n in (1, 2)]


def hub_alert(fp: str, host: str = "web-01", **kw: Any) -> Alert:
    base: dict[str, Any] = dict(fingerprint=fp, status=AlertStatus.FIRING, source="generic",
                                alertname="DiskFull", host=host,
                                starts_at=utcnow().replace(microsecond=0),
                                severity=Severity.WARNING)
    base.update(kw)
    return Alert(**base)


def new_task(host: str = "web-01", alertname: str = "DiskFull") -> Task:
    return Task(id=new_task_id(), host=host, alertname=alertname)


def only(report: IngestReport) -> Any:
    [result] = report.results
    return result


# -- group commit through the Ingestor -----------------------------------------------------
async def test_concurrent_requests_share_commits(sqlite_hub: SqliteHub) -> None:
    ingestor = Ingestor(sqlite_hub)
    alerts = twelve_alerts()
    reports = await asyncio.gather(*(ingestor.ingest([p]) for p in alerts))
    results = [only(r) for r in reports]
    assert sorted(r.outcome for r in results) == [Outcome.ATTACHED] * 6 + [Outcome.CREATED] * 6
    assert all(r.task_id for r in results)

    stored = {a.fingerprint: a for a in await sqlite_hub.list_alerts()}
    assert set(stored) == {p.fingerprint for p in alerts}
    assert {fp: a.task_id for fp, a in stored.items()} == {r.fingerprint: r.task_id
                                                           for r in results}
    tasks = await sqlite_hub.list_tasks()
    assert len(tasks) == 6 and all(t.state is TaskState.NEW for t in tasks)
    assert all(t.repeat_count == 1 for t in tasks)
    for t in tasks:
        linked = await sqlite_hub.list_alerts(task_id=t.id)
        assert len(linked) == 2 and {a.host for a in linked} == {t.host}
        assert {a.alertname for a in linked} == {t.alertname}

    m = ingestor.metrics
    assert m.get(COMMITTED_ALERTS) == 12
    assert 1 <= m.get(COMMITS) < 12  # several alerts shared a commit
    assert m.get("ccm_ingest_tasks_created_total") == 6
    assert m.get("ccm_ingest_attached_total") == 6
    # Each stored alert is remembered with its task.
    for r in results:
        known = ingestor.known.lookup(r.fingerprint, stored[r.fingerprint].starts_at)
        assert known == (stored[r.fingerprint].id, r.task_id)


async def test_one_request_at_a_time_commits_each_alone(sqlite_hub: SqliteHub) -> None:
    ingestor = Ingestor(sqlite_hub)
    for p in twelve_alerts()[:4]:
        await ingestor.ingest([p])
    assert ingestor.metrics.get(COMMITS) == ingestor.metrics.get(COMMITTED_ALERTS) == 4


async def test_a_request_of_several_alerts_in_a_crowd(sqlite_hub: SqliteHub) -> None:
    ingestor = Ingestor(sqlite_hub)
    alerts = twelve_alerts()
    reports = await asyncio.gather(*(ingestor.ingest(alerts[i:i + 3]) for i in range(0, 12, 3)))
    assert sum(r.counts.get("created", 0) for r in reports) == 6
    assert sum(r.counts.get("attached", 0) for r in reports) == 6
    assert len(await sqlite_hub.list_alerts()) == 12 and len(await sqlite_hub.list_tasks()) == 6
    assert ingestor.metrics.get(COMMITTED_ALERTS) == 12


# -- re-sends answered from memory ---------------------------------------------------------
async def test_a_resend_is_a_duplicate_answered_from_memory(sqlite_hub: SqliteHub) -> None:
    ingestor = Ingestor(sqlite_hub)
    p = fire("DiskFull", "web-01", "fp-mem")
    first = only(await ingestor.ingest([p]))
    assert first.outcome is Outcome.CREATED and first.task_id
    [stored] = await sqlite_hub.list_alerts(fingerprint="fp-mem")
    assert p.starts_at is not None
    assert ingestor.known.lookup("fp-mem", p.starts_at) == (stored.id, first.task_id)

    again = only(await ingestor.ingest([p]))
    assert (again.outcome, again.task_id) == (Outcome.DUPLICATE, first.task_id)
    assert ingestor.metrics.get("ccm_ingest_duplicates_total") == 1
    assert ingestor.metrics.get(COMMITTED_ALERTS) == 1  # nothing more was written...
    [still] = await sqlite_hub.list_alerts(fingerprint="fp-mem")
    assert still.seen_count == 1
    await ingestor.flush()  # ...until the re-send counts are flushed
    [flushed] = await sqlite_hub.list_alerts(fingerprint="fp-mem")
    assert flushed.seen_count == 2 and flushed.task_id == first.task_id
    assert len(await sqlite_hub.list_tasks()) == 1


async def test_the_memory_answers_even_when_the_hub_would_not(sqlite_hub: SqliteHub) -> None:
    """Retention deletes the alert and its task behind the receiver's back: a re-send
    is still answered as a duplicate from memory (no hub read), until the memory is
    cleared, when the hub is asked and the alert makes a task again."""
    ingestor = Ingestor(sqlite_hub)
    p = fire("DiskFull", "web-01", "fp-gone")
    first = only(await ingestor.ingest([p]))
    assert first.outcome is Outcome.CREATED
    other = sqlite3.connect(sqlite_hub.path, isolation_level=None)
    try:
        other.execute("DELETE FROM ccm_alerts")
        other.execute("DELETE FROM ccm_tasks")
    finally:
        other.close()
    assert await sqlite_hub.list_alerts() == [] and await sqlite_hub.list_tasks() == []

    again = only(await ingestor.ingest([p]))
    assert (again.outcome, again.task_id) == (Outcome.DUPLICATE, first.task_id)
    assert await sqlite_hub.list_alerts() == []  # nobody asked the hub

    ingestor.forget_caches()
    assert p.starts_at is not None and ingestor.known.lookup("fp-gone", p.starts_at) is None
    fresh = only(await ingestor.ingest([p]))
    assert fresh.outcome is Outcome.CREATED and fresh.task_id != first.task_id
    [t] = await sqlite_hub.list_tasks()
    assert t.id == fresh.task_id


async def test_a_refire_with_a_new_start_is_not_answered_from_memory(
        sqlite_hub: SqliteHub) -> None:
    ingestor = Ingestor(sqlite_hub)
    first = only(await ingestor.ingest([fire("DiskFull", "web-01", "fp-re")]))
    [resolved] = generic.parse({"name": "DiskFull", "host": "web-01", "fingerprint": "fp-re",
                                "status": "resolved", "starts_at": STARTS}).alerts
    closed = only(await ingestor.ingest([resolved]))
    assert closed.outcome is Outcome.RESOLVED_UPSTREAM
    later = fire("DiskFull", "web-01", "fp-re", starts="2026-11-27T03:00:00Z")
    refire = only(await ingestor.ingest([later]))
    assert refire.outcome is Outcome.CREATED and refire.task_id != first.task_id
    assert len(await sqlite_hub.list_alerts(fingerprint="fp-re")) == 3
    again = only(await ingestor.ingest([later]))  # and its own re-send is known
    assert (again.outcome, again.task_id) == (Outcome.DUPLICATE, refire.task_id)


# -- a hub outage during a batch -----------------------------------------------------------
async def test_a_locked_hub_fails_every_waiting_request_and_stores_nothing(
        sqlite_hub: SqliteHub, monkeypatch: pytest.MonkeyPatch) -> None:
    import ccm_tui.hub.sqlite_locking as sqlite_module

    monkeypatch.setattr(sqlite_module, "LOCK_PATIENCE", 0.05)
    ingestor = Ingestor(sqlite_hub)
    alerts = twelve_alerts()
    locker = sqlite3.connect(sqlite_hub.path, isolation_level=None, timeout=0)
    try:
        locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        outcomes = await asyncio.gather(*(ingestor.ingest([p]) for p in alerts),
                                        return_exceptions=True)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert all(isinstance(o, HubUnavailable) for o in outcomes), outcomes
    assert all(isinstance(o, HubError) for o in outcomes)  # the webhook answers 503
    assert await sqlite_hub.list_alerts() == [] and await sqlite_hub.list_tasks() == []
    assert ingestor.metrics.get(COMMITS) == ingestor.metrics.get(COMMITTED_ALERTS) == 0
    assert len(ingestor.known) == 0

    # The source retries once the lock is gone: everything is stored.
    reports = await asyncio.gather(*(ingestor.ingest([p]) for p in alerts))
    assert sorted(only(r).outcome for r in reports) == \
        [Outcome.ATTACHED] * 6 + [Outcome.CREATED] * 6
    assert len(await sqlite_hub.list_alerts()) == 12 and len(await sqlite_hub.list_tasks()) == 6


# -- GroupCommit on its own ----------------------------------------------------------------
async def test_a_conflict_settles_each_alert_on_its_own(sqlite_hub: SqliteHub) -> None:
    closed = await sqlite_hub.create_task(new_task())
    await sqlite_hub.transition(closed.id, TaskState.CANCELLED)
    clash = Task(id=closed.id, host="web-01", alertname="DiskFull")  # cannot be inserted
    metrics = Metrics()
    gc = GroupCommit(sqlite_hub, metrics)
    outcomes = await asyncio.gather(
        gc.record(hub_alert("ok-1", "web-02"), new_task("web-02")),
        gc.record(hub_alert("clash"), clash),
        gc.record(hub_alert("ok-2", "web-03"), lambda: new_task("web-03")),
        return_exceptions=True)
    assert isinstance(outcomes[1], ConflictError)
    for o in (outcomes[0], outcomes[2]):
        assert isinstance(o, FiringRecord) and o.created and o.alert.task_id
    assert {a.fingerprint for a in await sqlite_hub.list_alerts()} == {"ok-1", "ok-2"}
    assert metrics.get(COMMITS) == 2 and metrics.get(COMMITTED_ALERTS) == 2


async def test_a_closed_hub_fails_every_waiting_request(sqlite_hub: SqliteHub) -> None:
    metrics = Metrics()
    gc = GroupCommit(sqlite_hub, metrics)
    await sqlite_hub.close()
    outcomes = await asyncio.gather(
        *(gc.record(hub_alert(f"c{i}", f"web-0{i}"), new_task(f"web-0{i}"))
          for i in range(1, 4)), return_exceptions=True)
    assert all(isinstance(o, HubUnavailable) for o in outcomes), outcomes
    assert metrics.get(COMMITS) == 0
    async with sqlite_hub:
        assert await sqlite_hub.list_alerts() == []
        # The writer is not stuck: the next record goes through.
        rec = await gc.record(hub_alert("after"), new_task())
        assert rec.created
    assert metrics.get(COMMITS) == metrics.get(COMMITTED_ALERTS) == 1


async def test_batches_are_no_larger_than_max_batch(sqlite_hub: SqliteHub) -> None:
    metrics = Metrics()
    gc = GroupCommit(sqlite_hub, metrics, max_batch=4)
    records = await asyncio.gather(
        *(gc.record(hub_alert(f"m{i}"), new_task()) for i in range(10)))
    assert [r.alert.fingerprint for r in records] == [f"m{i}" for i in range(10)]
    assert sum(r.created for r in records) == 1 and sum(r.joined for r in records) == 9
    assert metrics.get(COMMITTED_ALERTS) == 10
    assert metrics.get(COMMITS) >= 3  # ceil(10 / 4)
    assert (await sqlite_hub.get_task(records[0].alert.task_id or "")).repeat_count == 9


async def test_a_cancelled_request_is_not_written(sqlite_hub: SqliteHub) -> None:
    gc = GroupCommit(sqlite_hub, Metrics())
    kept = asyncio.create_task(gc.record(hub_alert("kept", "web-02"), new_task("web-02")))
    dropped = asyncio.create_task(gc.record(hub_alert("dropped", "web-03"),
                                            new_task("web-03")))
    await asyncio.sleep(0)  # both run up to their wait; the writer has not run yet
    assert not kept.done() and not dropped.done()
    dropped.cancel()
    record = await kept
    with pytest.raises(asyncio.CancelledError):
        await dropped
    assert record.created
    assert {a.fingerprint for a in await sqlite_hub.list_alerts()} == {"kept"}


# -- the receiver's /metrics ----------------------------------------------------------------
async def test_webhook_metrics_show_the_group_commit_counters(sqlite_hub: SqliteHub) -> None:
    receiver = await start_receiver(sqlite_hub, "127.0.0.1:0")
    session = aiohttp.ClientSession()
    try:
        async with session.get(f"{receiver.url}/metrics") as resp:
            before = await resp.text()
        assert f"{COMMITS} 0" in before.splitlines()
        assert f"{COMMITTED_ALERTS} 0" in before.splitlines()

        async def post(i: int) -> int:
            body = {"name": "DiskFull", "host": f"web-0{1 + i % 3}", "fingerprint": f"w{i}",
                    "starts_at": STARTS, "severity": "warning"}
            async with session.post(f"{receiver.url}/alerts/generic", json=body) as resp:
                return resp.status

        assert await asyncio.gather(*(post(i) for i in range(9))) == [200] * 9
        async with session.get(f"{receiver.url}/metrics") as resp:
            assert resp.status == 200
            text = await resp.text()
    finally:
        await session.close()
        await receiver.stop()
    lines = text.splitlines()
    for name in (COMMITS, COMMITTED_ALERTS):
        assert f"# TYPE {name} counter" in lines
        assert any(line.startswith(f"# HELP {name} ") for line in lines)
    values = {line.split()[0]: float(line.split()[1]) for line in lines
              if line.startswith("ccm_ingest_group_commit") and not line.startswith("#")}
    assert values[COMMITTED_ALERTS] == 9
    assert 1 <= values[COMMITS] <= 9
    assert len(await sqlite_hub.list_alerts()) == 9 and len(await sqlite_hub.list_tasks()) == 3
