"""One task, start to finish: start (or re-attach to) its agent, stream every event
into the hub, relay operators' decisions, keep the lease, and learn from the outcome.

Survives faults by construction: the agent runs in tmux on the host and journals
every event, so when the daemon dies or the SSH connection drops, the next follower
(this session reconnecting, or another daemon after the lease expires) tails the
journal from the last seq the hub stored — no gap, no duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import asyncssh

from agent_runtime.protocol import ProtocolError, parse_event
from ccm_tui.core.errors import (
    ConflictError,
    FleetError,
    HubUnavailable,
    IllegalTransition,
    LeaseLost,
    NotFound,
)
from ccm_tui.core.lifecycle import Effect, effect_of, path_to
from ccm_tui.core.model import Event, Task
from ccm_tui.core.states import TaskState
from ccm_tui.core.text import duration
from ccm_tui.daemon.options import DaemonOptions, Notifier
from ccm_tui.daemon.rails import (
    auto_block_reason,
    learn_from,
    open_breakers,
    window_block_reason,
)
from ccm_tui.daemon.remote import RemoteAgent
from ccm_tui.daemon.spec import Knowledge, build_spec
from ccm_tui.fleet.inventory import FleetHost
from ccm_tui.fleet.ssh import SSHPool
from ccm_tui.hub.base import Hub

log = logging.getLogger("ccm.daemon")

_HOST_TROUBLE = (FleetError, asyncssh.Error, OSError, EOFError)
#: Outcomes whose tmux pane is removed at once; others stay for a human to read.
_CLEAN_STATES = {TaskState.RESOLVED, TaskState.CANCELLED, TaskState.RESOLVED_UPSTREAM}

#: A task on a host this daemon's inventory lacks is left for a daemon that has it;
#: after this many lease lengths with no daemon holding it, this one escalates it.
FOREIGN_GRACE_LEASES = 4


class AgentSession:
    """Runs one claimed task on its host."""

    def __init__(self, hub: Hub, pool: SSHPool, host: FleetHost | None, task: Task,
                 knowledge: Knowledge, options: DaemonOptions, *,
                 notifier: Notifier | None = None) -> None:
        self.hub = hub
        self.pool = pool
        self.host = host
        self.task = task
        self.knowledge = knowledge
        self.options = options
        self.last_seq = 0
        self.finished = False
        self.decided = False
        #: Its automatic fix was already held back (pause, a silence): asks, not fixes.
        self.held = False
        self.lease_lost = False
        self.remote: RemoteAgent | None = None
        self._relay_lock = asyncio.Lock()
        self.notifier = notifier
        self._worker: asyncio.Task[None] | None = None

    @property
    def task_id(self) -> str:
        return self.task.id

    # -- entry point ------------------------------------------------------------------
    async def run(self) -> None:
        """Work the task until it finishes, the lease is lost, or the daemon stops."""
        self._worker = asyncio.current_task()
        renewer = asyncio.create_task(self._renew(), name=f"lease-{self.task_id}")
        try:
            await self._work()
        except asyncio.CancelledError:
            if not self.lease_lost:
                raise
            log.warning("%s: lease lost to another daemon; stopped following", self.task_id)
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    async def _work(self) -> None:
        task = self.task
        if self.host is None:  # the daemon's inventory decides, not the flag ingest set
            await self._apply(Effect(TaskState.ESCALATED, await self._no_host_fields()))
            await self._notify("finished")
            return
        self.remote = RemoteAgent(self.pool, self.host, task.id, self.options)
        self.last_seq = await self.hub.last_seq(task.id)
        if task.state is TaskState.CLAIMED and self.last_seq == 0:
            try:
                how = await self._start()
            except FleetError as exc:
                log.warning("%s: cannot start the agent: %s", task.id, exc)
                why = f"{exc} — {exc.hint}" if exc.hint else str(exc)
                await self._apply(Effect(TaskState.ESCALATED, {
                    "outcome": f"escalated: could not start the agent on {self.host.name}: "
                               f"{why}"[:500]}))
                await self._notify("finished")
                return
            log.info("%s: agent %s on %s", task.id, how, self.host.name)
        else:
            log.info("%s: re-attaching on %s from seq %d", task.id, self.host.name,
                     self.last_seq + 1)
        await self.relay()
        await self._follow()
        if self.finished:
            await self._finish()

    async def _no_host_fields(self) -> dict[str, str]:
        """Why a task on a host this daemon does not know is escalated."""
        task, owner = self.task, self.options.owner
        if not task.managed and not await self._hub_manages(task.host):
            # in no inventory, for ingest then and for the hub now: escalated at once
            return {"outcome": "escalated: host not in the inventory; no agent was started",
                    "note": "unmanaged host: CCM has no SSH access to it"}
        # A host some inventory had: claimed only after no daemon held it for a while.
        waited = duration(FOREIGN_GRACE_LEASES * self.options.lease_seconds)
        agent = (f"its agent on {task.host} (tmux session ccm-{task.id}) is no longer "
                 "followed" if await self.hub.last_seq(task.id) else "no agent was started")
        return {"outcome": f"escalated: no daemon took it for {waited}; daemon {owner} "
                           f"saw it, but its inventory lacks host {task.host}; {agent}",
                "note": f"check that a daemon whose inventory has {task.host} is running "
                        f"(`ccm status`), or add {task.host} to the inventory of {owner}"}

    async def _hub_manages(self, host: str) -> bool:
        try:
            return (await self.hub.get_host(host)).managed
        except NotFound:
            return False

    async def _start(self) -> str:
        assert self.remote is not None and self.host is not None
        if self.options.install_agent:
            await self._ensure_agent()
        labels = self.task.spec.get("alert", {}).get("labels", {})
        spec_labels = {**labels, "alertname": self.task.alertname, "host": self.task.host}
        candidates = [str(r["id"]) for r in self.knowledge.candidates(spec_labels)]
        blocked = (await auto_block_reason(self.hub, self.options)
                   or await window_block_reason(self.hub, self.task))
        self.held = bool(blocked)  # its agent asks anyway: no hold message needed
        spec = await build_spec(
            self.hub, self.task, self.host, self.knowledge, self.options, auto_blocked=blocked,
            breakers=await open_breakers(self.hub, self.task, candidates, self.options))
        return await self.remote.start(spec)

    async def _ensure_agent(self) -> None:
        assert self.host is not None
        from ccm_tui.daemon.agent_install import ensure_agent

        await ensure_agent(self.pool, self.host, self.options)

    # -- following the journal ----------------------------------------------------------
    async def _follow(self) -> None:
        assert self.remote is not None
        backoff = self.options.reconnect_backoff
        while not self.finished:
            watchdog = asyncio.create_task(self._watch_agent())
            reader = asyncio.create_task(self._read_journal())
            try:
                done, _ = await asyncio.wait({watchdog, reader},
                                             return_when=asyncio.FIRST_COMPLETED)
            finally:  # also when this session is cancelled (the daemon stopping)
                for t in (watchdog, reader):
                    if not t.done():
                        t.cancel()
                        with contextlib.suppress(asyncio.CancelledError, *_HOST_TROUBLE):
                            await t
            if reader in done:
                exc = reader.exception()
                if exc is None:
                    backoff = self.options.reconnect_backoff
                    continue
                if not isinstance(exc, _HOST_TROUBLE):
                    raise exc
                log.warning("%s: lost the journal stream from %s (%s); re-attaching in %.1fs",
                            self.task_id, self.remote.host.name, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
            elif watchdog.result():
                await self._agent_vanished()
                return

    async def _read_journal(self) -> None:
        assert self.remote is not None
        async for line in self.remote.tail(self.last_seq + 1):
            if not line.strip():
                continue
            try:
                ev = parse_event(line)
            except ProtocolError as exc:
                log.warning("%s: skipped a journal line: %s", self.task_id, exc)
                continue
            if ev.seq <= self.last_seq:
                continue
            if ev.seq != self.last_seq + 1:
                log.warning("%s: journal jumped from seq %d to %d", self.task_id,
                            self.last_seq, ev.seq)
            await self._store(Event(self.task_id, ev.seq, ev.type,
                                    datetime.fromtimestamp(ev.ts, UTC), ev.data))
            if ev.type == "finished":
                return

    async def _watch_agent(self) -> bool:
        """True once the agent is gone without having finished (checked twice)."""
        assert self.remote is not None
        misses = 0
        while True:
            await asyncio.sleep(5.0 if misses == 0 else 2.0)
            try:
                alive = await self.remote.alive()
            except _HOST_TROUBLE:
                continue
            misses = 0 if alive else misses + 1
            if misses >= 2 and not self.finished:
                return True

    async def _agent_vanished(self) -> None:
        assert self.remote is not None
        # One last read: the agent may have finished between the checks.
        with contextlib.suppress(*_HOST_TROUBLE):
            await asyncio.wait_for(self._read_journal(), 10)
        if self.finished:
            await self._finish()
            return
        await self._apply(Effect(TaskState.FAILED, {
            "outcome": "failed: the agent stopped without finishing (see its tmux session "
                       f"ccm-{self.task_id} on {self.remote.host.name})"}))
        await self._notify("finished")

    async def _store(self, event: Event) -> None:
        await self.hub.append_event(event)
        self.last_seq = event.seq
        if event.type == "decision":
            self.decided = True
        if event.type == "finished":
            self.finished = True
        await self._apply(effect_of(event.type, event.data))
        if event.type == "approval_requested":
            log.info("%s: waiting for approval (`ccm approve %s` or reject/escalate)",
                     self.task_id, self.task_id)
            await self._notify("suggested")

    async def _apply(self, effect: Effect) -> None:
        """Move the task along the life cycle as the event implies (retrying conflicts)."""
        if effect.target is None and not effect.fields:
            return
        for _ in range(20):
            task = await self.hub.get_task(self.task_id)
            states = path_to(task.state, effect.target) if effect.target else []
            if effect.target is not None and not states and task.state is not effect.target:
                return  # an operator already ended it (rejected / escalated)
            try:
                if not states:
                    if effect.fields:
                        await self.hub.update_task(task.id, task.version, **effect.fields)
                    return
                for i, state in enumerate(states):
                    fields = effect.fields if i == len(states) - 1 else {}
                    task = await self.hub.update_task(task.id, task.version, state=state,
                                                      **fields)
                return
            except ConflictError:
                continue
            except IllegalTransition:
                return

    async def _finish(self) -> None:
        await self._notify("finished")
        task = await self.hub.get_task(self.task_id)
        log.info("%s: %s · %s %s%s%s", task.id, task.state.value, task.host, task.alertname,
                 f" · runbook {task.runbook}" if task.runbook else "",
                 f" · {task.outcome}" if task.outcome else "")
        if self.host is not None:
            group = self.host.groups[0] if self.host.groups else "ungrouped"
            await learn_from(self.hub, task, group, self.knowledge.file_mode(task.runbook or ""),
                             self.options, actor=f"daemon {self.options.owner}")
        if task.state in _CLEAN_STATES and self.remote is not None:
            with contextlib.suppress(*_HOST_TROUBLE):
                await self.remote.remove_session()
        if task.lease_owner == self.options.owner:
            with contextlib.suppress(LeaseLost):
                await self.hub.release_lease(task.id, self.options.owner)

    async def _notify(self, what: str, actor: str = "") -> None:
        """Tell the notifier (the outbox) about a milestone; never fails the task."""
        if self.notifier is None:
            return
        try:
            await self.notifier(what, await self.hub.get_task(self.task_id), actor)
        except Exception as exc:  # a notification problem must not stop remediation
            log.warning("%s: could not queue the %s notification: %s", self.task_id, what, exc)

    # -- operators ----------------------------------------------------------------------
    async def relay(self) -> None:
        """Send approvals not yet relayed to the agent, as control messages."""
        if self.remote is None or self.finished:
            return
        async with self._relay_lock:
            for ap in await self.hub.list_approvals(self.task_id, unrelayed_only=True):
                try:
                    await self.remote.send_control({
                        "v": 1, "type": ap.kind.value, "task": self.task_id,
                        "actor": ap.actor, "note": ap.note})
                except _HOST_TROUBLE as exc:
                    log.warning("%s: could not relay %s yet: %s", self.task_id, ap.kind, exc)
                    return
                assert ap.id is not None
                await self.hub.mark_relayed(ap.id)
                await self._notify("taken", ap.actor)

    async def hold(self, actor: str, note: str = "ccm pause") -> None:
        """``ccm pause`` (or a silence covering the task): an automatic fix not yet
        decided waits for approval instead."""
        if self.remote is None or self.finished or self.decided:
            return
        with contextlib.suppress(*_HOST_TROUBLE):
            await self.remote.send_control({"v": 1, "type": "hold", "task": self.task_id,
                                            "actor": actor, "note": note})
            self.held = True

    # -- the lease ------------------------------------------------------------------------
    async def _renew(self) -> None:
        every = max(self.options.lease_seconds / 3, 0.05)
        failing = False  # said once per outage, not at every renewal
        while not self.finished:
            await asyncio.sleep(every)
            if self.finished:
                return
            try:
                await self.hub.renew_lease(self.task_id, self.options.owner,
                                           lease_seconds=self.options.lease_seconds)
                if failing:
                    log.info("%s: lease renewed again", self.task_id)
                failing = False
            except LeaseLost:
                if self.finished:
                    return
                self.lease_lost = True
                if self._worker is not None:
                    self._worker.cancel()
                return
            except HubUnavailable as exc:
                log.log(logging.DEBUG if failing else logging.WARNING,
                        "%s: could not renew the lease: %s", self.task_id, exc)
                failing = True
