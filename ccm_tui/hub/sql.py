"""The SQL implementation of :class:`~ccm_tui.hub.base.Hub`, shared by SQLite and PostgreSQL.

Queries are written once, with ``?`` placeholders; each adapter supplies
transactions (:class:`Tx`), its row-locking clause, and realtime delivery.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from ccm_tui.core.errors import ConflictError, InvalidDecision, LeaseLost, NotFound
from ccm_tui.core.model import (
    Approval,
    ApprovalKind,
    Event,
    Task,
    check_approval,
    is_endorsable,
    utcnow,
)
from ccm_tui.core.states import TaskState, check_transition
from ccm_tui.hub import rows
from ccm_tui.hub.base import TaskQuery
from ccm_tui.hub.rows import Row
from ccm_tui.hub.sql_alerts import _INSERT_TASK, SqlAlerts, _task_args
from ccm_tui.hub.sql_core import _ACTIVE, _OPEN, Tx, _marks

#: A daemon's note of its hosts that nobody refreshed for this long is pruned (a daemon
#: killed without stopping leaves one behind).
DAEMON_HOSTS_RETENTION = timedelta(days=1)


class SqlHub(SqlAlerts):
    """Every Hub method, in portable SQL. Subclasses: SqliteHub, PostgresHub.

    Tasks, leases, events and approvals here; alerts and silences in
    :mod:`.sql_alerts`; hosts, audit, runbook stats, outbox and control in :mod:`.sql_core`.
    """

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
    async def claim_next_task(
        self, owner: str, *, lease_seconds: float = 30.0, hosts: Collection[str] | None = None,
        others_after: float | None = None,
    ) -> Task | None:
        active = _marks(len(_ACTIVE))
        async with self._tx() as tx:
            if self.claim_lock:
                await tx.execute(self.claim_lock)
            now = await self._lease_clock(tx)
            scope, scope_args = _claim_scope(hosts, others_after, now)
            r = await tx.fetchrow(
                "UPDATE ccm_tasks SET"
                " state = CASE WHEN state = 'new' THEN 'claimed' ELSE state END,"
                " lease_owner = ?, lease_expires_at = ?, attempts = attempts + 1,"
                " version = version + 1, updated_at = ?, started_at = COALESCE(started_at, ?)"
                " WHERE id = (SELECT t.id FROM ccm_tasks t WHERE"
                f" ((t.state = 'new' AND NOT EXISTS (SELECT 1 FROM ccm_tasks o WHERE"
                f"   o.host = t.host AND o.state IN ({active})))"
                f" OR (t.state IN ({active}) AND (t.lease_expires_at IS NULL"
                f"   OR t.lease_expires_at < ?))){scope}"
                " ORDER BY CASE WHEN t.state = 'new' THEN 1 ELSE 0 END,"
                " CASE t.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,"
                f" t.created_at, t.id LIMIT 1{self.skip_locked}) RETURNING *",
                owner, now + timedelta(seconds=lease_seconds), now, now, *_ACTIVE, *_ACTIVE, now,
                *scope_args,
            )
        return rows.task_from_row(r) if r else None

    async def note_daemon_hosts(self, owner: str, hosts: Collection[str]) -> None:
        names = sorted(set(hosts))
        async with self._tx() as tx:
            now = await self._lease_clock(tx)  # the clock the claim compares it with
            await tx.execute("DELETE FROM ccm_daemon_hosts WHERE owner = ? OR seen_at < ?",
                             owner, now - DAEMON_HOSTS_RETENTION)
            for i in range(0, len(names), 500):
                chunk = names[i:i + 500]
                await tx.execute(
                    "INSERT INTO ccm_daemon_hosts (host, owner, seen_at) VALUES "
                    + ", ".join(["(?, ?, ?)"] * len(chunk)),
                    *(v for name in chunk for v in (name, owner, now)))

    async def renew_lease(self, task_id: str, owner: str, *, lease_seconds: float = 30.0) -> Task:
        async with self._tx() as tx:
            expires = await self._lease_clock(tx) + timedelta(seconds=lease_seconds)
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
            shadow_plan = is_endorsable(task)  # approve endorses it, reject says it was wrong
            if k is ApprovalKind.APPROVE or shadow_plan:
                earlier = await tx.fetchrow(
                    "SELECT * FROM ccm_approvals WHERE task_id = ? AND kind IN ("
                    + ("'approve', 'reject'" if shadow_plan else "'approve'")
                    + ") ORDER BY id LIMIT 1", task.id)
                if earlier is not None:
                    first = rows.approval_from_row(earlier)
                    verb = {"approve": "endorsed" if shadow_plan else "approved",
                            "reject": "rejected"}[first.kind.value]
                    raise InvalidDecision(
                        f"task {task.id} was already {verb} by {first.actor} at "
                        f"{first.created_at:%Y-%m-%d %H:%M:%S} UTC",
                        hint=f"follow it with `ccm tasks show {task.id}`")
            now = utcnow()
            r = await tx.fetchrow(
                "INSERT INTO ccm_approvals (task_id, kind, actor, note, created_at)"
                " VALUES (?, ?, ?, ?, ?) RETURNING *", task.id, k.value, actor, note, now,
            )
            assert r is not None
            if k is ApprovalKind.REJECT and not shadow_plan:
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


def _claim_scope(hosts: Collection[str] | None, others_after: float | None,
                 now: datetime) -> tuple[str, list[Any]]:
    """The claim's host filter (see :meth:`Hub.claim_next_task`) as SQL and its arguments."""
    if hosts is None:
        return "", []
    # Unmanaged: ingest found the host in no inventory, nor has a daemon synced it since.
    parts, args = ["(NOT t.managed AND NOT EXISTS (SELECT 1 FROM ccm_hosts h"
                   " WHERE h.name = t.host AND h.managed))"], list[Any]()
    names = sorted(set(hosts))
    if names:
        parts.append(f"t.host IN ({_marks(len(names))})")
        args.extend(names)
    if others_after is not None:
        # Held last: its lease's end, else when it was released (a task never claimed:
        # when it was raised, so repeats of its alert do not put the escalation off).
        cutoff = now - timedelta(seconds=others_after)
        parts.append(
            "(COALESCE(t.lease_expires_at, CASE WHEN t.attempts = 0 THEN t.created_at"
            " ELSE t.updated_at END) < ? AND NOT EXISTS (SELECT 1 FROM ccm_tasks f"
            " WHERE f.host = t.host AND f.finished_at >= ?) AND NOT EXISTS (SELECT 1"
            " FROM ccm_daemon_hosts d WHERE d.host = t.host AND d.seen_at >= ?))")
        args.extend([cutoff, cutoff, cutoff])
    return f" AND ({' OR '.join(parts)})", args
