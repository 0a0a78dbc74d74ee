"""The SQL implementation of :class:`~ccm_tui.hub.base.Hub`, shared by SQLite and PostgreSQL.

Queries are written once, with ``?`` placeholders; each adapter supplies
transactions (:class:`Tx`), its row-locking clause, and realtime delivery.
"""

from __future__ import annotations

import itertools
from abc import abstractmethod
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from ccm_tui.core.errors import ConflictError, InvalidDecision, LeaseLost, NotFound
from ccm_tui.core.model import (
    Alert,
    AlertStatus,
    Approval,
    ApprovalKind,
    AuditEntry,
    Control,
    Event,
    HealthSnapshot,
    Host,
    OutboxMessage,
    RunbookMode,
    RunbookStats,
    Silence,
    Task,
    check_approval,
    utcnow,
)
from ccm_tui.core.states import ACTIVE_STATES, OPEN_STATES, TaskState, check_transition
from ccm_tui.hub import rows
from ccm_tui.hub.base import AlertHead, AlertRecord, FiringRecord, Hub, TaskQuery
from ccm_tui.hub.rows import Row

_ACTIVE = tuple(sorted(s.value for s in ACTIVE_STATES))
_OPEN = tuple(sorted(s.value for s in OPEN_STATES))


def _marks(n: int) -> str:
    return ", ".join("?" * n)


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
_OPEN_TASK_OF = (
    "SELECT id FROM ccm_tasks WHERE host = ? AND alertname = ?"
    f" AND state IN ({_marks(len(_OPEN))}) ORDER BY created_at DESC LIMIT 1"
)
#: Joins the open task of (host, alertname): one more repeat, critical if the alert is.
#: The outer state check makes a task that closed meanwhile (PostgreSQL re-checks the
#: row it waited for) match nothing, so a new task is made instead.
_JOIN_OPEN_TASK = (
    "UPDATE ccm_tasks SET repeat_count = repeat_count + 1,"
    " severity = CASE WHEN ? = 'critical' THEN 'critical' ELSE severity END,"
    f" version = version + 1, updated_at = ? WHERE id = ({_OPEN_TASK_OF})"
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


class Tx(Protocol):
    """One transaction (or one read) on the adapter's connection."""

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        """All rows of a query."""

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        """The first row of a query, or ``None``."""

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; return the number of rows it changed."""


class SqlHub(Hub):
    """Every Hub method, in portable SQL. Subclasses: SqliteHub, PostgresHub."""

    #: Appended to claim sub-selects: ``FOR UPDATE OF t SKIP LOCKED`` on PostgreSQL.
    skip_locked: str = ""
    #: Run first in every claim transaction: serialises claims across processes so
    #: "one task per host" holds even for two new tasks of one host (PostgreSQL; an
    #: SQLite write transaction is already exclusive).
    claim_lock: str = ""
    _health_counter = itertools.count()

    @abstractmethod
    def _tx(self) -> AbstractAsyncContextManager[Tx]:
        """A write transaction."""

    def _read(self) -> AbstractAsyncContextManager[Tx]:
        """A read-only unit of work (adapters may make it cheaper than a write)."""
        return self._tx()

    # -- hosts and health -----------------------------------------------------------------
    async def upsert_hosts(self, hosts: Iterable[Host]) -> int:
        now = utcnow()
        written = 0
        async with self._tx() as tx:
            for h in hosts:
                written += await tx.execute(
                    "INSERT INTO ccm_hosts (name, address, port, ssh_user, groups, labels,"
                    " managed, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (name) DO UPDATE SET address = excluded.address,"
                    " port = excluded.port, ssh_user = excluded.ssh_user,"
                    " groups = excluded.groups, labels = excluded.labels,"
                    " managed = excluded.managed, updated_at = excluded.updated_at"
                    " WHERE ccm_hosts.address IS DISTINCT FROM excluded.address"
                    " OR ccm_hosts.port IS DISTINCT FROM excluded.port"
                    " OR ccm_hosts.ssh_user IS DISTINCT FROM excluded.ssh_user"
                    " OR ccm_hosts.groups IS DISTINCT FROM excluded.groups"
                    " OR ccm_hosts.labels IS DISTINCT FROM excluded.labels"
                    " OR ccm_hosts.managed IS DISTINCT FROM excluded.managed",
                    h.name, h.address, h.port, h.user, rows.dumps(list(h.groups)),
                    rows.dumps(h.labels), h.managed, now,
                )
        return written

    async def list_hosts(self) -> list[Host]:
        async with self._read() as tx:
            return [rows.host_from_row(r) for r in await tx.fetch(
                "SELECT * FROM ccm_hosts ORDER BY name")]

    async def get_host(self, name: str) -> Host:
        async with self._read() as tx:
            r = await tx.fetchrow("SELECT * FROM ccm_hosts WHERE name = ?", name)
        if r is None:
            raise NotFound(f"no host named {name!r} in the hub")
        return rows.host_from_row(r)

    async def record_health(self, snapshot: HealthSnapshot, *, keep: int = 720) -> None:
        s = snapshot
        async with self._tx() as tx:
            await tx.execute(
                "INSERT INTO ccm_health (host, taken_at, reachable, cpu_pct, mem_pct, disk_pct,"
                " load1, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                s.host, s.taken_at, s.reachable, s.cpu_pct, s.mem_pct, s.disk_pct, s.load1,
                rows.dumps(s.data),
            )
            if next(self._health_counter) % 16 == 0:
                await tx.execute(
                    "DELETE FROM ccm_health WHERE host = ? AND id NOT IN (SELECT id FROM"
                    " ccm_health WHERE host = ? ORDER BY taken_at DESC LIMIT ?)",
                    s.host, s.host, keep,
                )

    async def health_history(self, host: str, *, limit: int = 60) -> list[HealthSnapshot]:
        async with self._read() as tx:
            found = await tx.fetch(
                "SELECT * FROM ccm_health WHERE host = ? ORDER BY taken_at DESC LIMIT ?",
                host, limit,
            )
        return [rows.health_from_row(r) for r in reversed(found)]

    async def latest_health(self) -> dict[str, HealthSnapshot]:
        async with self._read() as tx:
            found = await tx.fetch(
                "SELECT h.* FROM ccm_health h JOIN (SELECT host, max(id) AS mid FROM ccm_health"
                " GROUP BY host) x ON h.id = x.mid"
            )
        return {r["host"]: rows.health_from_row(r) for r in found}

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

    async def record_firing(self, alert: Alert, task: Task) -> FiringRecord:
        a, t = alert, task
        if a.status is not AlertStatus.FIRING:
            raise ValueError(f"record_firing stores firing alerts, not {a.status.value} ones")
        if t.host != a.host or t.alertname != a.alertname:
            raise ValueError("the task must be for the alert's host and alert name")
        if t.state is not TaskState.NEW:
            raise ValueError("a task is created in state new")
        async with self._tx() as tx:
            r = await tx.fetchrow(_INSERT_ALERT + "id", *_alert_args(a))
            if r is None:  # a repeat: what was stored decides
                r = await tx.fetchrow(_REPEAT_ALERT, a.received_at, a.fingerprint,
                                      a.status.value, a.starts_at)
                assert r is not None
                stored = rows.alert_from_row(r)
                if stored.task_id or stored.suppressed:
                    return FiringRecord(stored, False)
                alert_id, is_new = int(r["id"]), False
            else:
                alert_id, is_new = int(r["id"]), True
                if a.task_id or a.suppressed:
                    return FiringRecord(replace(a, id=alert_id, seen_count=1), True)
                stored = a
            joined = await tx.fetchrow(_JOIN_OPEN_TASK, a.severity.value, utcnow(), a.host,
                                       a.alertname, *_OPEN, *_OPEN)
            if joined is not None:
                task_id = str(joined["id"])
            else:
                await tx.fetchrow(_INSERT_TASK + "id", *_task_args(t))
                task_id = t.id
            await tx.execute("UPDATE ccm_alerts SET task_id = ? WHERE id = ?", task_id, alert_id)
        if is_new:
            stored = replace(a, id=alert_id, task_id=task_id, seen_count=1)
        else:
            stored = replace(stored, task_id=task_id)
        return FiringRecord(stored, is_new, created=joined is None, joined=joined is not None)

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

    # -- tasks --------------------------------------------------------------------------
    async def create_task(self, task: Task) -> Task:
        t = task
        if t.state is not TaskState.NEW:
            raise ValueError("a task is created in state new")
        async with self._tx() as tx:
            r = await tx.fetchrow(_INSERT_TASK + "*", *_task_args(t))
        assert r is not None
        return rows.task_from_row(r)

    async def _get_task_row(self, tx: Tx, task_id: str) -> Row:
        r = await tx.fetchrow("SELECT * FROM ccm_tasks WHERE id = ?", task_id)
        if r is not None:
            return r
        pattern = task_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        found = await tx.fetch(
            "SELECT * FROM ccm_tasks WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 2", pattern)
        if len(found) == 1:
            return found[0]
        if found:
            raise NotFound(f"task id {task_id!r} is ambiguous; give more characters")
        raise NotFound(f"no task {task_id!r}")

    async def get_task(self, task_id: str) -> Task:
        async with self._read() as tx:
            return rows.task_from_row(await self._get_task_row(tx, task_id))

    async def list_tasks(self, query: TaskQuery | None = None) -> list[Task]:
        q = query or TaskQuery()
        where: list[str] = ["1 = 1"]
        args: list[Any] = []
        if q.states:
            where.append(f"state IN ({_marks(len(q.states))})")
            args.extend(TaskState(s).value for s in q.states)
        if q.host:
            where.append("host = ?")
            args.append(q.host)
        if q.alertname:
            where.append("alertname = ?")
            args.append(q.alertname)
        if q.since:
            where.append("created_at >= ?")
            args.append(q.since)
        async with self._read() as tx:
            found = await tx.fetch(
                f"SELECT * FROM ccm_tasks WHERE {' AND '.join(where)}"
                " ORDER BY created_at DESC, id DESC LIMIT ?", *args, q.limit,
            )
        return [rows.task_from_row(r) for r in found]

    async def count_tasks(self, *, since: datetime | None = None) -> dict[TaskState, int]:
        where, args = "1 = 1", []
        if since is not None:
            where, args = "created_at >= ?", [since]
        async with self._read() as tx:
            found = await tx.fetch(
                f"SELECT state, COUNT(*) AS n FROM ccm_tasks WHERE {where} GROUP BY state", *args)
        return {TaskState(r["state"]): int(r["n"]) for r in found}

    async def find_open_task(self, host: str, alertname: str) -> Task | None:
        async with self._read() as tx:
            r = await tx.fetchrow(
                f"SELECT * FROM ccm_tasks WHERE host = ? AND alertname = ? AND state IN"
                f" ({_marks(len(_OPEN))}) ORDER BY created_at DESC LIMIT 1",
                host, alertname, *_OPEN,
            )
        return rows.task_from_row(r) if r else None

    async def _update_task(
        self, tx: Tx, current: Task, expected_version: int, fields: dict[str, Any]
    ) -> Task:
        unknown = set(fields) - rows.TASK_FIELDS
        if unknown:
            raise ValueError(f"not task fields that can be updated: {', '.join(sorted(unknown))}")
        if current.version != expected_version:
            raise ConflictError(
                f"task {current.id} changed (version {current.version}, expected "
                f"{expected_version}); re-read it and try again"
            )
        now = utcnow()
        if "state" in fields:
            target = TaskState(fields["state"])
            if target is not current.state:
                check_transition(current.state, target)
                if target.is_terminal:
                    fields.setdefault("finished_at", now)
                    fields.setdefault("lease_owner", None)
                    fields.setdefault("lease_expires_at", None)
                if target is TaskState.CLAIMED and current.started_at is None:
                    fields.setdefault("started_at", now)
        names = sorted(fields)
        sets = ", ".join(f"{n} = ?" for n in names)
        r = await tx.fetchrow(
            f"UPDATE ccm_tasks SET {sets}, version = version + 1, updated_at = ?"
            " WHERE id = ? AND version = ? RETURNING *",
            *(rows.task_param(n, fields[n]) for n in names), now, current.id, expected_version,
        )
        if r is None:
            raise ConflictError(f"task {current.id} changed while updating; re-read and retry")
        return rows.task_from_row(r)

    async def update_task(self, task_id: str, expected_version: int, **fields: Any) -> Task:
        async with self._tx() as tx:
            current = rows.task_from_row(await self._get_task_row(tx, task_id))
            return await self._update_task(tx, current, expected_version, fields)

    # -- leases -------------------------------------------------------------------------
    async def claim_next_task(self, owner: str, *, lease_seconds: float = 30.0) -> Task | None:
        now = utcnow()
        active = _marks(len(_ACTIVE))
        async with self._tx() as tx:
            if self.claim_lock:
                await tx.execute(self.claim_lock)
            r = await tx.fetchrow(
                "UPDATE ccm_tasks SET"
                " state = CASE WHEN state = 'new' THEN 'claimed' ELSE state END,"
                " lease_owner = ?, lease_expires_at = ?, attempts = attempts + 1,"
                " version = version + 1, updated_at = ?, started_at = COALESCE(started_at, ?)"
                " WHERE id = (SELECT t.id FROM ccm_tasks t WHERE"
                f" (t.state = 'new' AND NOT EXISTS (SELECT 1 FROM ccm_tasks o WHERE"
                f"   o.host = t.host AND o.state IN ({active})))"
                f" OR (t.state IN ({active}) AND (t.lease_expires_at IS NULL"
                "   OR t.lease_expires_at < ?))"
                " ORDER BY CASE WHEN t.state = 'new' THEN 1 ELSE 0 END,"
                " CASE t.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,"
                f" t.created_at, t.id LIMIT 1{self.skip_locked}) RETURNING *",
                owner, now + timedelta(seconds=lease_seconds), now, now, *_ACTIVE, *_ACTIVE, now,
            )
        return rows.task_from_row(r) if r else None

    async def renew_lease(self, task_id: str, owner: str, *, lease_seconds: float = 30.0) -> Task:
        expires = utcnow() + timedelta(seconds=lease_seconds)
        async with self._tx() as tx:
            r = await tx.fetchrow(
                "UPDATE ccm_tasks SET lease_expires_at = ? WHERE id = ? AND lease_owner = ?"
                f" AND state IN ({_marks(len(_ACTIVE))}) RETURNING *",
                expires, task_id, owner, *_ACTIVE,
            )
            if r is None:
                holder = await tx.fetchrow(
                    "SELECT lease_owner, state FROM ccm_tasks WHERE id = ?", task_id)
                if holder is None:
                    raise NotFound(f"no task {task_id!r}")
                raise LeaseLost(
                    f"task {task_id} is {holder['state']}, lease held by "
                    f"{holder['lease_owner'] or 'nobody'}, not {owner}"
                )
        return rows.task_from_row(r)

    async def release_lease(self, task_id: str, owner: str, *, requeue: bool = False) -> Task:
        async with self._tx() as tx:
            r = await tx.fetchrow(
                "UPDATE ccm_tasks SET lease_owner = NULL, lease_expires_at = NULL,"
                " state = CASE WHEN ? AND state = 'claimed' THEN 'new' ELSE state END,"
                " version = version + 1, updated_at = ?"
                " WHERE id = ? AND lease_owner = ? RETURNING *",
                requeue, utcnow(), task_id, owner,
            )
        if r is None:
            raise LeaseLost(f"{owner} holds no lease on task {task_id}")
        return rows.task_from_row(r)

    # -- events -------------------------------------------------------------------------
    async def append_events(self, events: Sequence[Event]) -> int:
        if not events:
            return 0
        new = 0
        async with self._tx() as tx:
            for e in events:
                new += await tx.execute(
                    "INSERT INTO ccm_events (task_id, seq, type, ts, data) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (task_id, seq) DO NOTHING",
                    e.task_id, e.seq, e.type, e.ts, rows.dumps(e.data),
                )
        return new

    async def list_events(
        self, task_id: str, *, after_seq: int = 0, limit: int = 10_000
    ) -> list[Event]:
        async with self._read() as tx:
            found = await tx.fetch(
                "SELECT * FROM ccm_events WHERE task_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                task_id, after_seq, limit,
            )
        return [rows.event_from_row(r) for r in found]

    async def last_seq(self, task_id: str) -> int:
        async with self._read() as tx:
            r = await tx.fetchrow(
                "SELECT COALESCE(MAX(seq), 0) AS m FROM ccm_events WHERE task_id = ?", task_id)
        return int(r["m"]) if r else 0

    # -- approvals ------------------------------------------------------------------------
    async def decide(
        self, task_id: str, kind: ApprovalKind | str, *, actor: str, note: str = ""
    ) -> Approval:
        if not actor.strip():
            raise ValueError("an approval needs an actor (who decided)")
        async with self._tx() as tx:
            task = rows.task_from_row(await self._get_task_row(tx, task_id))
            k = check_approval(task, kind)
            if k is ApprovalKind.APPROVE:
                earlier = await tx.fetchrow(
                    "SELECT * FROM ccm_approvals WHERE task_id = ? AND kind = 'approve'"
                    " ORDER BY id LIMIT 1", task.id)
                if earlier is not None:
                    first = rows.approval_from_row(earlier)
                    raise InvalidDecision(
                        f"task {task.id} was already approved by {first.actor} at "
                        f"{first.created_at:%Y-%m-%d %H:%M:%S} UTC",
                        hint=f"follow it with `ccm tasks show {task.id}`")
            now = utcnow()
            r = await tx.fetchrow(
                "INSERT INTO ccm_approvals (task_id, kind, actor, note, created_at)"
                " VALUES (?, ?, ?, ?, ?) RETURNING *", task.id, k.value, actor, note, now,
            )
            assert r is not None
            if k is ApprovalKind.REJECT:
                await self._update_task(tx, task, task.version, {
                    "state": TaskState.CANCELLED, "outcome": "rejected",
                    "note": note or task.note})
            elif k is ApprovalKind.ESCALATE:
                await self._update_task(tx, task, task.version, {
                    "state": TaskState.ESCALATED, "outcome": "escalated by operator",
                    "note": note or task.note})
            await self._audit(tx, actor, k.value, task.id, {"note": note, "state": task.state})
        return rows.approval_from_row(r)

    async def list_approvals(
        self, task_id: str | None = None, *, unrelayed_only: bool = False
    ) -> list[Approval]:
        where, args = ["1 = 1"], []
        if task_id is not None:
            where.append("task_id = ?")
            args.append(task_id)
        if unrelayed_only:
            where.append("relayed_at IS NULL")
        async with self._read() as tx:
            found = await tx.fetch(
                f"SELECT * FROM ccm_approvals WHERE {' AND '.join(where)} ORDER BY id", *args)
        return [rows.approval_from_row(r) for r in found]

    async def mark_relayed(self, approval_id: int) -> None:
        async with self._tx() as tx:
            if not await tx.execute(
                    "UPDATE ccm_approvals SET relayed_at = ? WHERE id = ?", utcnow(), approval_id):
                raise NotFound(f"no approval with id {approval_id}")

    # -- audit ----------------------------------------------------------------------------
    async def _audit(
        self, tx: Tx, actor: str, action: str, target: str, detail: dict[str, Any] | None
    ) -> AuditEntry:
        r = await tx.fetchrow(
            "INSERT INTO ccm_audit_log (ts, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)"
            " RETURNING *", utcnow(), actor, action, target, rows.dumps(detail or {}),
        )
        assert r is not None
        return rows.audit_from_row(r)

    async def audit(
        self, actor: str, action: str, target: str = "", detail: dict[str, Any] | None = None
    ) -> AuditEntry:
        async with self._tx() as tx:
            return await self._audit(tx, actor, action, target, detail)

    async def list_audit(
        self, *, since: datetime | None = None, limit: int = 200
    ) -> list[AuditEntry]:
        where, args = "1 = 1", []
        if since is not None:
            where, args = "ts >= ?", [since]
        async with self._read() as tx:
            found = await tx.fetch(
                f"SELECT * FROM ccm_audit_log WHERE {where} ORDER BY id DESC LIMIT ?",
                *args, limit)
        return [rows.audit_from_row(r) for r in found]

    # -- runbook stats --------------------------------------------------------------------
    async def record_runbook_outcome(
        self, runbook: str, host_group: str, *, success: bool | None = None,
        approved: bool | None = None,
    ) -> RunbookStats:
        inc = (int(success is True), int(success is False), int(approved is True),
               int(approved is False))
        async with self._tx() as tx:
            r = await tx.fetchrow(
                "INSERT INTO ccm_runbook_stats (runbook, host_group, successes, failures,"
                " approvals, rejections, updated_at, streak) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (runbook, host_group) DO UPDATE SET"
                " streak = CASE WHEN excluded.failures > 0 THEN 0"
                "   ELSE ccm_runbook_stats.streak + excluded.successes END,"
                " successes = ccm_runbook_stats.successes + excluded.successes,"
                " failures = ccm_runbook_stats.failures + excluded.failures,"
                " approvals = ccm_runbook_stats.approvals + excluded.approvals,"
                " rejections = ccm_runbook_stats.rejections + excluded.rejections,"
                " updated_at = excluded.updated_at RETURNING *",
                runbook, host_group, *inc, utcnow(), inc[0],
            )
        assert r is not None
        return rows.stats_from_row(r)

    async def set_runbook_mode(
        self, runbook: str, host_group: str, mode: RunbookMode | None
    ) -> RunbookStats:
        async with self._tx() as tx:
            r = await tx.fetchrow(
                "INSERT INTO ccm_runbook_stats (runbook, host_group, mode, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (runbook, host_group) DO UPDATE SET"
                " mode = excluded.mode, updated_at = excluded.updated_at, streak = 0"
                " RETURNING *",
                runbook, host_group, mode.value if mode else None, utcnow(),
            )
        assert r is not None
        return rows.stats_from_row(r)

    async def runbook_stats(self, runbook: str | None = None) -> list[RunbookStats]:
        async with self._read() as tx:
            if runbook is None:
                found = await tx.fetch(
                    "SELECT * FROM ccm_runbook_stats ORDER BY runbook, host_group")
            else:
                found = await tx.fetch(
                    "SELECT * FROM ccm_runbook_stats WHERE runbook = ? ORDER BY host_group",
                    runbook)
        return [rows.stats_from_row(r) for r in found]

    # -- outbox -------------------------------------------------------------------------
    async def enqueue(self, channel: str, payload: dict[str, Any], *, dedup_key: str) -> bool:
        now = utcnow()
        async with self._tx() as tx:
            r = await tx.fetchrow(
                "INSERT INTO ccm_outbox (channel, dedup_key, payload, next_attempt_at, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
                channel, dedup_key, rows.dumps(payload), now, now,
            )
        return r is not None

    async def claim_outbox(
        self, owner: str, *, limit: int = 10, lease_seconds: float = 60.0
    ) -> list[OutboxMessage]:
        now = utcnow()
        async with self._tx() as tx:
            found = await tx.fetch(
                "UPDATE ccm_outbox SET lease_owner = ?, lease_expires_at = ?,"
                " attempts = attempts + 1 WHERE id IN (SELECT t.id FROM ccm_outbox t"
                " WHERE t.state = 'pending' AND t.next_attempt_at <= ?"
                " AND (t.lease_expires_at IS NULL OR t.lease_expires_at < ?)"
                f" ORDER BY t.id LIMIT ?{self.skip_locked}) RETURNING *",
                owner, now + timedelta(seconds=lease_seconds), now, now, limit,
            )
        return sorted((rows.outbox_from_row(r) for r in found), key=lambda m: m.id)

    async def mark_sent(self, message_id: int, owner: str) -> None:
        async with self._tx() as tx:
            if not await tx.execute(
                "UPDATE ccm_outbox SET state = 'sent', sent_at = ?, lease_owner = NULL,"
                " lease_expires_at = NULL WHERE id = ? AND lease_owner = ?",
                utcnow(), message_id, owner,
            ):
                raise LeaseLost(f"{owner} holds no lease on notification {message_id}")

    async def mark_failed(
        self, message_id: int, owner: str, *, error: str, retry_at: datetime | None
    ) -> None:
        async with self._tx() as tx:
            if not await tx.execute(
                "UPDATE ccm_outbox SET state = ?, next_attempt_at = COALESCE(?, next_attempt_at),"
                " last_error = ?, lease_owner = NULL, lease_expires_at = NULL"
                " WHERE id = ? AND lease_owner = ?",
                "pending" if retry_at else "dead", retry_at, error[:2000], message_id, owner,
            ):
                raise LeaseLost(f"{owner} holds no lease on notification {message_id}")

    async def list_outbox(
        self, *, state: str | None = None, limit: int = 200
    ) -> list[OutboxMessage]:
        where, args = "1 = 1", []
        if state is not None:
            where, args = "state = ?", [state]
        async with self._read() as tx:
            found = await tx.fetch(
                f"SELECT * FROM ccm_outbox WHERE {where} ORDER BY id DESC LIMIT ?", *args, limit)
        return [rows.outbox_from_row(r) for r in found]

    # -- control --------------------------------------------------------------------------
    async def get_control(self) -> Control:
        async with self._read() as tx:
            r = await tx.fetchrow("SELECT * FROM ccm_control WHERE key = 'fleet'")
        return rows.control_from_row(r) if r else Control()

    async def set_paused(self, paused: bool, *, actor: str, reason: str = "") -> Control:
        async with self._tx() as tx:
            r = await tx.fetchrow(
                "UPDATE ccm_control SET paused = ?, actor = ?, reason = ?, updated_at = ?"
                " WHERE key = 'fleet' RETURNING *", paused, actor, reason, utcnow(),
            )
            await self._audit(tx, actor, "pause" if paused else "resume", "fleet",
                              {"reason": reason})
        assert r is not None
        return rows.control_from_row(r)
