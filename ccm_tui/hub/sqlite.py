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
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ccm_tui.core.errors import ConflictError, HubUnavailable, NotFound, SchemaError
from ccm_tui.core.model import Change, ChangeKind, utcnow
from ccm_tui.hub.realtime import CHANGES_AFTER_SQL, Fanout, change_from_row, wanted
from ccm_tui.hub.rows import Row
from ccm_tui.hub.sql import SqlHub
from ccm_tui.hub.sqlite_schema import MIGRATIONS

POLL_INTERVAL = 0.05
#: Changes older than this are pruned (subscribers replay at most this far back).
CHANGE_RETENTION = timedelta(days=2)


def _param(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    return value


#: How long a writer keeps retrying a locked file before the hub counts as unavailable.
LOCK_PATIENCE = 30.0
#: Write transactions between two background checkpoints (SQLite's own mark is ~1000
#: pages; a write transaction here dirties a few to a few dozen).
CHECKPOINT_EVERY = 100


class _SqliteTx:
    """Statements on the shared connection, run in place (no thread hop)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return list(self._conn.execute(sql, [_param(a) for a in args]).fetchall())

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        row: Row | None = self._conn.execute(sql, [_param(a) for a in args]).fetchone()
        return row

    async def execute(self, sql: str, *args: Any) -> int:
        return max(self._conn.execute(sql, [_param(a) for a in args]).rowcount, 0)


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


async def _when_unlocked(op: Callable[[], Any], what: str, path: Path) -> Any:
    """Run ``op()``; while another process holds the file, yield and retry with backoff."""
    delay, waited = 0.001, 0.0
    while True:
        try:
            return op()
        except sqlite3.OperationalError as exc:
            if not _is_locked(exc):
                raise
            if waited > LOCK_PATIENCE:
                raise HubUnavailable(f"SQLite hub {path} stayed locked for {waited:.0f}s "
                                     f"({what})") from exc
        await asyncio.sleep(delay)
        waited += delay
        delay = min(delay * 2, 0.05)


class SqliteHub(SqlHub):
    """A hub in one SQLite file (``sqlite:///path/to/hub.db``)."""

    def __init__(self, path: str | Path, *, url: str | None = None) -> None:
        self.path = Path(path).expanduser()
        self.url = url or f"sqlite:///{self.path}"
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

    # -- life cycle -----------------------------------------------------------------------
    async def connect(self) -> None:
        if self._conn is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=0,
                                   check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise HubUnavailable(f"cannot open SQLite hub {self.path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        try:
            await _when_unlocked(lambda: conn.execute("PRAGMA journal_mode = WAL"),
                                 "switching to WAL", self.path)
            conn.execute("PRAGMA busy_timeout = 0")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA wal_autocheckpoint = 0")  # see _after_commit
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise HubUnavailable(f"{self.path} is not a usable SQLite database: {exc}") from exc
        self._conn = conn
        self._unreported = await self._migrate()

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
            await _when_unlocked(lambda: conn.execute("BEGIN IMMEDIATE"), "migrating", self.path)
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
                        for statement in _split_statements(script):
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

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise HubUnavailable("the hub is not connected", hint="use `async with hub:`")
        return self._conn

    # -- transactions ---------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[_SqliteTx]:
        conn = self._require()
        async with self._lock:
            try:
                await _when_unlocked(lambda: conn.execute("BEGIN IMMEDIATE"), "writing",
                                     self.path)
            except sqlite3.OperationalError as exc:
                raise HubUnavailable(f"SQLite hub {self.path}: {exc}") from exc
            try:
                yield _SqliteTx(conn)
            except sqlite3.IntegrityError as exc:
                conn.execute("ROLLBACK")
                if "FOREIGN KEY" in str(exc):
                    raise NotFound(f"refers to a task that does not exist ({exc})") from exc
                if "UNIQUE" in str(exc):
                    raise ConflictError(_unique_message(str(exc))) from exc
                raise
            except sqlite3.OperationalError as exc:
                conn.execute("ROLLBACK")
                raise HubUnavailable(f"SQLite hub {self.path}: {exc}") from exc
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            else:
                await _when_unlocked(lambda: conn.execute("COMMIT"), "committing", self.path)
                self._after_commit()

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

    @contextlib.asynccontextmanager
    async def _read(self) -> AsyncIterator[_SqliteTx]:
        conn = self._require()
        async with self._lock:
            try:
                yield _SqliteTx(conn)
            except sqlite3.OperationalError as exc:
                raise HubUnavailable(f"SQLite hub {self.path}: {exc}") from exc

    # -- realtime -------------------------------------------------------------------------
    async def _load_changes_after(self, change_id: int, limit: int = 2000) -> list[Change]:
        async with self._read() as tx:
            found = await tx.fetch(CHANGES_AFTER_SQL, change_id, limit)
        return [change_from_row(r) for r in found]

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


def _split_statements(script: str) -> list[str]:
    """Split a schema script into statements, keeping trigger bodies whole."""
    statements: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements
