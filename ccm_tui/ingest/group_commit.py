"""Group commit: firing alerts that arrive together are stored in one transaction.

Under load, many webhook requests are in flight at once; each used to pay for its
own transaction (``BEGIN``, a commit, and its share of checkpoints). Here every
request hands its firing alert to :meth:`GroupCommit.record` and waits; one writer
takes everything that has queued up meanwhile and stores it with
:meth:`Hub.record_firings` — one commit — then wakes each request with its own
result. Nothing is acknowledged before its commit, so "durable before 2xx" holds.

A batch is all or nothing. When it fails with :class:`ConflictError` (another
process created one of its tasks a moment ago, or PostgreSQL broke a deadlock) or
``ValueError`` (one alert the hub refuses), each alert is settled on its own, so
the failure costs only the alert it concerns; any other error (the hub is down)
reaches every waiting request, which answers 503 for the source to retry. Batches
are written in (host, alert name) order, so concurrent receivers lock tasks in
the same order.
"""

from __future__ import annotations

import asyncio

from ccm_tui.core.errors import ConflictError
from ccm_tui.core.model import Alert
from ccm_tui.hub.base import FiringRecord, Hub, NewTask
from ccm_tui.ingest.metrics import Metrics

#: Largest batch written in one transaction (keeps one commit's stall short).
MAX_BATCH = 256

#: Most loop turns the writer waits for more alerts to join a batch.
LINGER_TURNS = 8

_Waiting = tuple[Alert, NewTask, "asyncio.Future[FiringRecord]"]


class GroupCommit:
    """Queues firing alerts and stores each queue-full with one commit."""

    def __init__(self, hub: Hub, metrics: Metrics | None = None, *,
                 max_batch: int = MAX_BATCH) -> None:
        self.hub = hub
        self.metrics = metrics or Metrics()
        self.max_batch = max_batch
        self._queue: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, alert: Alert, task: NewTask) -> FiringRecord:
        """Store ``alert`` (and settle its task) as :meth:`Hub.record_firing` does."""
        future: asyncio.Future[FiringRecord] = asyncio.get_running_loop().create_future()
        self._queue.append((alert, task, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name="ccm-group-commit")
        return await future

    async def _drain(self) -> None:
        while self._queue:
            await self._gather()
            batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            live = [w for w in batch if not w[2].done()]  # a cancelled request is skipped
            if live:
                await self._write(live)

    async def _gather(self) -> None:
        """Let the requests already on their way join, while the queue keeps growing.

        Each yield lets the loop read the sockets that are ready and run their
        handlers up to :meth:`record`; an idle loop comes straight back, so a lone
        alert waits only a few loop turns.
        """
        for _ in range(LINGER_TURNS):
            before = len(self._queue)
            if before >= self.max_batch:
                return
            await asyncio.sleep(0)
            if len(self._queue) == before:
                return

    async def _write(self, batch: list[_Waiting]) -> None:
        # In (host, alert name) order, so two receivers' batches lock tasks in the same
        # order (PostgreSQL) instead of deadlocking; the sort is stable.
        batch.sort(key=lambda w: (w[0].host, w[0].alertname))
        try:
            records = await self.hub.record_firings([(a, t) for a, t, _ in batch])
        except (ConflictError, ValueError):
            # A conflict, or one alert the hub refuses: each alone, so the rest are stored.
            await self._one_by_one(batch)
            return
        except BaseException as exc:  # handed to every waiting request
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        self._count(len(batch))
        for (_, _, future), record in zip(batch, records, strict=True):
            if not future.done():
                future.set_result(record)

    async def _one_by_one(self, batch: list[_Waiting]) -> None:
        for alert, task, future in batch:
            try:
                record = await self.hub.record_firing(alert, task)
            except Exception as exc:  # the caller retries or answers 503
                if not future.done():
                    future.set_exception(exc)
            else:
                self._count(1)
                if not future.done():
                    future.set_result(record)

    def _count(self, alerts: int) -> None:
        self.metrics.inc("ccm_ingest_group_commits_total")
        self.metrics.inc("ccm_ingest_group_commit_alerts_total", alerts)
