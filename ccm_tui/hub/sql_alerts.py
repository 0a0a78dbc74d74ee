"""Alerts and silences in SQL (part of :class:`~ccm_tui.hub.sql.SqlHub`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from ccm_tui.core.errors import NotFound
from ccm_tui.core.model import (
    Alert,
    AlertStatus,
    Silence,
    Task,
    utcnow,
)
from ccm_tui.core.states import TaskState
from ccm_tui.hub import rows
from ccm_tui.hub.base import AlertHead, AlertRecord, FiringRecord, NewTask
from ccm_tui.hub.sql_core import _OPEN, SqlCore, Tx, _marks

_INSERT_ALERT = (
    "INSERT INTO ccm_alerts (fingerprint, status, source, alertname, host, severity,"
    " labels, annotations, starts_at, ends_at, received_at, last_seen_at, task_id,"
    " suppressed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (fingerprint, status, starts_at) DO NOTHING RETURNING "
)
_REPEAT_ALERT = (
    "UPDATE ccm_alerts SET seen_count = seen_count + 1, last_seen_at = ?"
    " WHERE fingerprint = ? AND status = ? AND starts_at = ? RETURNING *"
)
_INSERT_TASK = (
    "INSERT INTO ccm_tasks (id, host, alertname, state, severity, alert_fingerprint,"
    " summary, managed, runbook, confidence, risk, decision, outcome, note, spec,"
    " result, attempts, repeat_count, version, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, 1, ?, ?) RETURNING "
)
#: Joins the open task of (host, alertname): one more repeat, critical if the alert is.
#: The unique index ``ccm_tasks_one_open`` allows at most one such task. PostgreSQL
#: re-checks the state of a row it waited for, so a task that closed meanwhile
#: matches nothing and a new task is made instead.
_JOIN_OPEN_TASK = (
    "UPDATE ccm_tasks SET repeat_count = repeat_count + 1,"
    " severity = CASE WHEN ? = 'critical' THEN 'critical' ELSE severity END,"
    " version = version + 1, updated_at = ? WHERE host = ? AND alertname = ?"
    f" AND state IN ({_marks(len(_OPEN))}) RETURNING id"
)


#: A new firing alert, stored already linked to the open task of its (host, alert name).
_INSERT_JOINING = (
    "INSERT INTO ccm_alerts (fingerprint, status, source, alertname, host, severity,"
    " labels, annotations, starts_at, ends_at, received_at, last_seen_at, task_id,"
    " suppressed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
    " (SELECT id FROM ccm_tasks WHERE host = ? AND alertname = ?"
    f" AND state IN ({_marks(len(_OPEN))}) LIMIT 1), ?)"
    " ON CONFLICT (fingerprint, status, starts_at) DO NOTHING RETURNING id, task_id"
)
#: One more repeat on that task, if it is still open; critical if the alert is.
_BUMP_TASK = (
    "UPDATE ccm_tasks SET repeat_count = repeat_count + 1,"
    " severity = CASE WHEN ? = 'critical' THEN 'critical' ELSE severity END,"
    " version = version + 1, updated_at = ? WHERE id = ?"
    f" AND state IN ({_marks(len(_OPEN))}) RETURNING id"
)


def _alert_args(a: Alert) -> tuple[Any, ...]:
    return (a.fingerprint, a.status.value, a.source, a.alertname, a.host, a.severity.value,
            rows.dumps(a.labels), rows.dumps(a.annotations), a.starts_at, a.ends_at,
            a.received_at, a.received_at, a.task_id, a.suppressed)


def _task_args(t: Task) -> tuple[Any, ...]:
    return (t.id, t.host, t.alertname, t.state.value, t.severity.value, t.alert_fingerprint,
            t.summary, t.managed, t.runbook, t.confidence, rows.task_param("risk", t.risk),
            rows.task_param("decision", t.decision), t.outcome, t.note,
            rows.dumps(t.spec), rows.dumps(t.result), t.repeat_count, t.created_at,
            t.updated_at)


def _check_alert(a: Alert) -> None:
    if a.status is not AlertStatus.FIRING:
        raise ValueError(f"record_firing stores firing alerts, not {a.status.value} ones")


def _task_for(a: Alert, new: NewTask) -> Task:
    t = new if isinstance(new, Task) else new()
    if t.host != a.host or t.alertname != a.alertname:
        raise ValueError("the task must be for the alert's host and alert name")
    if t.state is not TaskState.NEW:
        raise ValueError("a task is created in state new")
    return t


async def _settle_firing(tx: Tx, a: Alert, new: NewTask) -> FiringRecord:
    """:meth:`Hub.record_firing`'s work inside the caller's transaction.

    A new alert is inserted already pointing at the open task of its (host, alert
    name), if there is one, which then counts one more repeat: two statements for
    the common case, three when a task has to be made.
    """
    if a.task_id or a.suppressed:
        r = await tx.fetchrow(_INSERT_ALERT + "id", *_alert_args(a))
        if r is None:
            return await _settle_repeat(tx, a, new)
        return FiringRecord(replace(a, id=int(r["id"]), seen_count=1), True)
    r = await tx.fetchrow(_INSERT_JOINING, *_alert_args(a)[:12], a.host, a.alertname, *_OPEN,
                          a.suppressed)
    if r is None:  # a repeat: what was stored decides
        return await _settle_repeat(tx, a, new)
    alert_id, open_task = int(r["id"]), r["task_id"]
    if open_task is not None and await tx.fetchrow(
            _BUMP_TASK, a.severity.value, utcnow(), open_task, *_OPEN) is not None:
        return FiringRecord(replace(a, id=alert_id, task_id=str(open_task), seen_count=1),
                            True, created=False, joined=True)
    # no open task (or, on PostgreSQL, it closed since the insert looked): a new one
    t = _task_for(a, new)
    await tx.execute(_INSERT_TASK + "id", *_task_args(t))
    await tx.execute("UPDATE ccm_alerts SET task_id = ? WHERE id = ?", t.id, alert_id)
    return FiringRecord(replace(a, id=alert_id, task_id=t.id, seen_count=1), True,
                        created=True, joined=False)


async def _settle_repeat(tx: Tx, a: Alert, new: NewTask) -> FiringRecord:
    """A firing alert that is stored already: count it; give it a task if it has none."""
    r = await tx.fetchrow(_REPEAT_ALERT, a.received_at, a.fingerprint, a.status.value,
                          a.starts_at)
    assert r is not None
    stored = rows.alert_from_row(r)
    if stored.task_id or stored.suppressed:
        return FiringRecord(stored, False)
    joined = await tx.fetchrow(_JOIN_OPEN_TASK, a.severity.value, utcnow(), a.host,
                               a.alertname, *_OPEN)
    if joined is not None:
        task_id = str(joined["id"])
    else:
        t = _task_for(a, new)
        await tx.execute(_INSERT_TASK + "id", *_task_args(t))
        task_id = t.id
    await tx.execute("UPDATE ccm_alerts SET task_id = ? WHERE id = ?", task_id, stored.id)
    return FiringRecord(replace(stored, task_id=task_id), False, created=joined is None,
                        joined=joined is not None)


class SqlAlerts(SqlCore):
    """Alerts (recording, de-duplication, firing with its task) and silences."""

    # -- alerts -------------------------------------------------------------------------
    async def record_alert(self, alert: Alert) -> AlertRecord:
        a = alert
        async with self._tx() as tx:
            r = await tx.fetchrow(_INSERT_ALERT + "*", *_alert_args(a))
            if r is not None:
                return AlertRecord(rows.alert_from_row(r), True)
            r = await tx.fetchrow(_REPEAT_ALERT, a.received_at, a.fingerprint, a.status.value,
                                  a.starts_at)
            assert r is not None
            return AlertRecord(rows.alert_from_row(r), False)

    async def record_firing(self, alert: Alert, task: NewTask) -> FiringRecord:
        _check_alert(alert)
        if isinstance(task, Task):
            _task_for(alert, task)
        async with self._tx() as tx:
            return await _settle_firing(tx, alert, task)

    async def record_firings(self, pairs: Sequence[tuple[Alert, NewTask]]
                             ) -> list[FiringRecord]:
        for a, t in pairs:
            _check_alert(a)
            if isinstance(t, Task):
                _task_for(a, t)
        if not pairs:
            return []
        async with self._tx() as tx:
            return [await _settle_firing(tx, a, t) for a, t in pairs]

    async def note_resends(self, counts: dict[int, int], when: datetime) -> None:
        if not counts:
            return
        async with self._tx() as tx:
            for alert_id, n in sorted(counts.items()):
                await tx.execute(
                    "UPDATE ccm_alerts SET seen_count = seen_count + ?, last_seen_at = ?"
                    " WHERE id = ?", n, when, alert_id)

    async def link_alert(self, alert_id: int, task_id: str) -> None:
        async with self._tx() as tx:
            if not await tx.execute("UPDATE ccm_alerts SET task_id = ? WHERE id = ?",
                                    task_id, alert_id):
                raise NotFound(f"no alert with id {alert_id}")

    async def list_alerts(
        self, *, since: datetime | None = None, fingerprint: str | None = None,
        task_id: str | None = None, limit: int = 500,
    ) -> list[Alert]:
        where: list[str] = ["1 = 1"]
        args: list[Any] = []
        if since is not None:
            where.append("received_at >= ?")
            args.append(since)
        if fingerprint is not None:
            where.append("fingerprint = ?")
            args.append(fingerprint)
        if task_id is not None:
            where.append("task_id = ?")
            args.append(task_id)
        async with self._read() as tx:
            found = await tx.fetch(
                f"SELECT * FROM ccm_alerts WHERE {' AND '.join(where)}"
                " ORDER BY received_at DESC, id DESC LIMIT ?", *args, limit,
            )
        return [rows.alert_from_row(r) for r in found]

    async def latest_alert(self, fingerprint: str) -> AlertHead | None:
        async with self._read() as tx:
            r = await tx.fetchrow(
                "SELECT id, status, starts_at, task_id, suppressed FROM ccm_alerts"
                " WHERE fingerprint = ? ORDER BY received_at DESC, id DESC LIMIT 1", fingerprint)
        if r is None:
            return None
        return AlertHead(int(r["id"]), AlertStatus(r["status"]), rows.req_dt(r["starts_at"]),
                         r["task_id"], r["suppressed"])

    async def count_firings(self, fingerprint: str, since: datetime) -> int:
        async with self._read() as tx:
            r = await tx.fetchrow(
                "SELECT COUNT(*) AS n FROM ccm_alerts WHERE fingerprint = ? AND status = 'firing'"
                " AND received_at >= ?", fingerprint, since)
        return int(r["n"]) if r else 0

    # -- silences -----------------------------------------------------------------------
    async def add_silence(self, silence: Silence) -> Silence:
        s = silence
        if not s.matchers:
            raise ValueError("a silence needs at least one matcher")
        if s.ends_at <= s.starts_at:
            raise ValueError("a silence must end after it starts")
        async with self._tx() as tx:
            r = await tx.fetchrow(
                "INSERT INTO ccm_silences (matchers, starts_at, ends_at, reason, created_by,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
                rows.dumps([m.to_dict() for m in s.matchers]), s.starts_at, s.ends_at, s.reason,
                s.created_by, s.created_at,
            )
            assert r is not None
            stored = rows.silence_from_row(r)
            await self._audit(tx, s.created_by or "unknown", "silence.add", f"silence:{stored.id}",
                              {"matchers": [str(m) for m in s.matchers], "reason": s.reason,
                               "starts_at": s.starts_at, "ends_at": s.ends_at})
        return stored

    async def list_silences(
        self, *, active_at: datetime | None = None, include_expired: bool = False,
        ending_after: datetime | None = None,
    ) -> list[Silence]:
        now = utcnow()
        async with self._read() as tx:
            if include_expired:
                found = await tx.fetch("SELECT * FROM ccm_silences ORDER BY ends_at, id")
            else:
                found = await tx.fetch(
                    "SELECT * FROM ccm_silences WHERE expired_at IS NULL AND ends_at > ?"
                    " ORDER BY ends_at, id", active_at or ending_after or now)
        silences = [rows.silence_from_row(r) for r in found]
        if active_at is not None:
            silences = [s for s in silences if s.active_at(active_at)]
        return silences

    async def expire_silence(self, silence_id: int, *, actor: str) -> Silence:
        async with self._tx() as tx:
            r = await tx.fetchrow(
                "UPDATE ccm_silences SET expired_at = COALESCE(expired_at, ?) WHERE id = ?"
                " RETURNING *", utcnow(), silence_id)
            if r is None:
                raise NotFound(f"no silence with id {silence_id}")
            await self._audit(tx, actor, "silence.expire", f"silence:{silence_id}", {})
        return rows.silence_from_row(r)
