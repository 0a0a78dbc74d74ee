"""``Hub.record_firings`` (group commit) and schema v4, on every adapter (SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from ccm_tui.core import (
    Alert,
    AlertStatus,
    ConflictError,
    Severity,
    Task,
    TaskState,
    utcnow,
)
from ccm_tui.hub import Hub, open_hub
from ccm_tui.hub.migrations import migration_files
from ccm_tui.hub.sqlite import SqliteHub
from ccm_tui.hub.sqlite_schema import MIGRATIONS
from tests.support.hub_builders import alert as make_alert
from tests.support.hub_builders import task


def alert(fp: str = "abc123", status: AlertStatus = AlertStatus.FIRING, **kw: object) -> Alert:
    """A warning-level alert (these tests watch severity rise to critical)."""
    kw.setdefault("severity", Severity.WARNING)
    return make_alert(fp, status, **kw)  # type: ignore[arg-type]


class Factory:
    """A task factory (``NewTask`` as a callable) that counts its calls."""

    def __init__(self, host: str = "web-01", alertname: str = "DiskFull") -> None:
        self.host, self.alertname = host, alertname
        self.made: list[Task] = []

    def __call__(self) -> Task:
        t = task(self.host, self.alertname, summary=f"made #{len(self.made) + 1}")
        self.made.append(t)
        return t


# -- record_firings -----------------------------------------------------------------------
async def test_record_firings_stores_a_batch_in_order_in_one_go(hub: Hub) -> None:
    first_task = task(summary="disk full")
    other_task = task("web-02")
    t0 = utcnow().replace(microsecond=0)
    records = await hub.record_firings([
        (alert(fp="b1", starts_at=t0), first_task),
        (alert(fp="b2", starts_at=t0, severity=Severity.CRITICAL), task()),
        (alert(fp="b3", host="web-02", starts_at=t0), other_task),
        (alert(fp="b4", starts_at=t0), task()),
    ])
    assert [r.alert.fingerprint for r in records] == ["b1", "b2", "b3", "b4"]
    assert all(r.is_new for r in records)
    assert [(r.created, r.joined) for r in records] == [
        (True, False), (False, True), (True, False), (False, True)]
    assert [r.alert.task_id for r in records] == [
        first_task.id, first_task.id, other_task.id, first_task.id]
    ids = [r.alert.id for r in records]
    assert None not in ids and len(set(ids)) == 4

    t = await hub.get_task(first_task.id)
    assert (t.state, t.summary, t.repeat_count, t.severity) == (
        TaskState.NEW, "disk full", 2, Severity.CRITICAL)
    assert (await hub.get_task(other_task.id)).repeat_count == 0
    assert len(await hub.list_tasks()) == 2
    stored = {a.fingerprint: a for a in await hub.list_alerts()}
    assert {fp: a.task_id for fp, a in stored.items()} == {
        "b1": first_task.id, "b2": first_task.id, "b3": other_task.id, "b4": first_task.id}
    assert {a.id for a in stored.values()} == set(ids)
    assert all(a.seen_count == 1 for a in stored.values())

    # A later batch: a repeat of a stored alert (only its seen_count moves) and a new
    # alert that joins the open task.
    again = await hub.record_firings([(alert(fp="b1", starts_at=t0), task()),
                                      (alert(fp="b5", starts_at=t0), task())])
    assert not again[0].is_new and not again[0].created and not again[0].joined
    assert again[0].alert.id == stored["b1"].id and again[0].alert.seen_count == 2
    assert again[0].alert.task_id == first_task.id
    assert again[1].is_new and again[1].joined and again[1].alert.task_id == first_task.id
    assert (await hub.get_task(first_task.id)).repeat_count == 3
    assert len(await hub.list_tasks()) == 2


async def test_record_firings_same_alert_twice_in_one_batch(hub: Hub) -> None:
    a = alert(fp="twice")
    first, second = await hub.record_firings([(a, t := task()), (a, task())])
    assert first.is_new and first.created and first.alert.task_id == t.id
    assert not second.is_new and not second.created and not second.joined
    assert second.alert.id == first.alert.id and second.alert.seen_count == 2
    assert second.alert.task_id == t.id
    [stored] = await hub.list_alerts(fingerprint="twice")
    assert stored.seen_count == 2 and stored.task_id == t.id
    assert (await hub.get_task(t.id)).repeat_count == 0


async def test_record_firings_of_nothing_is_nothing(hub: Hub) -> None:
    assert await hub.record_firings([]) == []
    assert await hub.list_alerts() == [] and await hub.list_tasks() == []


async def test_record_firings_checks_every_alert_before_writing(hub: Hub) -> None:
    good = (alert(fp="good"), task())
    with pytest.raises(ValueError):
        await hub.record_firings([good, (alert(fp="r", status=AlertStatus.RESOLVED), task())])
    with pytest.raises(ValueError):
        await hub.record_firings([good, (alert(fp="x"), task("db-01"))])  # another host
    with pytest.raises(ValueError):
        await hub.record_firings([good, (alert(fp="y"), task(alertname="Other"))])
    with pytest.raises(ValueError):  # a task is created in state new
        await hub.record_firings([good, (alert(fp="z", host="web-02"),
                                         task("web-02", state=TaskState.CLAIMED))])
    assert await hub.list_alerts() == [] and await hub.list_tasks() == []


async def test_record_firings_factory_that_does_not_fit_stores_nothing(hub: Hub) -> None:
    wrong = Factory(host="db-01")  # builds a task for another host: found only when called
    with pytest.raises(ValueError):
        await hub.record_firings([(alert(fp="good", host="web-02"), task("web-02")),
                                  (alert(fp="bad"), wrong)])
    assert len(wrong.made) == 1
    assert await hub.list_alerts() == [] and await hub.list_tasks() == []


async def test_record_firings_is_all_or_nothing(hub: Hub) -> None:
    closed = await hub.create_task(task())
    await hub.transition(closed.id, TaskState.CANCELLED)
    clash = Task(id=closed.id, host="web-01", alertname="DiskFull")  # cannot be inserted
    before = await hub.list_tasks()
    with pytest.raises(ConflictError):
        await hub.record_firings([
            (alert(fp="fine", host="web-02"), task("web-02")),
            (alert(fp="fine-too", host="web-03"), Factory("web-03")),
            (alert(fp="atomic"), clash),
        ])
    for fp in ("fine", "fine-too", "atomic"):
        assert await hub.list_alerts(fingerprint=fp) == []
        assert await hub.latest_alert(fp) is None
    assert [t.id for t in await hub.list_tasks()] == [t.id for t in before]
    assert await hub.find_open_task("web-02", "DiskFull") is None
    # Settled one by one (what the receiver falls back to), the others go through.
    rec = await hub.record_firing(alert(fp="fine", host="web-02"), task("web-02"))
    assert rec.is_new and rec.created


async def test_record_firings_calls_a_factory_only_to_create_a_task(hub: Hub) -> None:
    made = Factory()
    t0 = utcnow().replace(microsecond=0)
    records = await hub.record_firings([(alert(fp="f1", starts_at=t0), made),
                                        (alert(fp="f2", starts_at=t0), made),
                                        (alert(fp="f1", starts_at=t0), made)])
    assert len(made.made) == 1  # created once; then joined; then a repeat
    [created] = made.made
    assert [(r.created, r.joined, r.is_new) for r in records] == [
        (True, False, True), (False, True, True), (False, False, False)]
    assert {r.alert.task_id for r in records} == {created.id}
    assert (await hub.get_task(created.id)).summary == "made #1"

    # Neither joining an open task, nor a repeat, nor a suppressed alert builds one.
    joined = await hub.record_firings([(alert(fp="f3", starts_at=t0), made)])
    assert joined[0].joined and len(made.made) == 1
    await hub.record_firing(alert(fp="f2", starts_at=t0), made)
    held = await hub.record_firings([(alert(fp="q", host="web-09", suppressed="silenced:1"),
                                      Factory("web-09"))])
    assert held[0].is_new and held[0].alert.task_id is None
    assert len(made.made) == 1

    # Once the task is closed, the next firing builds a new one (one more call).
    await hub.transition(created.id, TaskState.CANCELLED)
    fresh = await hub.record_firing(alert(fp="f4", starts_at=t0), made)
    assert fresh.created and len(made.made) == 2 and fresh.alert.task_id == made.made[1].id
    assert {t.summary for t in await hub.list_tasks()} == {"made #1", "made #2"}


async def test_record_firing_calls_a_factory_only_to_create_a_task(hub: Hub) -> None:
    made = Factory()
    first = await hub.record_firing(alert(fp="s1"), made)
    assert first.created and len(made.made) == 1 and first.alert.task_id == made.made[0].id
    assert (await hub.record_firing(alert(fp="s2"), made)).joined
    assert len(made.made) == 1


# -- schema v4: alert indexes ---------------------------------------------------------------
async def test_list_alerts_of_a_task(hub: Hub) -> None:
    t0 = utcnow().replace(microsecond=0)
    a_task, b_task = task(), task("web-02")
    await hub.record_firings([
        (alert(fp="a1", starts_at=t0, received_at=t0), a_task),
        (alert(fp="b1", host="web-02", starts_at=t0, received_at=t0), b_task),
        (alert(fp="a2", starts_at=t0, received_at=t0 + timedelta(seconds=1)), task()),
    ])
    await hub.record_alert(alert(fp="loose", starts_at=t0))  # no task
    await hub.record_firing(alert(fp="a3", starts_at=t0, received_at=t0 + timedelta(seconds=2)),
                            task())
    assert [a.fingerprint for a in await hub.list_alerts(task_id=a_task.id)] == ["a3", "a2", "a1"]
    assert [a.fingerprint for a in await hub.list_alerts(task_id=a_task.id, limit=2)] == [
        "a3", "a2"]
    assert [a.fingerprint for a in await hub.list_alerts(task_id=b_task.id)] == ["b1"]
    assert await hub.list_alerts(task_id="t-none") == []
    assert len(await hub.list_alerts()) == 5


def _sqlite_indexes(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        found = db.execute("SELECT name FROM sqlite_master WHERE type = 'index'"
                           " AND tbl_name = 'ccm_alerts'").fetchall()
    finally:
        db.close()
    return {str(r[0]) for r in found}


async def _pg_indexes(url: str) -> set[str]:
    pg = await asyncpg.connect(url)
    try:
        found = await pg.fetch("SELECT indexname FROM pg_indexes WHERE tablename = 'ccm_alerts'")
    finally:
        await pg.close()
    return {str(r["indexname"]) for r in found}


async def _alert_indexes(hub: Hub) -> set[str]:
    if isinstance(hub, SqliteHub):
        return _sqlite_indexes(hub.path)
    return await _pg_indexes(hub.url)


async def test_schema_v4_alert_indexes(hub: Hub) -> None:
    names = await _alert_indexes(hub)
    assert "ccm_alerts_task" in names
    assert "ccm_alerts_host" not in names


def test_the_v4_migration_is_the_same_for_both_adapters() -> None:
    assert MIGRATIONS[3][:2] == (4, "alert_indexes")
    assert migration_files()[3].name == "alert_indexes"


async def test_sqlite_upgrade_to_v4_keeps_a_tasks_alerts(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    db = sqlite3.connect(path, isolation_level=None)
    t = task()
    try:  # a hub file left by the previous CCM (schema 3), with a task and its alerts
        for version, _name, script in MIGRATIONS:
            if version <= 3:
                db.executescript(script)
        db.execute("PRAGMA user_version = 3")
        now = utcnow().isoformat(timespec="microseconds")
        db.execute("INSERT INTO ccm_tasks (id, host, alertname, created_at, updated_at)"
                   " VALUES (?, 'web-01', 'DiskFull', ?, ?)", (t.id, now, now))
        for fp in ("u1", "u2"):
            db.execute(
                "INSERT INTO ccm_alerts (fingerprint, status, source, alertname, host,"
                " starts_at, received_at, last_seen_at, task_id) VALUES"
                " (?, 'firing', 'alertmanager', 'DiskFull', 'web-01', ?, ?, ?, ?)",
                (fp, now, now, now, t.id))
    finally:
        db.close()
    assert "ccm_alerts_host" in _sqlite_indexes(path)
    async with open_hub(f"sqlite:///{path}") as hub:  # opening it migrates it
        assert await hub.migrate() == ["0004_alert_indexes", "0005_silence_changes",
                                      "0006_daemon_hosts", "0007_runbook_outcomes"]
        assert {a.fingerprint for a in await hub.list_alerts(task_id=t.id)} == {"u1", "u2"}
        third = await hub.record_firing(alert(fp="u3"), task())
        assert third.joined and third.alert.task_id == t.id
        assert {a.fingerprint for a in await hub.list_alerts(task_id=t.id)} == {
            "u1", "u2", "u3"}
    names = _sqlite_indexes(path)
    assert "ccm_alerts_task" in names and "ccm_alerts_host" not in names


@pytest.mark.postgres
async def test_postgres_upgrade_to_v4_keeps_a_tasks_alerts(pg_url: str) -> None:
    pg = await asyncpg.connect(pg_url)
    try:  # a database migrated by the previous CCM (the first three files)
        await pg.execute(
            "CREATE TABLE IF NOT EXISTS ccm_schema_migrations (version text PRIMARY KEY,"
            " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
        for mig in migration_files()[:3]:
            async with pg.transaction():
                await pg.execute(mig.sql)
                await pg.execute("INSERT INTO ccm_schema_migrations (version, name)"
                                 " VALUES ($1, $2)", mig.version, mig.name)
    finally:
        await pg.close()
    assert "ccm_alerts_host" in await _pg_indexes(pg_url)
    async with open_hub(pg_url) as hub:  # the old schema serves until migrate() runs
        t = task()
        await hub.record_firings([(alert(fp="u1"), t), (alert(fp="u2"), task())])
        assert await hub.migrate() == [m.filename for m in migration_files()[3:]]
        assert {a.fingerprint for a in await hub.list_alerts(task_id=t.id)} == {"u1", "u2"}
        third = await hub.record_firing(alert(fp="u3"), task())
        assert third.joined and third.alert.task_id == t.id
        assert {a.fingerprint for a in await hub.list_alerts(task_id=t.id)} == {
            "u1", "u2", "u3"}
        assert await hub.migrate() == []
    names = await _pg_indexes(pg_url)
    assert "ccm_alerts_task" in names and "ccm_alerts_host" not in names


# -- two writers, one PostgreSQL --------------------------------------------------------------
@pytest.mark.postgres
async def test_a_deadlocked_batch_is_a_conflict_and_stores_nothing(pg_url: str) -> None:
    """Another receiver's transaction holds web-02's task and then wants web-01's, while
    a batch holds web-01's and waits for web-02's: PostgreSQL aborts one of them. Single
    alerts never deadlock (one task row each); batches can, and must then fail as
    :class:`ConflictError` (retryable, stores nothing) rather than as a driver error."""
    async with open_hub(pg_url) as hub:
        await hub.migrate()
        one = (await hub.record_firing(alert(fp="seed-1"), task())).alert.task_id
        two = (await hub.record_firing(alert(fp="seed-2", host="web-02"),
                                       task("web-02"))).alert.task_id
        other = await asyncpg.connect(pg_url)
        try:
            await other.execute("SET deadlock_timeout = '60s'")  # the batch's side detects it
            tx = other.transaction()
            await tx.start()
            bump = "UPDATE ccm_tasks SET repeat_count = repeat_count + 1 WHERE id = $1"
            await other.execute(bump, two)
            batch = asyncio.ensure_future(hub.record_firings([
                (alert(fp="d1"), task()), (alert(fp="d2", host="web-02"), task("web-02"))]))
            for _ in range(500):  # until the batch waits for web-02's task
                waiting = await other.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database()")
                if waiting or batch.done():
                    break
                await asyncio.sleep(0.02)
            crossing = asyncio.ensure_future(other.execute(bump, one))
            try:
                with pytest.raises(ConflictError):
                    await batch
            finally:
                await crossing
                await tx.rollback()
        finally:
            await other.close()
        assert await hub.list_alerts(fingerprint="d1") == []
        assert await hub.list_alerts(fingerprint="d2") == []
