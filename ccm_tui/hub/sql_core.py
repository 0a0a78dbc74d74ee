"""The shared base of the SQL hub: transactions, hosts and health, audit, runbook
stats, the outbox and the fleet-wide control switches.

Queries are written once, with ``?`` placeholders; each adapter supplies
transactions (:class:`Tx`), its row-locking clause, and realtime delivery.
"""

from __future__ import annotations

import itertools
from abc import abstractmethod
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any, Protocol

from ccm_tui.core.errors import LeaseLost, NotFound
from ccm_tui.core.model import HealthSnapshot, Host, RunbookMode, utcnow
from ccm_tui.core.records import AuditEntry, Control, OutboxMessage, RunbookStats
from ccm_tui.core.states import ACTIVE_STATES, OPEN_STATES
from ccm_tui.hub import rows
from ccm_tui.hub.base import Hub
from ccm_tui.hub.rows import Row

_ACTIVE = tuple(sorted(s.value for s in ACTIVE_STATES))
_OPEN = tuple(sorted(s.value for s in OPEN_STATES))


def _marks(n: int) -> str:
    return ", ".join("?" * n)


class Tx(Protocol):
    """One transaction (or one read) on the adapter's connection."""

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        """All rows of a query."""

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        """The first row of a query, or ``None``."""

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; return the number of rows it changed."""


class SqlCore(Hub):
    """The SQL hub's base: transactions and the simpler tables (see :class:`SqlHub`)."""

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

    async def _lease_clock(self, tx: Tx) -> datetime:
        """The time leases are granted and judged by: one clock for every daemon.

        The hub's own clock where it has one (PostgreSQL), so two daemons whose
        clocks disagree still agree on whether a lease has expired; SQLite hubs live
        on one machine, whose clock every local process shares.
        """
        return utcnow()

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
        async with self._tx() as tx:
            return await self._count_outcome(tx, runbook, host_group, success, approved)

    async def record_task_outcome(
        self, task_id: str, runbook: str, host_group: str, *, success: bool,
        approved: bool | None = None,
    ) -> RunbookStats | None:
        async with self._tx() as tx:
            first = await tx.fetchrow(
                "INSERT INTO ccm_runbook_outcomes (task_id, runbook, host_group, success,"
                " approved, recorded_at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (task_id) DO NOTHING RETURNING task_id",
                task_id, runbook, host_group, success, approved, utcnow(),
            )
            if first is None:
                return None
            return await self._count_outcome(tx, runbook, host_group, success, approved)

    async def _count_outcome(self, tx: Tx, runbook: str, host_group: str,
                             success: bool | None, approved: bool | None) -> RunbookStats:
        inc = (int(success is True), int(success is False), int(approved is True),
               int(approved is False))
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
        async with self._tx() as tx:
            now = await self._lease_clock(tx)
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
