"""The PostgreSQL hub (any Postgres, including a Supabase project's database).

Connections come from an asyncpg pool. Claims use ``FOR UPDATE SKIP LOCKED`` so
several daemons share one hub safely. Realtime is LISTEN/NOTIFY on ``ccm_changes``:
the schema's triggers notify with ids only; subscribers load what they need.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import deque
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any

import asyncpg

from ccm_tui.core.errors import ConflictError, HubUnavailable, NotFound, SchemaError
from ccm_tui.core.records import Change, ChangeKind
from ccm_tui.hub.migrations import MigrationFile, MigrationStatus, migration_files
from ccm_tui.hub.realtime import CHANGES_AFTER_SQL, Fanout, changes_from_rows, wanted
from ccm_tui.hub.rows import Row
from ccm_tui.hub.sql import SqlHub
from ccm_tui.hub.sql_core import Tx

#: An asyncpg connection, pooled or not (their stubs share no base class).
PgConn = Any

CHANNEL = "ccm_changes"
#: Longest wait for the pool's connections to close gracefully before they are cut.
CLOSE_TIMEOUT = 10.0
CONNECT_TIMEOUT = 5.0
#: Errors that mean "the database is not there right now", as opposed to a bad query.
_UNAVAILABLE = (
    OSError, TimeoutError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError, asyncpg.OperatorInterventionError,
    asyncpg.InvalidCatalogNameError, asyncpg.TooManyConnectionsError,
    asyncpg.InsufficientResourcesError,
)
_MIGRATE_LOCK = 0x63636D  # "ccm": serialises concurrent `ccm db migrate` runs


@lru_cache(maxsize=512)
def _dollar(sql: str) -> str:
    """Rewrite ``?`` placeholders as ``$1, $2, …``."""
    counter = iter(range(1, 10_000))
    return re.sub(r"\?", lambda _m: f"${next(counter)}", sql)


def _rowcount(status: str) -> int:
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class _PgTx:
    def __init__(self, conn: PgConn) -> None:
        self._conn = conn

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return list(await self._conn.fetch(_dollar(sql), *args))

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        r: Row | None = await self._conn.fetchrow(_dollar(sql), *args)
        return r

    async def execute(self, sql: str, *args: Any) -> int:
        return _rowcount(await self._conn.execute(_dollar(sql), *args))


def _describe(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def refused_privilege(exc: BaseException) -> bool:
    """Whether ``exc`` is PostgreSQL refusing the connected user a right it needs."""
    return isinstance(exc, asyncpg.InsufficientPrivilegeError)


class PostgresHub(SqlHub):
    """A hub in PostgreSQL (``postgresql://user:pass@host:5432/db``)."""

    skip_locked = " FOR UPDATE OF t SKIP LOCKED"
    claim_lock = "SELECT pg_advisory_xact_lock(6517569)"  # "ccm-claim", held until commit

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: asyncpg.Pool | None = None
        self._fanout = Fanout()
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._closing = False

    # -- life cycle -----------------------------------------------------------------------
    async def connect(self) -> None:
        if self._pool is not None:
            return
        try:
            self._pool = await asyncpg.create_pool(
                self.url, min_size=1, max_size=8, timeout=CONNECT_TIMEOUT,
                command_timeout=60, server_settings={"application_name": "ccm"},
            )
        except (OSError, TimeoutError, asyncpg.PostgresError,
                asyncpg.InterfaceError, ValueError) as exc:
            raise HubUnavailable(
                f"cannot connect to PostgreSQL at {_describe(self.url)}: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            ) from exc

    async def close(self) -> None:
        self._closing = True
        self._fanout.close()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            self._listener = None
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:  # a graceful close waits on the server: not forever on a lost network
                await asyncio.wait_for(pool.close(), CLOSE_TIMEOUT)
            except TimeoutError:
                pool.terminate()

    async def migrate(self) -> list[str]:
        if self._pool is None:
            await self.connect()
        assert self._pool is not None
        applied: list[str] = []
        async with self._pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATE_LOCK)
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS ccm_schema_migrations (version text PRIMARY KEY,"
                    " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
                done = {r["version"] for r in await conn.fetch(
                    "SELECT version FROM ccm_schema_migrations")}
                for mig in migration_files():
                    if mig.version in done:
                        continue
                    await self._apply(conn, mig)
                    applied.append(mig.filename)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATE_LOCK)
        return applied

    async def migration_status(self) -> MigrationStatus:
        """The migrations applied to the database and those pending, changing nothing."""
        async with self._require().acquire() as conn:
            done: dict[str, str] = {}
            if await conn.fetchval("SELECT to_regclass('ccm_schema_migrations')") is not None:
                done = {r["version"]: r["name"] for r in await conn.fetch(
                    "SELECT version, name FROM ccm_schema_migrations ORDER BY version")}
        files = migration_files()
        known = {m.version for m in files}
        return MigrationStatus(
            applied=tuple(m.filename for m in files if m.version in done),
            pending=tuple(m.filename for m in files if m.version not in done),
            newer=tuple(f"{v}_{name}.sql" for v, name in done.items() if v not in known))

    @staticmethod
    async def _apply(conn: PgConn, mig: MigrationFile) -> None:
        async with conn.transaction():
            await conn.execute(mig.sql)
            await conn.execute(
                "INSERT INTO ccm_schema_migrations (version, name) VALUES ($1, $2)",
                mig.version, mig.name)

    async def _lease_clock(self, tx: Tx) -> datetime:
        r = await tx.fetchrow("SELECT clock_timestamp() AS now")
        assert r is not None
        now: datetime = r["now"]
        return now

    # -- transactions ---------------------------------------------------------------------
    def _require(self) -> asyncpg.Pool:
        if self._pool is None:
            raise HubUnavailable("the hub is not connected", hint="use `async with hub:`")
        return self._pool

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[_PgTx]:
        pool = self._require()
        try:
            async with pool.acquire() as conn, conn.transaction():
                yield _PgTx(conn)
        except asyncpg.UndefinedTableError as exc:
            raise SchemaError(f"the hub has no CCM schema ({exc})") from exc
        except asyncpg.ForeignKeyViolationError as exc:
            raise NotFound(f"refers to a task that does not exist ({exc.detail})") from exc
        except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError) as exc:
            # PostgreSQL rolled the whole transaction back: nothing is stored, try again.
            raise ConflictError(f"a concurrent writer got in the way ({exc})") from exc
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "ccm_tasks_one_open":
                raise ConflictError("that host already has an open task for this alert;"
                                    " attach to it instead") from exc
            raise ConflictError(f"already stored ({exc.detail})") from exc
        except _UNAVAILABLE as exc:
            raise HubUnavailable(f"lost the PostgreSQL hub: {exc}") from exc

    @contextlib.asynccontextmanager
    async def _read(self) -> AsyncIterator[_PgTx]:
        pool = self._require()
        try:
            async with pool.acquire() as conn:
                yield _PgTx(conn)
        except asyncpg.UndefinedTableError as exc:
            raise SchemaError(f"the hub has no CCM schema ({exc})") from exc
        except _UNAVAILABLE as exc:
            raise HubUnavailable(f"lost the PostgreSQL hub: {exc}") from exc

    # -- realtime -------------------------------------------------------------------------
    async def _load_after(self, conn: PgConn, change_id: int) -> list[Change]:
        found = await conn.fetch(_dollar(CHANGES_AFTER_SQL), change_id, 5000)
        return changes_from_rows(found)

    async def _load_ids(self, conn: PgConn, ids: list[int]) -> list[Change]:
        found = await conn.fetch(
            "SELECT c.id AS change_id, c.kind AS change_kind, c.task_id AS change_task,"
            " c.ref AS change_ref, e.task_id, e.seq, e.type, e.ts, e.data"
            " FROM ccm_changes c LEFT JOIN ccm_events e ON c.kind = 'event'"
            " AND e.task_id = c.task_id AND e.seq::text = c.ref WHERE c.id = ANY($1::bigint[])",
            ids,
        )
        by_id = {c.id: c for c in changes_from_rows(found)}
        return [by_id[i] for i in ids if i in by_id]

    async def _listen(self) -> None:
        """Hold a LISTEN connection; on loss, reconnect and catch up from the table."""
        inbox: asyncio.Queue[int] = asyncio.Queue()
        seen: deque[int] = deque(maxlen=20_000)
        seen_set: set[int] = set()
        last_id: int | None = None
        backoff = 0.2

        def remember(ids: Iterable[int]) -> None:
            for i in ids:
                if len(seen) == seen.maxlen:
                    seen_set.discard(seen[0])
                seen.append(i)
                seen_set.add(i)

        def on_notify(_c: object, _pid: int, _chan: str, payload: object) -> None:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                inbox.put_nowait(int(json.loads(str(payload))["id"]))

        while not self._closing:
            conn: PgConn = None
            try:
                conn = await asyncpg.connect(self.url, timeout=CONNECT_TIMEOUT)
                await conn.add_listener(CHANNEL, on_notify)
                if last_id is None:
                    last_id = int(await conn.fetchval(
                        "SELECT COALESCE(MAX(id), 0) FROM ccm_changes"))
                else:  # catch up with what was committed while we were away
                    missed = [c for c in await self._load_after(conn, max(0, last_id - 5000))
                              if c.id not in seen_set]
                    remember(c.id for c in missed)
                    self._fanout.publish(missed)
                self._listening.set()
                backoff = 0.2
                while not conn.is_closed():
                    try:
                        first = await asyncio.wait_for(inbox.get(), timeout=5.0)
                    except TimeoutError:
                        await conn.execute("SELECT 1")  # notices a dead connection
                        continue
                    ids = [first]
                    while not inbox.empty() and len(ids) < 1000:
                        ids.append(inbox.get_nowait())
                    ids = [i for i in ids if i not in seen_set]
                    if not ids:
                        continue
                    changes = await self._load_ids(conn, ids)
                    remember(ids)
                    last_id = max([last_id, *ids])
                    self._fanout.publish(changes)
            except asyncio.CancelledError:
                raise
            except Exception:  # connection lost: back off and reconnect
                self._listening.clear()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close()

    async def subscribe(
        self, kinds: Iterable[ChangeKind] | None = None, *, since: int | None = None
    ) -> AsyncIterator[Change]:
        want = wanted(kinds)
        self._require()
        if self._listener is None or self._listener.done():
            self._listening.clear()
            self._listener = asyncio.get_running_loop().create_task(self._listen())
        queue = self._fanout.add()
        try:
            await asyncio.wait_for(self._listening.wait(), timeout=CONNECT_TIMEOUT * 2)
        except TimeoutError as exc:
            self._fanout.remove(queue)
            raise HubUnavailable("cannot LISTEN on the PostgreSQL hub") from exc
        try:
            replayed: set[int] = set()
            if since is not None:
                async with self._require().acquire() as conn:
                    cursor = since
                    while True:
                        batch = await self._load_after(conn, cursor)
                        if not batch:
                            break
                        for ch in batch:
                            replayed.add(ch.id)
                            if want is None or ch.kind in want:
                                yield ch
                        cursor = batch[-1].id
            while True:
                item = await queue.get()
                if item is None:
                    return
                ch = item
                if ch.id in replayed:
                    continue
                if want is None or ch.kind in want:
                    yield ch
        finally:
            self._fanout.remove(queue)
