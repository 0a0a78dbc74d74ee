"""The embedded hub: one SQLite file in WAL mode, shared by every local CCM process.

Statements run in place on the event loop's thread: with WAL and
``synchronous=NORMAL`` a commit costs tens of microseconds, far less than handing
every statement to a worker thread (which made a webhook request ~10x slower).
Nothing ever blocks on another process's lock: the busy timeout is zero, and a
writer that finds the file locked yields to the loop and retries ``BEGIN
IMMEDIATE`` with backoff, so a transaction never fails half-way. Realtime is a 50 ms poll of the ``ccm_changes`` table that triggers fill, so a
subscriber in another process sees a change well within 250 ms.

Checkpoints (copying the WAL back into the database file, with an ``fsync``) run
on a worker thread on a second connection, every :data:`CHECKPOINT_EVERY` commits,
instead of inside whichever commit crosses SQLite's auto-checkpoint mark — where
they stalled the loop for milliseconds. A commit is exactly as durable as before:
checkpointing only moves data that the WAL already holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

from ccm_tui.core.errors import ConflictError, HubUnavailable, NotFound, SchemaError
from ccm_tui.core.model import utcnow
from ccm_tui.core.records import Change, ChangeKind
from ccm_tui.hub import SQLITE_SYNCHRONOUS, refuse_a_foreign_database, sqlite_preflight
from ccm_tui.hub.realtime import CHANGES_AFTER_SQL, Fanout, changes_from_rows, wanted
from ccm_tui.hub.rows import Row
from ccm_tui.hub.sql import SqlHub
from ccm_tui.hub.sqlite_locking import commit_off_loop, when_unlocked
from ccm_tui.hub.sqlite_schema import MIGRATIONS, split_statements

POLL_INTERVAL = 0.05
#: Changes older than this are pruned (subscribers replay at most this far back).
CHANGE_RETENTION = timedelta(days=2)


def _params(args: tuple[Any, ...]) -> list[Any]:
    """Statement arguments as SQLite stores them: times as ISO 8601 text (microseconds)."""
    return [a.isoformat(timespec="microseconds") if isinstance(a, datetime) else a
            for a in args]


#: Write transactions between two background checkpoints (SQLite's own mark is ~1000
#: pages; a write transaction here dirties a few to a few dozen).
CHECKPOINT_EVERY = 100


class _SqliteTx:
    """Statements on the shared connection, run in place (no thread hop)."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return list(self.conn.execute(sql, _params(args)).fetchall())

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        row: Row | None = self.conn.execute(sql, _params(args)).fetchone()
        return row

    async def execute(self, sql: str, *args: Any) -> int:
        return max(self.conn.execute(sql, _params(args)).rowcount, 0)


class _OnHub:
    """Base of the two ``async with`` managers below: plain classes rather than
    ``@asynccontextmanager``, because they run for every hub call and a generator-based
    manager costs several times as much."""

    __slots__ = ("_hub",)

    def __init__(self, hub: SqliteHub) -> None:
        self._hub = hub


class _SqliteRead(_OnHub):
    """``async with hub._read() as tx``: the connection, to this task alone."""

    __slots__ = ()

    async def __aenter__(self) -> _SqliteTx:
        hub = self._hub
        tx = hub._statements()
        await hub._lock.acquire()
        return tx

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._hub._lock.release()
        if isinstance(exc, sqlite3.OperationalError):
            raise HubUnavailable(f"SQLite hub {self._hub.path}: {exc}") from exc


class _SqliteWrite(_OnHub):
    """``async with hub._tx() as tx``: ``BEGIN IMMEDIATE`` … ``COMMIT``, or a rollback.

    A constraint violation becomes :class:`ConflictError` (UNIQUE) or
    :class:`NotFound` (FOREIGN KEY); a database error :class:`HubUnavailable`.
    """

    __slots__ = ()

    async def __aenter__(self) -> _SqliteTx:
        hub = self._hub
        tx = hub._statements()
        conn = tx.conn
        await hub._lock.acquire()
        try:
            await when_unlocked(lambda: conn.execute("BEGIN IMMEDIATE"), "writing", hub.path)
        except BaseException as exc:
            hub._lock.release()
            if isinstance(exc, sqlite3.OperationalError):
                raise HubUnavailable(f"SQLite hub {hub.path}: {exc}") from exc
            raise
        return tx

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        hub = self._hub
        conn = hub._statements().conn
        try:
            if exc is None:
                try:
                    if hub.synchronous == "full":
                        await commit_off_loop(conn, hub._commit_thread(), hub.path)
                    else:
                        await when_unlocked(lambda: conn.execute("COMMIT"), "committing",
                                             hub.path)
                except BaseException as failed:
                    mapped = hub._rolled_back(conn, failed)
                    if mapped is failed:
                        raise
                    raise mapped from failed
                hub._after_commit()
                return
            mapped = hub._rolled_back(conn, exc)
            if mapped is not exc:
                raise mapped from exc
        finally:
            hub._lock.release()


class SqliteHub(SqlHub):
    """A hub in one SQLite file (``sqlite:///path/to/hub.db``).

    ``create``: whether connecting may make the file (and its folder) when it does not
    exist. Services and set-up commands do; a command that reads or acts on the hub
    does not, so a mistyped path is an error rather than a new, empty hub.
    """

    def __init__(self, path: str | Path, *, url: str | None = None,
                 synchronous: str = "normal", create: bool = True) -> None:
        if synchronous not in SQLITE_SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {', '.join(SQLITE_SYNCHRONOUS)}")
        self.path = Path(path).expanduser()
        self.url = url or f"sqlite:///{self.path}"
        self.synchronous = synchronous
        self.create = create
        self._conn: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()
        self._fanout = Fanout()
        self._poller: asyncio.Task[None] | None = None
        self._last_change = 0
        self._unreported: list[str] = []
        self._commits = 0
        self._checkpointer: sqlite3.Connection | None = None
        self._checkpoints: ThreadPoolExecutor | None = None
        self._checkpointing: Future[None] | None = None
        self._stx: _SqliteTx | None = None
        self._committer: ThreadPoolExecutor | None = None

    def _commit_thread(self) -> ThreadPoolExecutor:
        """The thread fsync'ing commits run on (``synchronous=full``), started on first use."""
        if self._committer is None:
            self._committer = ThreadPoolExecutor(1, thread_name_prefix="ccm-sqlite-commit")
        return self._committer

    # -- life cycle -----------------------------------------------------------------------
    async def connect(self) -> None:
        if self._conn is not None:
            return
        sqlite_preflight(self.path, create=self.create)
        new = not self.path.exists()
        try:
            if self.create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            # mode=rw: a file removed since the check above is an error, not a new hub
            conn = sqlite3.connect(f"file:{quote(str(self.path.absolute()))}?mode="
                                   f"{'rwc' if self.create else 'rw'}", uri=True,
                                   isolation_level=None, timeout=0, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise HubUnavailable(f"cannot open SQLite hub {self.path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        try:
            refuse_a_foreign_database(conn, self.path)  # before WAL changes the file
            await when_unlocked(lambda: conn.execute("PRAGMA journal_mode = WAL"),
                                 "switching to WAL", self.path)
            conn.execute("PRAGMA busy_timeout = 0")
            conn.execute(f"PRAGMA synchronous = {self.synchronous.upper()}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA wal_autocheckpoint = 0")  # see _after_commit
        except SchemaError:
            conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise HubUnavailable(f"{self.path} is not a usable SQLite database: {exc}",
                                 hint="check the hub's path: this file is not a CCM hub "
                                 "(a CCM hub is made by `ccm init` or `ccm db migrate`)",
                                 ) from exc
        self._conn = conn
        self._unreported = await self._migrate()
        if new:  # a service's log shows it: a mistyped path is a hub no one else uses
            logging.getLogger("ccm.hub").info("no hub at %s: made a new, empty one", self.path)

    async def close(self) -> None:
        self._fanout.close()
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._poller
            self._poller = None
        if self._checkpointing is not None:
            with contextlib.suppress(Exception):
                await asyncio.wrap_future(self._checkpointing)
            self._checkpointing = None
        if self._checkpoints is not None:
            self._checkpoints.shutdown(wait=True)
            self._checkpoints = None
        if self._committer is not None:
            self._committer.shutdown(wait=True)
            self._committer = None
        if self._checkpointer is not None:
            checkpointer, self._checkpointer = self._checkpointer, None
            checkpointer.close()
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()  # the last connection to close also checkpoints

    async def migrate(self) -> list[str]:
        """Apply what is missing; also reports what opening the file applied."""
        if self._conn is None:
            await self.connect()
        applied, self._unreported = self._unreported + await self._migrate(), []
        return applied

    async def _migrate(self) -> list[str]:
        conn = self._require()
        applied: list[str] = []
        async with self._lock:
            await when_unlocked(lambda: conn.execute("BEGIN IMMEDIATE"), "migrating", self.path)
            try:
                row = conn.execute("PRAGMA user_version").fetchone()
                current = int(row[0]) if row else 0
                latest = MIGRATIONS[-1][0]
                if current > latest:
                    raise SchemaError(
                        f"hub {self.path} has schema version {current}, newer than this CCM "
                        f"({latest})", hint="upgrade CCM")
                for version, name, script in MIGRATIONS:
                    if version > current:
                        for statement in split_statements(script):
                            conn.execute(statement)
                        conn.execute(f"PRAGMA user_version = {version}")
                        applied.append(f"{version:04d}_{name}")
                cutoff = (utcnow() - CHANGE_RETENTION).isoformat(timespec="microseconds")
                conn.execute("DELETE FROM ccm_changes WHERE created_at < ?", (cutoff,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return applied

    def _statements(self) -> _SqliteTx:
        """The connection's statement runner (raises when not connected)."""
        tx = self._stx
        if tx is None or tx.conn is not self._conn:
            tx = self._stx = _SqliteTx(self._require())
        return tx

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise HubUnavailable("the hub is not connected", hint="use `async with hub:`")
        return self._conn

    # -- transactions ---------------------------------------------------------------------
    def _tx(self) -> _SqliteWrite:
        return _SqliteWrite(self)

    def _rolled_back(self, conn: sqlite3.Connection, exc: BaseException) -> BaseException:
        """Roll back after ``exc``; the error to raise in its place (``exc`` if none)."""
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.IntegrityError):
            if "FOREIGN KEY" in str(exc):
                return NotFound(f"refers to a task that does not exist ({exc})")
            if "UNIQUE" in str(exc):
                return ConflictError(_unique_message(str(exc)))
        elif isinstance(exc, sqlite3.OperationalError):
            return HubUnavailable(f"SQLite hub {self.path}: {exc}")
        return exc

    def _after_commit(self) -> None:
        """Every :data:`CHECKPOINT_EVERY` commits, checkpoint on the worker thread.

        Tracked with a thread-side future, so it works even for a caller that
        writes in a loop without ever yielding to the event loop.
        """
        self._commits += 1
        if self._commits < CHECKPOINT_EVERY:
            return
        running = self._checkpointing
        if running is not None and not running.done():
            return
        self._commits = 0
        if self._checkpoints is None:
            self._checkpoints = ThreadPoolExecutor(max_workers=1,
                                                   thread_name_prefix="ccm-checkpoint")
        # A failed checkpoint is simply tried again next time: nothing is lost.
        self._checkpointing = self._checkpoints.submit(self._checkpoint)

    def _checkpoint(self) -> None:
        """PASSIVE: copies what it can without waiting for (or blocking) anyone."""
        if self._conn is None:
            return
        if self._checkpointer is None:
            self._checkpointer = sqlite3.connect(self.path, isolation_level=None, timeout=0,
                                                 check_same_thread=False)
            self._checkpointer.execute("PRAGMA synchronous = NORMAL")
        self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _read(self) -> _SqliteRead:
        return _SqliteRead(self)

    # -- realtime -------------------------------------------------------------------------
    async def _load_changes_after(self, change_id: int, limit: int = 2000) -> list[Change]:
        async with self._read() as tx:
            found = await tx.fetch(CHANGES_AFTER_SQL, change_id, limit)
        return changes_from_rows(found)

    async def _poll(self) -> None:
        while self._conn is not None:
            try:
                while True:
                    batch = await self._load_changes_after(self._last_change)
                    if not batch:
                        break
                    self._last_change = batch[-1].id
                    self._fanout.publish(batch)
            except (sqlite3.Error, HubUnavailable, ValueError):
                pass  # a busy or closing database: try again next tick
            await asyncio.sleep(POLL_INTERVAL)

    async def _start_poller(self) -> None:
        if self._poller is None or self._poller.done():
            async with self._read() as tx:
                r = await tx.fetchrow("SELECT COALESCE(MAX(id), 0) AS m FROM ccm_changes")
            self._last_change = int(r["m"]) if r else 0
            self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def subscribe(
        self, kinds: Iterable[ChangeKind] | None = None, *, since: int | None = None
    ) -> AsyncIterator[Change]:
        want = wanted(kinds)
        await self._start_poller()
        queue = self._fanout.add()
        horizon = self._last_change
        try:
            if since is not None:
                cursor = since
                while cursor < horizon:
                    batch = await self._load_changes_after(cursor)
                    if not batch:
                        break
                    for ch in batch:
                        if ch.id > horizon:
                            break
                        cursor = ch.id
                        if want is None or ch.kind in want:
                            yield ch
                    else:
                        continue
                    break
            while True:
                item = await queue.get()
                if item is None:
                    return
                if want is None or item.kind in want:
                    yield item
        finally:
            self._fanout.remove(queue)


def _unique_message(detail: str) -> str:
    if "ccm_tasks.host" in detail:
        return "that host already has an open task for this alert; attach to it instead"
    return f"already stored ({detail})"
