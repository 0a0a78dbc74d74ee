"""What to tell whom, when: the daemon calls these hooks; they only **enqueue**.

Nothing here talks to the network. Each hook reads the task's facts from the hub,
routes them (:mod:`ccm_tui.notify.channels`, :mod:`ccm_tui.notify.quiet`) and writes
notifications to the hub's outbox, each under a stable ``dedup_key`` — so calling a
hook twice for the same moment (a daemon retrying after a crash) enqueues nothing
new. The delivery worker (:mod:`ccm_tui.notify.outbox`) sends them.

======================  ================================================================
hook                    enqueues
======================  ================================================================
on_task_finished        resolved: Slack summary, apprise summary, Grafana annotation
                        (when something was changed), PagerDuty ``resolve`` if it paged
                        (cleared upstream after an escalation: "cleared", not "fixed");
                        escalated/failed: as :func:`on_task_escalated`;
                        cancelled/resolved upstream: PagerDuty ``resolve`` if it paged
on_task_escalated       PagerDuty ``trigger`` (if routed to the pager; while a silence
                        covers the task, held until it ends and sent only if the task is
                        still unfixed), Slack and apprise with the agent's findings
on_task_taken           PagerDuty ``acknowledge`` if it paged
on_task_suggested       Slack "approval wanted" (held till morning in quiet hours) and,
                        for a critical alert in quiet hours, a timed page if still unfixed
enqueue_digest          the morning digest to Slack and apprise
======================  ================================================================

Outbox keys: ``pd:<task>:trigger|timer|acknowledge|resolve``,
``slack:<task>:resolved|cleared|escalated|suggested``, ``apprise:<task>:…``,
``grafana:<task>:fix``, ``slack:digest:<date>``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ccm_tui.config import NotifySettings
from ccm_tui.core.model import Silence, Task, covering_silence, utcnow
from ccm_tui.core.states import OPEN_STATES, TaskState
from ccm_tui.hub.base import Hub
from ccm_tui.notify import pagerduty, slack
from ccm_tui.notify.channels import (
    apprise_cleared,
    apprise_digest,
    apprise_escalated,
    apprise_resolved,
    enabled_channels,
    should_page,
)
from ccm_tui.notify.facts import IncidentFacts, gather
from ccm_tui.notify.grafana import annotation
from ccm_tui.notify.quiet import plan_suggestion

#: Outbox messages scanned to find whether a task paged.
PAGE_SCAN_LIMIT = 5000


def _settings(settings: NotifySettings | None) -> NotifySettings:
    if settings is not None:
        return settings
    from ccm_tui.config import load_settings

    return load_settings().notify


async def _put(hub: Hub, channel: str, key: str, body: dict[str, Any], task: Task | None,
               **meta: Any) -> str | None:
    payload: dict[str, Any] = {"v": 1, "task": task.id if task else None, "body": body}
    payload.update({k: v for k, v in meta.items() if v is not None})
    return key if await hub.enqueue(channel, payload, dedup_key=key) else None


async def paged(hub: Hub, task_id: str) -> bool:
    """Whether a page (trigger or timed trigger) was enqueued for the task and not dropped."""
    keys = {pagerduty.outbox_key(task_id, "trigger"), pagerduty.outbox_key(task_id, "timer")}
    for m in await hub.list_outbox(limit=PAGE_SCAN_LIMIT):
        if m.dedup_key in keys and not (m.state == "dead" and m.last_error.startswith("skipped")):
            return True
    return False


def _done(keys: list[str | None]) -> list[str]:
    return [k for k in keys if k]


async def on_task_escalated(hub: Hub, task: Task, findings: dict[str, Any] | None = None, *,
                            settings: NotifySettings | None = None,
                            now: datetime | None = None) -> list[str]:
    """A task needs a human: page (if routed), and post the findings. Returns keys enqueued."""
    s = _settings(settings)
    f = await gather(hub, task, transcript_url=s.transcript_url,
                     findings=findings if findings is not None else _result(task))
    return await _escalation(hub, task, f, s, now or utcnow())


def _result(task: Task) -> dict[str, Any]:
    return {k: v for k, v in (task.result or {}).items() if k != "outcome"}


async def _silence_over(hub: Hub, task: Task, now: datetime) -> Silence | None:
    """The silence covering ``task`` now, if any: its page waits until the silence ends
    (as Alertmanager's notifications do), and is dropped if the task ended meanwhile."""
    return covering_silence(await hub.list_silences(active_at=now), task, now)


async def _escalation(hub: Hub, task: Task, f: IncidentFacts, s: NotifySettings,
                      now: datetime) -> list[str]:
    channels = enabled_channels(s)
    page = should_page(s, task.severity, f.host_group)
    held = await _silence_over(hub, task, now) if page else None
    keys: list[str | None] = []
    if page:
        keys.append(await _put(hub, "pagerduty", pagerduty.outbox_key(task.id, "trigger"),
                               pagerduty.trigger_event(f, timestamp=now.isoformat()), task,
                               kind="trigger", order=f"pd:{task.id}",
                               not_before=held.ends_at.isoformat() if held else None,
                               only_if_state=task.state.value if held else None))
    if "slack" in channels:
        why = "" if held is None else (
            f"page held until {held.ends_at:%Y-%m-%d %H:%M} UTC by silence {held.id}"
            + (f" ({held.reason})" if held.reason else "") + ", sent then if still unfixed")
        keys.append(await _put(hub, "slack", f"slack:{task.id}:escalated",
                               slack.escalation_message(f, paged=page and held is None,
                                                        held=why), task, kind="escalated"))
    if "apprise" in channels:
        keys.append(await _put(hub, "apprise", f"apprise:{task.id}:escalated",
                               apprise_escalated(f), task, kind="escalated"))
    return _done(keys)


async def on_task_finished(hub: Hub, task: Task, *, settings: NotifySettings | None = None,
                           now: datetime | None = None) -> list[str]:
    """A task reached a final state: summarise, annotate, resolve the page. Returns keys."""
    s = _settings(settings)
    now = now or utcnow()
    if task.state in (TaskState.ESCALATED, TaskState.FAILED):
        return await on_task_escalated(hub, task, settings=s, now=now)
    if not task.state.is_terminal:
        return []
    keys: list[str | None] = []
    if await paged(hub, task.id):
        keys.append(await _put(hub, "pagerduty", pagerduty.outbox_key(task.id, "resolve"),
                               pagerduty.follow_up_event(task.id, "resolve"), task,
                               kind="resolve", order=f"pd:{task.id}"))
    if task.state is not TaskState.RESOLVED:
        return _done(keys)
    f = await gather(hub, task, transcript_url=s.transcript_url, findings={
        "created_ms": int(task.created_at.timestamp() * 1000),
        "finished_ms": int((task.finished_at or now).timestamp() * 1000)})
    channels = enabled_channels(s)
    if not task.fixed_by_ccm:  # escalated, then the alert resolved upstream
        if "slack" in channels:
            keys.append(await _put(hub, "slack", f"slack:{task.id}:cleared",
                                   slack.cleared_message(f), task, kind="cleared"))
        if "apprise" in channels:
            keys.append(await _put(hub, "apprise", f"apprise:{task.id}:cleared",
                                   apprise_cleared(f), task, kind="cleared"))
        return _done(keys)
    if "slack" in channels:
        keys.append(await _put(hub, "slack", f"slack:{task.id}:resolved",
                               slack.resolved_message(f), task, kind="resolved"))
    if "apprise" in channels:
        keys.append(await _put(hub, "apprise", f"apprise:{task.id}:resolved",
                               apprise_resolved(f), task, kind="resolved"))
    if "grafana" in channels and f.changed_anything:
        key = f"grafana:{task.id}:fix"
        keys.append(await _put(hub, "grafana", key, annotation(f, key), task, kind="annotation"))
    return _done(keys)


async def on_task_taken(hub: Hub, task: Task, actor: str, *,
                        settings: NotifySettings | None = None) -> list[str]:
    """An operator took the task (approved, escalated to self, attached): acknowledge the page."""
    _settings(settings)
    if not await paged(hub, task.id):
        return []
    key = await _put(hub, "pagerduty", pagerduty.outbox_key(task.id, "acknowledge"),
                     pagerduty.follow_up_event(task.id, "acknowledge"), task,
                     kind="acknowledge", order=f"pd:{task.id}", actor=actor)
    return _done([key])


async def on_task_suggested(hub: Hub, task: Task, *, settings: NotifySettings | None = None,
                            now: datetime | None = None) -> list[str]:
    """A fix waits for approval: post it now, or in the morning (with a timed page)."""
    s = _settings(settings)
    now = now or utcnow()
    plan = plan_suggestion(s, task.severity, now)
    f = await gather(hub, task, transcript_url=s.transcript_url)
    keys: list[str | None] = []
    if "slack" in enabled_channels(s):
        keys.append(await _put(
            hub, "slack", f"slack:{task.id}:suggested", slack.suggestion_message(f), task,
            kind="suggested", not_before=plan.notify_at.isoformat() if plan.held else None,
            only_if_state=TaskState.AWAITING_APPROVAL.value if plan.held else None))
    if plan.page_at is not None and should_page(s, task.severity, f.host_group):
        held = await _silence_over(hub, task, now)
        page_at = max(plan.page_at, held.ends_at) if held else plan.page_at
        minutes = f"{s.escalate_after_minutes:g}"
        timed = IncidentFacts(**{**_fields(f), "cause": (
            f"critical and still unfixed after {minutes} min in quiet hours; "
            f"suggested fix waiting for approval: {f.runbook or '-'}")})
        keys.append(await _put(
            hub, "pagerduty", pagerduty.outbox_key(task.id, "timer"),
            pagerduty.trigger_event(timed, timestamp=page_at.isoformat()), task,
            kind="trigger", order=f"pd:{task.id}", not_before=page_at.isoformat(),
            only_if_open=True))
    return _done(keys)


def _fields(f: IncidentFacts) -> dict[str, Any]:
    return {name: getattr(f, name) for name in f.__dataclass_fields__}


async def enqueue_digest(hub: Hub, title: str, figures: list[tuple[str, str]],
                         notes: list[str], *, day: str,
                         settings: NotifySettings | None = None) -> list[str]:
    """Queue the morning digest (once per ``day``) for Slack and apprise."""
    s = _settings(settings)
    channels = enabled_channels(s)
    keys: list[str | None] = []
    if "slack" in channels:
        keys.append(await _put(hub, "slack", f"slack:digest:{day}",
                               slack.digest_message(title, figures, notes), None, kind="digest"))
    if "apprise" in channels:
        keys.append(await _put(hub, "apprise", f"apprise:digest:{day}",
                               apprise_digest(title, figures, notes), None, kind="digest"))
    return _done(keys)


def is_open(state: TaskState) -> bool:
    """Whether a task in ``state`` is still unfixed (the escalation timer's condition)."""
    return state in OPEN_STATES


__all__ = ["enqueue_digest", "on_task_escalated", "on_task_finished", "on_task_suggested",
           "on_task_taken", "paged"]
