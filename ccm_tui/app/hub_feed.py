"""The hub feed: one full load, then the hub's subscription turned into messages.

:func:`load_snapshot` reads the hub once; :class:`HubFeed` follows
``hub.subscribe()`` and posts typed messages (:mod:`ccm_tui.app.messages`) to the
app. Host health arrives often, so host changes are coalesced and reloaded at most
every ``host_interval`` seconds. The app runs both in Textual workers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from textual.message import Message

from ccm_tui.app import messages as m
from ccm_tui.app.model import HISTORY, Snapshot
from ccm_tui.core.errors import CCMError, NotFound
from ccm_tui.core.model import HealthSnapshot, Host, Silence, utcnow
from ccm_tui.core.records import ChangeKind
from ccm_tui.hub.base import Hub, TaskQuery

Post = Callable[[Message], object]

#: How many tasks the timeline loads at start.
TASK_LIMIT = 500
#: Seconds between two re-reads of the silences: a window opening or running out is
#: announced by no change (adding or expiring one is).
SILENCE_INTERVAL = 5.0


async def _history(hub: Hub, hosts: list[str]) -> dict[str, list[HealthSnapshot]]:
    out: dict[str, list[HealthSnapshot]] = {}
    for name in hosts:
        out[name] = await hub.health_history(name, limit=HISTORY)
    return out


async def load_snapshot(hub: Hub) -> Snapshot:
    """Everything the app shows, read once from the hub."""
    snap = Snapshot()
    for host in await hub.list_hosts():
        snap.hosts[host.name] = host
    snap.history = await _history(hub, list(snap.hosts))
    for task in await hub.list_tasks(TaskQuery(limit=TASK_LIMIT)):
        snap.tasks[task.id] = task
    for approval in await hub.list_approvals():
        snap.approvals.setdefault(approval.task_id, []).append(approval)
    snap.control = await hub.get_control()
    snap.silences = await hub.list_silences()
    return snap


class HubFeed:
    """Follows the hub's subscription and posts one message per change."""

    def __init__(self, hub: Hub, post: Post, *, host_interval: float = 1.0,
                 silence_interval: float = SILENCE_INTERVAL) -> None:
        self.hub = hub
        self.post = post
        self.host_interval = host_interval
        self.silence_interval = silence_interval
        self._dirty_hosts: set[str] = set()
        self._silences: list[Silence] | None = None
        self._active: set[int | None] = set()

    async def run(self) -> None:
        """Follow changes until the hub closes or the worker is cancelled."""
        flusher = asyncio.create_task(self._flush_hosts())
        silences = asyncio.create_task(self._watch_silences())
        try:
            async for change in self.hub.subscribe():
                try:
                    await self._handle(change.kind, change.task_id, change.ref, change.event)
                except NotFound:
                    continue
                except CCMError as exc:
                    self.post(m.FeedError(str(exc)))
        finally:
            for helper in (flusher, silences):
                helper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await helper

    async def _watch_silences(self) -> None:
        """Every ``silence_interval`` seconds: a maintenance window opening or a silence
        running out changes nothing stored, so no change announces it."""
        while True:
            await self._reload_silences()
            await asyncio.sleep(self.silence_interval)

    async def _reload_silences(self) -> None:
        try:
            found = await self.hub.list_silences()
        except CCMError:
            return  # the feed reports a hub outage; try again next time
        now = utcnow()
        active = {x.id for x in found if x.active_at(now)}
        if found != self._silences or active != self._active:
            self._silences, self._active = found, active
            self.post(m.SilencesUpdated(found))

    async def _handle(self, kind: ChangeKind, task_id: str | None, ref: str | None,
                      event: object) -> None:
        if kind is ChangeKind.EVENT and event is not None:
            self.post(m.EventArrived(event))  # type: ignore[arg-type]
        elif kind is ChangeKind.TASK and task_id:
            self.post(m.TaskUpdated(await self.hub.get_task(task_id)))
        elif kind is ChangeKind.APPROVAL and task_id:
            self.post(m.ApprovalsUpdated(task_id, await self.hub.list_approvals(task_id)))
        elif kind is ChangeKind.HOST and ref:
            self._dirty_hosts.add(ref)
        elif kind is ChangeKind.CONTROL:
            self.post(m.ControlUpdated(await self.hub.get_control()))
        elif kind is ChangeKind.SILENCE:
            await self._reload_silences()

    async def _flush_hosts(self) -> None:
        while True:
            await asyncio.sleep(self.host_interval)
            if not self._dirty_hosts:
                continue
            names, self._dirty_hosts = sorted(self._dirty_hosts), set()
            found: list[tuple[Host, list[HealthSnapshot]]] = []
            for name in names:
                try:
                    host = await self.hub.get_host(name)
                except NotFound:
                    host = Host(name=name)  # health from a host not (yet) in the inventory
                found.append((host, await self.hub.health_history(name, limit=HISTORY)))
            if found:
                self.post(m.HostsUpdated(found))
