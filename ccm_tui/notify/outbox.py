"""The delivery worker: claim notifications from the hub's outbox, send, record.

**The guarantees, honestly.** Every notification is written to the hub (by the
hooks) before anyone tries to send it, under a unique ``dedup_key``: a crash
before that write loses nothing because the caller retries the hook, and the
retried hook enqueues nothing twice. The worker *claims* a batch with a lease,
sends each message, then marks it ``sent``. A worker killed (even ``kill -9``)
before ``sent`` leaves the message pending; once the lease expires another run
claims it and sends it again. So delivery is **at-least-once**, and at most the
messages in flight at the moment of the crash (one per channel: the worker sends
them one after the other) can reach a receiver twice. Exactly-once *effect* then
comes from the receiver's own idempotency:

- PagerDuty dedups on the event's ``dedup_key`` (one incident per task);
- Grafana: the sender looks the annotation up by its ``ccm:<key>`` tag first;
- Slack has no idempotency key: a repeat is possible in that one window and is
  recognisable by the ``ccm:<key>`` line every message carries.

**Retries** follow :mod:`ccm_tui.notify.delivery`: 429 (honouring ``Retry-After``)
and 5xx back off exponentially; a 400 is never retried (``dead``); after
``max_attempts`` failed attempts a message is ``dead`` too. Messages held for
later (quiet hours, or waiting for an earlier PagerDuty event of the same task
so ``trigger → acknowledge → resolve`` stay in order) are *deferred*: put back
with a later due time, which the worker does not count as a failure.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ccm_tui.config import NotifySettings
from ccm_tui.core.errors import LeaseLost, NotFound
from ccm_tui.core.model import utcnow
from ccm_tui.core.records import OutboxMessage, OutboxState
from ccm_tui.core.states import OPEN_STATES, TaskState
from ccm_tui.hub.base import Hub
from ccm_tui.notify.delivery import (
    Dead,
    Defer,
    Delivered,
    Outcome,
    RateLimiter,
    Retry,
    Sender,
    backoff,
)

log = logging.getLogger("ccm.notify")

_DEFERRED = re.compile(r"\[deferred (\d+)\]")
#: How long a deferred message waits behind an earlier one that is being sent now.
ORDER_WAIT = timedelta(seconds=0.5)


def default_owner() -> str:
    """This worker's lease owner name: ``notify@<host>:<pid>``."""
    return f"notify@{socket.gethostname() or 'localhost'}:{os.getpid()}"


def deferrals(message: OutboxMessage) -> int:
    """How many of the message's attempts were deferrals (not failures)."""
    m = _DEFERRED.search(message.last_error or "")
    return int(m.group(1)) if m else 0


def failures(message: OutboxMessage) -> int:
    """Failed attempts so far, this claim included (the hub counts claims as attempts)."""
    return max(message.attempts - deferrals(message), 1)


@dataclass
class CycleResult:
    """What one :meth:`OutboxWorker.run_once` did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    deferred: int = 0
    lost: int = 0
    errors: list[str] = field(default_factory=list)


def default_senders(settings: NotifySettings, session: Any) -> dict[str, Sender]:
    """A sender for every channel, configured from ``settings``."""
    from ccm_tui.notify.channels import AppriseSender
    from ccm_tui.notify.grafana import GrafanaSender
    from ccm_tui.notify.pagerduty import PagerDutySender
    from ccm_tui.notify.slack import SlackSender

    def secret(v: Any) -> str | None:
        return v.get_secret_value() if v is not None else None

    return {
        "pagerduty": PagerDutySender(session, routing_key=secret(settings.pagerduty_routing_key),
                                     url=settings.pagerduty_url),
        "slack": SlackSender(session, webhook_url=secret(settings.slack_webhook_url),
                             limiter=RateLimiter(settings.slack_min_interval)),
        "grafana": GrafanaSender(session, url=settings.grafana_url,
                                 token=secret(settings.grafana_token)),
        "apprise": AppriseSender([u.get_secret_value() for u in settings.apprise_urls]),
    }


class OutboxWorker:
    """Delivers the hub's outbox. ``run()`` loops; ``run_once()`` does one batch."""

    def __init__(self, hub: Hub, settings: NotifySettings, senders: dict[str, Sender], *,
                 owner: str | None = None, batch: int = 10, lease_seconds: float = 60.0,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.hub = hub
        self.settings = settings
        self.senders = senders
        self.owner = owner or default_owner()
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.clock = clock

    # -- one batch ------------------------------------------------------------------
    async def run_once(self) -> CycleResult:
        """Claim up to ``batch`` due messages, deliver them, record each outcome."""
        result = CycleResult()
        claimed = await self.hub.claim_outbox(self.owner, limit=self.batch,
                                              lease_seconds=self.lease_seconds)
        result.claimed = len(claimed)
        if not claimed:
            return result
        waiting = await self._waiting_orders(claimed)
        blocked: dict[str, datetime] = {}
        plain: dict[str, list[OutboxMessage]] = {}
        for m in claimed:  # already in id order
            pre = await self._precheck(m, waiting, blocked)
            if pre is not None:
                await self._record(m, pre, result)
                continue
            if getattr(self.senders[m.channel], "batches", False):
                plain.setdefault(m.channel, []).append(m)
                continue
            # One at a time, recorded at once: a crash leaves at most this one in doubt.
            outcome = (await self._send(m.channel, [m])).get(m.id, Retry("no outcome"))
            order = m.payload.get("order")
            if isinstance(order, str) and not isinstance(outcome, Delivered):
                blocked[order] = self.clock() + ORDER_WAIT
            await self._record(m, outcome, result)
        for channel, messages in plain.items():
            outcomes = await self._send(channel, messages)
            for m in messages:
                await self._record(m, outcomes.get(m.id, Retry("no outcome")), result)
        return result

    async def _waiting_orders(
        self, claimed: list[OutboxMessage]
    ) -> dict[str, tuple[int, datetime]]:
        """Order key → (id, due time) of its oldest pending message *not* in this batch."""
        if not any(isinstance(m.payload.get("order"), str) for m in claimed):
            return {}
        mine = {m.id for m in claimed}
        out: dict[str, tuple[int, datetime]] = {}
        for p in await self.hub.list_outbox(state=OutboxState.PENDING.value, limit=10_000):
            order = p.payload.get("order")
            if isinstance(order, str) and p.id not in mine and (
                    order not in out or p.id < out[order][0]):
                due = max(p.next_attempt_at or p.created_at, p.lease_expires_at or p.created_at)
                out[order] = (p.id, due)
        return out

    async def _precheck(self, m: OutboxMessage, waiting: dict[str, tuple[int, datetime]],
                        blocked: dict[str, datetime]) -> Outcome | None:
        """Defer, skip or refuse a message before sending it (``None``: go ahead)."""
        now = self.clock()
        if m.channel not in self.senders:
            return Dead(f"unknown channel {m.channel!r}")
        nb = m.payload.get("not_before")
        if isinstance(nb, str) and datetime.fromisoformat(nb) > now:
            return Defer(datetime.fromisoformat(nb), f"held until {nb}")
        order = m.payload.get("order")
        if isinstance(order, str):
            if order in blocked:
                return Defer(blocked[order], "an earlier event of this incident is not sent yet")
            first = waiting.get(order)
            if first is not None and first[0] < m.id:
                return Defer(max(now, first[1]) + ORDER_WAIT,
                             f"waiting for notification #{first[0]} first")
        task_id = m.payload.get("task")
        wants_open = m.payload.get("only_if_open")
        wants_state = m.payload.get("only_if_state")
        if isinstance(task_id, str) and (wants_open or wants_state):
            try:
                state = (await self.hub.get_task(task_id)).state
            except NotFound:
                return Dead(f"skipped: task {task_id} no longer exists")
            if wants_open and state not in OPEN_STATES:
                return Dead(f"skipped: task {task_id} is {state.value} (no longer unfixed)")
            if wants_state and state is not TaskState(str(wants_state)):
                return Dead(f"skipped: task {task_id} is {state.value}, not {wants_state}")
        return None

    async def _send(self, channel: str, messages: list[OutboxMessage]) -> dict[int, Outcome]:
        try:
            return await self.senders[channel].deliver(messages)
        except Exception as exc:  # a sender bug must not stop the worker
            log.exception("notify: %s sender crashed", channel)
            return {m.id: Retry(f"sender crashed: {type(exc).__name__}: {exc}"[:300])
                    for m in messages}

    async def _record(self, m: OutboxMessage, outcome: Outcome, result: CycleResult) -> None:
        now = self.clock()
        s = self.settings
        deferred = deferrals(m)
        try:
            if isinstance(outcome, Delivered):
                await self.hub.mark_sent(m.id, self.owner)
                result.sent += 1
                return
            if isinstance(outcome, Defer):
                await self.hub.mark_failed(m.id, self.owner, retry_at=outcome.until,
                                           error=f"deferred: {outcome.reason} "
                                                 f"[deferred {deferred + 1}]")
                result.deferred += 1
                return
            tag = f" [deferred {deferred}]" if deferred else ""
            if isinstance(outcome, Retry) and failures(m) < s.max_attempts:
                wait = outcome.after if outcome.after is not None else backoff(
                    failures(m), s.backoff_seconds, s.backoff_max_seconds)
                await self.hub.mark_failed(m.id, self.owner, error=outcome.error + tag,
                                           retry_at=now + timedelta(seconds=wait))
                result.retried += 1
                log.info("notify: %s #%d failed (%s); retry in %.1fs", m.channel, m.id,
                         outcome.error, wait)
                return
            tries = failures(m)
            error = outcome.error if isinstance(outcome, Dead) else \
                f"gave up after {tries} attempt{'' if tries == 1 else 's'}: {outcome.error}"
            await self.hub.mark_failed(m.id, self.owner, error=error + tag, retry_at=None)
            result.dead += 1
            result.errors.append(f"#{m.id} {m.channel}: {error}")
            log.warning("notify: %s #%d given up: %s", m.channel, m.id, error)
        except LeaseLost:
            result.lost += 1
            log.warning("notify: lost the lease on #%d; another worker has it", m.id)

    # -- the loop -------------------------------------------------------------------
    async def run(self, *, stop: asyncio.Event | None = None, poll: float = 1.0,
                  on_cycle: Callable[[CycleResult], None] | None = None) -> None:
        """Deliver until ``stop`` is set; sleep ``poll`` seconds when there is nothing due."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            result = await self.run_once()
            if on_cycle is not None and result.claimed:
                on_cycle(result)
            if result.claimed < self.batch:
                try:
                    await asyncio.wait_for(stop.wait(), poll)
                except TimeoutError:
                    pass


async def deliver_forever(hub: Hub, settings: NotifySettings, *, stop: asyncio.Event | None = None,
                          poll: float = 1.0, batch: int = 10, lease_seconds: float = 60.0,
                          owner: str | None = None,
                          on_cycle: Callable[[CycleResult], None] | None = None) -> None:
    """Run a worker with the default senders over one HTTP session."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        worker = OutboxWorker(hub, settings, default_senders(settings, session), owner=owner,
                              batch=batch, lease_seconds=lease_seconds)
        await worker.run(stop=stop, poll=poll, on_cycle=on_cycle)


__all__ = ["CycleResult", "OutboxWorker", "default_owner", "default_senders", "deferrals",
           "deliver_forever", "failures"]
