"""The dispatcher: claims tasks from the hub and runs each as an :class:`AgentSession`.

It follows the hub's realtime feed: a new task wakes it at once, an operator's
decision is relayed to the agent within moments, and ``ccm pause`` holds every
automatic fix not yet decided (new tasks get ``allow_auto: false``). A periodic
tick (``poll_interval``) catches what a missed notification would leave behind —
an expired lease to take over, an approval to relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Coroutine, Iterable
from typing import Any

from ccm_tui.core.errors import CCMError, ConflictError, HubError, HubUnavailable, LeaseLost
from ccm_tui.core.lifecycle import Effect
from ccm_tui.core.model import (
    Approval,
    ApprovalKind,
    Task,
    covering_silence,
    is_endorsable,
    utcnow,
)
from ccm_tui.core.records import ChangeKind
from ccm_tui.core.states import TaskState
from ccm_tui.core.text import duration, plural
from ccm_tui.daemon.endorse import learn_endorsement
from ccm_tui.daemon.health import AlertSink, HealthMonitor
from ccm_tui.daemon.options import DaemonOptions, Notifier
from ccm_tui.daemon.rails import window_reason
from ccm_tui.daemon.session import FOREIGN_GRACE_LEASES, AgentSession
from ccm_tui.daemon.spec import Knowledge
from ccm_tui.fleet.inventory import FleetHost
from ccm_tui.fleet.ssh import SSHPool
from ccm_tui.hub.base import Hub

log = logging.getLogger("ccm.daemon")

#: States a task reaches without a running session (ingest, an operator): notify on them.
_ENDED_ELSEWHERE = {TaskState.RESOLVED.value, TaskState.CANCELLED.value,
                    TaskState.RESOLVED_UPSTREAM.value}

#: A task that keeps crashing its session is failed after this many claims.
MAX_ATTEMPTS = 5


#: Decisions that may concern a shadow run's plan (no session to relay them to).
_ENDORSING = (ApprovalKind.APPROVE, ApprovalKind.REJECT)


class Daemon:
    """Runs tasks from ``hub`` on the hosts of ``hosts`` through ``pool``."""

    def __init__(self, hub: Hub, pool: SSHPool, hosts: Iterable[FleetHost],
                 options: DaemonOptions | None = None, knowledge: Knowledge | None = None,
                 health_sink: AlertSink | None = None,
                 notifier: Notifier | None = None) -> None:
        self.hub = hub
        self.pool = pool
        self.hosts = {h.name: h for h in hosts}
        self.options = options or DaemonOptions()
        self.knowledge = knowledge or Knowledge.load(self.options.runbook_dirs)
        self.sessions: dict[str, AgentSession] = {}
        self.notifier = notifier
        #: Every task this daemon claimed, in order (for status and tests).
        self.claimed: list[str] = []
        #: The tasks still running when the daemon stopped, whose leases it released.
        self.handed_back: list[str] = []
        self._runners: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._paused = False
        self._hub_down_since: float | None = None
        self._hosts_noted_at = -math.inf
        self.started = asyncio.Event()
        #: Probes hosts and raises health alerts into ``health_sink`` (the ingest path).
        self.health = HealthMonitor(hub, pool, self.hosts.values(), self.options, health_sink)

    @property
    def foreign_grace(self) -> float:
        """Seconds a task on a host outside this inventory waits for another daemon."""
        return FOREIGN_GRACE_LEASES * self.options.lease_seconds

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until ``stop`` is set; then hand running tasks back (agents go on)."""
        from ccm_tui.fleet.inventory import sync_to_hub

        while True:  # a hub lost at this very moment is waited for, as later on
            try:
                await sync_to_hub(self.hub, self.hosts.values())
                control = await self.hub.get_control()
                break
            except HubUnavailable as exc:
                self._hub_lost(exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.options.poll_interval)
                if stop.is_set():
                    return
        self._hub_back()
        self._paused = control.paused
        if control.paused:  # said at start: the operator may have forgotten a pause
            log.warning("automatic fixes are paused by %s%s: fixes wait for approval until "
                        "`ccm resume`", control.actor or "someone",
                        f" ({control.reason})" if control.reason else "")
        feed = asyncio.create_task(self._follow_feed(), name="ccm-daemon-feed")
        health = asyncio.create_task(self.health.run(stop), name="ccm-daemon-health") \
            if self.options.health_interval else None
        self.started.set()
        log.debug("daemon %s: %s, %s", self.options.owner, plural(len(self.hosts), "host"),
                  plural(len(self.knowledge.catalog.valid()), "runbook"))
        try:
            while not stop.is_set():
                try:
                    await self._note_hosts()
                    await self._claim_available()
                    await self._relay_all()
                    await self._on_control()  # a pause the feed missed (lost mid-outage)
                except HubUnavailable as exc:
                    self._hub_lost(exc)
                else:
                    self._hub_back()
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wait_wake_or_stop(stop),
                                           self.options.poll_interval)
        finally:
            feed.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await feed
            if health is not None:  # on `stop` it ends after the probes in flight
                if not stop.is_set():
                    health.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(health, 10)
            with contextlib.suppress(HubError):  # a daemon killed leaves it to expire
                await self.hub.note_daemon_hosts(self.options.owner, ())
            await self._hand_back()

    async def _note_hosts(self) -> None:
        """Tell the hub, every half lease, which hosts this daemon can reach: a daemon
        without them leaves their tasks alone while this one runs, however busy."""
        now = time.monotonic()
        if now - self._hosts_noted_at < self.options.lease_seconds / 2:
            return
        await self.hub.note_daemon_hosts(self.options.owner, list(self.hosts))
        self._hosts_noted_at = now

    def _hub_lost(self, exc: HubUnavailable) -> None:
        """Say once that the hub is gone (not at every poll of an outage)."""
        if self._hub_down_since is not None:
            log.debug("hub still unavailable: %s", exc)
            return
        self._hub_down_since = time.monotonic()
        log.warning("hub unavailable: %s; retrying every %gs, and saying so once it is back "
                    "(agents already started go on; their events wait on the hosts)",
                    exc, self.options.poll_interval)

    def _hub_back(self) -> None:
        if self._hub_down_since is not None:
            log.info("hub reachable again after %s",
                     duration(time.monotonic() - self._hub_down_since))
            self._hub_down_since = None

    async def _wait_wake_or_stop(self, stop: asyncio.Event) -> None:
        waits = [asyncio.create_task(self._wake.wait()), asyncio.create_task(stop.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    # -- claiming -------------------------------------------------------------------------
    async def _claim_available(self) -> None:
        while len(self.sessions) < self.options.max_sessions:
            task = await self.hub.claim_next_task(
                self.options.owner, lease_seconds=self.options.lease_seconds,
                hosts=list(self.hosts), others_after=self.foreign_grace)
            if task is None:
                return
            if task.attempts > MAX_ATTEMPTS:
                await self._give_up(task)
                continue
            self._start_session(task)

    def _start_session(self, task: Task) -> None:
        session = AgentSession(self.hub, self.pool, self.hosts.get(task.host), task,
                               self.knowledge, self.options, notifier=self.notifier)
        self.sessions[task.id] = session
        self.claimed.append(task.id)
        runner = asyncio.create_task(self._run_session(session), name=f"session-{task.id}")
        self._runners.add(runner)
        runner.add_done_callback(self._runners.discard)

    async def _run_session(self, session: AgentSession) -> None:
        try:
            await session.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one task's trouble never stops the daemon
            level = logging.WARNING if isinstance(exc, CCMError) else logging.ERROR
            log.log(level, "%s: session stopped: %s", session.task_id, exc,
                    exc_info=not isinstance(exc, CCMError))
            # The lease is no longer renewed: it expires and the task is retried then
            # (by this daemon or another), up to MAX_ATTEMPTS claims.
        finally:
            self.sessions.pop(session.task_id, None)
            self._wake.set()

    async def _give_up(self, task: Task) -> None:
        session = AgentSession(self.hub, self.pool, None, task, self.knowledge, self.options)
        await session._apply(Effect(TaskState.FAILED, {
            "outcome": f"failed: the daemon could not run this task in {MAX_ATTEMPTS} tries"}))

    # -- realtime -------------------------------------------------------------------------
    async def _follow_feed(self) -> None:
        kinds = [ChangeKind.TASK, ChangeKind.APPROVAL, ChangeKind.CONTROL, ChangeKind.SILENCE]
        while True:
            try:
                async for change in self.hub.subscribe(kinds):
                    if change.kind is ChangeKind.TASK and change.ref == TaskState.NEW.value:
                        self._wake.set()
                    elif (change.kind is ChangeKind.TASK and change.task_id
                          and change.task_id not in self.sessions
                          and change.ref in _ENDED_ELSEWHERE):
                        self._spawn(self._notify_ended(change.task_id))
                    elif change.kind is ChangeKind.APPROVAL and change.task_id in self.sessions:
                        self._spawn(self.sessions[change.task_id].relay())
                    elif change.kind is ChangeKind.CONTROL:
                        await self._on_control()
                    elif change.kind is ChangeKind.SILENCE and self.sessions:
                        await self._on_silence()
                return
            except HubUnavailable as exc:
                log.warning("realtime feed lost: %s; retrying", exc)
                await asyncio.sleep(1.0)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._runners.add(task)
        task.add_done_callback(self._runners.discard)

    async def _notify_ended(self, task_id: str) -> None:
        """A task that ended without this daemon's session (an escalated task resolved
        upstream later, or cancelled): tell the notifier once, e.g. to resolve the page.
        Only the daemon that holds no session for it reacts; hooks are idempotent."""
        if self.notifier is None:
            return
        try:
            task = await self.hub.get_task(task_id)
            await self.notifier("finished", task, "")
        except Exception as exc:  # never let a notification stop the feed
            log.warning("%s: could not queue the end-of-task notification: %s", task_id, exc)

    async def _on_control(self) -> None:
        control = await self.hub.get_control()
        if control.paused and not self._paused:
            log.info("paused by %s%s: holding automatic fixes", control.actor or "someone",
                     f" ({control.reason})" if control.reason else "")
            await asyncio.gather(*(s.hold(control.actor or "ccm pause")
                                   for s in list(self.sessions.values())))
        elif self._paused and not control.paused:
            log.info("resumed by %s: automatic fixes are on again for new decisions",
                     control.actor or "someone")
        self._paused = control.paused

    async def _on_silence(self) -> None:
        """A silence was added (or changed): the running tasks it covers whose agent has
        not decided yet ask for approval instead of fixing on their own (as on pause)."""
        now = utcnow()
        silences = await self.hub.list_silences(active_at=now)
        for session in list(self.sessions.values()):
            found = covering_silence(silences, session.task, now)
            if found is None or session.decided or session.finished or session.held:
                continue
            await session.hold(found.created_by or "silence", note=f"silence {found.id}"
                               + (f": {found.reason}" if found.reason else ""))
            log.info("%s: %s — held its automatic fix", session.task_id, window_reason(found))

    async def _relay_all(self) -> None:
        pending = await self.hub.list_approvals(unrelayed_only=True)
        for task_id in {a.task_id for a in pending} & set(self.sessions):
            await self.sessions[task_id].relay()
        for a in pending:
            if a.kind in _ENDORSING and a.task_id not in self.sessions:
                await self._approval_without_session(a)

    async def _approval_without_session(self, approval: Approval) -> None:
        """An approval no session of this daemon can relay: on a shadow run's escalation an
        approve endorses the plan and a reject says it was wrong
        (:mod:`ccm_tui.daemon.endorse`); on a finished task there is no
        one left to tell; another daemon's live task is left to that daemon, and so is a
        shadow run on a host this daemon does not know (for :attr:`foreign_grace`)."""
        task = await self.hub.get_task(approval.task_id)
        if not task.state.is_terminal or approval.id is None:
            return
        if approval.kind is ApprovalKind.REJECT and not is_endorsable(task):
            return  # a rejected fix: its session tells the agent
        host = self.hosts.get(task.host)
        if is_endorsable(task) and host is None and task.managed \
                and (utcnow() - approval.created_at).total_seconds() < self.foreign_grace:
            return  # left for a daemon whose inventory has the host (it knows the group)
        if is_endorsable(task) and host is not None:
            group = _group(host)
            result = await learn_endorsement(
                self.hub, task, group, {h.name for h in self.hosts.values() if _group(h) == group},
                self.knowledge.file_mode(task.runbook or ""), self.options.promote_after,
                actor=f"daemon {self.options.owner}")
            if result is not None and result.rejected:
                log.info("%s: %s rejected the plan of %s's shadow run on %s: its endorsements "
                         "start again (%d of %d)", task.id, approval.actor, result.runbook,
                         group, result.endorsed, result.needed)
            elif result is not None:
                log.info("%s: %s endorsed the plan of %s's shadow run on %s (%d of %d)%s",
                         task.id, approval.actor, result.runbook, group, result.endorsed,
                         result.needed, f"; {result.runbook} promoted to suggest on {group}"
                         if result.promoted else "")
        await self.hub.mark_relayed(approval.id)

    # -- stopping -------------------------------------------------------------------------
    async def _hand_back(self) -> None:
        """Stop following; release leases so another daemon takes over at once."""
        runners = list(self._runners)
        ids = list(self.sessions)
        for r in runners:
            r.cancel()
        for r in runners:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await r
        for task_id in ids:
            try:
                await self.hub.release_lease(task_id, self.options.owner)
            except (LeaseLost, ConflictError):
                continue  # no longer ours: nothing to hand back
            except HubUnavailable as exc:
                log.warning("%s: could not release its lease (%s); it expires within %gs "
                            "and the next daemon takes the task over", task_id, exc,
                            self.options.lease_seconds)
            self.handed_back.append(task_id)


def _group(host: FleetHost) -> str:
    """The host group a runbook's track record is kept on: the host's first group."""
    return host.groups[0] if host.groups else "ungrouped"
