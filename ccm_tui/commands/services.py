"""Wiring for the long-running services: the daemon's notifier, the outbox worker
and the morning digest (the daemon may not import notify: the layers forbid it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ccm_tui.config import NotifySettings
from ccm_tui.core.model import Task, utcnow
from ccm_tui.daemon.options import Notifier
from ccm_tui.hub.base import Hub

log = logging.getLogger("ccm.notify")


def task_notifier(hub: Hub, settings: NotifySettings) -> Notifier:
    """Queue notifications (outbox) for the daemon's task milestones."""
    from ccm_tui.notify import hooks

    async def notify(what: str, task: Task, actor: str) -> None:
        if what == "finished":
            await hooks.on_task_finished(hub, task, settings=settings)
        elif what == "suggested":
            await hooks.on_task_suggested(hub, task, settings=settings)
        elif what == "taken":
            await hooks.on_task_taken(hub, task, actor, settings=settings)

    return notify


async def run_notifications(hub: Hub, settings: NotifySettings, stop: asyncio.Event) -> None:
    """Deliver the outbox and queue the morning digest until ``stop`` is set."""
    from ccm_tui.notify.digest import maybe_queue_digest
    from ccm_tui.notify.outbox import deliver_forever

    async def digests() -> None:
        while not stop.is_set():
            try:
                await maybe_queue_digest(hub, settings, utcnow())
            except Exception as exc:  # never stop the service for a digest
                log.warning("morning digest: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 60)

    await asyncio.gather(deliver_forever(hub, settings, stop=stop), digests())
