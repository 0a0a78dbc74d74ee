"""Safety rails: pause, the fleet-wide cap on automatic fixes, circuit breakers,
and runbook promotion (shadow → suggest → auto) and demotion.

- **Pause** (``ccm pause``) and the **fix cap** turn automatic fixes into
  suggestions: the agent's policy says ``allow_auto: false`` with the reason.
- **Silences and maintenance windows** do the same for the tasks whose alert they
  match: a task made before a deploy's window opened waits for a human's approval
  instead of restarting a service mid-deploy; a silence added while an agent is still
  diagnosing holds it (the dispatcher hears of it on the realtime feed).
- **Circuit breakers** escalate instead of fixing: the same runbook failed on this
  host in the last 24 h; it fired ``recurrence_limit`` times there in 24 h (a
  recurring problem wants a human); or it failed ``breaker_failures`` times
  fleet-wide within ``breaker_window_hours``.
- **Promotion**: ``promote_after`` successes in a row (automatic, or approved by an
  operator) move a runbook one mode up on that host group; one failure moves it down.
  A shadow run earns no success (it only dry-runs); ``promote_after`` endorsements of
  its plans take it to suggest instead (:mod:`ccm_tui.daemon.endorse`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ccm_tui.core.model import (
    ApprovalKind,
    DecisionKind,
    RunbookMode,
    Silence,
    Task,
    covering_silence,
    utcnow,
)
from ccm_tui.core.records import RunbookStats
from ccm_tui.core.states import TaskState
from ccm_tui.daemon.options import DaemonOptions
from ccm_tui.hub.base import Hub, TaskQuery

_LADDER = [RunbookMode.SHADOW, RunbookMode.SUGGEST, RunbookMode.AUTO]


async def auto_block_reason(hub: Hub, options: DaemonOptions) -> str:
    """Why automatic fixes may not run now ("" when they may)."""
    control = await hub.get_control()
    if control.paused:
        who = f" by {control.actor}" if control.actor else ""
        why = f" ({control.reason})" if control.reason else ""
        return f"automatic fixes are paused fleet-wide{who}{why}"
    running = await hub.list_tasks(TaskQuery(
        states=[TaskState.REMEDIATING, TaskState.VERIFYING], limit=10_000))
    auto = [t for t in running if t.decision and t.decision.kind is DecisionKind.AUTO]
    if len(auto) >= options.max_concurrent_fixes:
        return (f"{len(auto)} automatic fixes already running fleet-wide "
                f"(cap {options.max_concurrent_fixes})")
    return ""


async def window_block_reason(hub: Hub, task: Task) -> str:
    """Why a silence or maintenance window keeps ``task`` from fixing on its own ("" if none)."""
    now = utcnow()
    found = covering_silence(await hub.list_silences(active_at=now), task, now)
    return "" if found is None else window_reason(found)


def window_reason(s: Silence) -> str:
    """``silence 3 covers this alert until 2026-11-28 02:00 UTC: deploy``."""
    why = f": {s.reason}" if s.reason else ""
    return f"silence {s.id} covers this alert until {s.ends_at:%Y-%m-%d %H:%M} UTC{why}"


async def recent_runbook_tasks(hub: Hub, now: datetime) -> list[Task]:
    """The tasks of the last 24 h that ran a runbook: what the breakers are judged on."""
    return [t for t in await hub.list_tasks(TaskQuery(since=now - timedelta(hours=24),
                                                      limit=20_000)) if t.runbook]


def host_breaker(recent: list[Task], runbook: str, host: str, options: DaemonOptions) -> str:
    """Why the next ``runbook`` task on ``host`` must escalate ("" when it may fix):
    the runbook failed there in the last 24 h, or fired ``recurrence_limit`` times."""
    mine = [t for t in recent if t.runbook == runbook and t.host == host]
    failed_here = [t for t in mine if t.state is TaskState.FAILED]
    if failed_here:
        return (f"circuit breaker: {runbook} failed on {host} in the last 24 h "
                f"({failed_here[0].id}); not retrying blindly")
    if len(mine) + 1 > options.recurrence_limit:
        return (f"circuit breaker: {runbook} fired {len(mine) + 1} times on {host} "
                "in 24 h; a recurring problem needs a human")
    return ""


def fleet_breaker(recent: list[Task], runbook: str, options: DaemonOptions,
                  now: datetime) -> str:
    """Why every ``runbook`` task must escalate ("" when none must): it failed
    ``breaker_failures`` times fleet-wide within ``breaker_window_hours``."""
    window = now - timedelta(hours=options.breaker_window_hours)
    failures = [t for t in recent if t.runbook == runbook and t.state is TaskState.FAILED
                and (t.finished_at or t.updated_at) >= window]
    if len(failures) >= options.breaker_failures:
        return (f"circuit breaker: {runbook} failed {len(failures)} times fleet-wide "
                f"in the last {options.breaker_window_hours:g} h")
    return ""


async def open_breakers(hub: Hub, task: Task, runbook_ids: list[str],
                        options: DaemonOptions) -> dict[str, str]:
    """Runbook id → why it must escalate instead of fixing, for ``task``'s host."""
    now = utcnow()
    recent = [t for t in await recent_runbook_tasks(hub, now) if t.id != task.id]
    reasons: dict[str, str] = {}
    for rb in runbook_ids:
        why = host_breaker(recent, rb, task.host, options) or \
            fleet_breaker(recent, rb, options, now)
        if why:
            reasons[rb] = why
    return reasons


async def learn_from(hub: Hub, task: Task, group: str, file_mode: str,
                     options: DaemonOptions, actor: str) -> RunbookStats | None:
    """Record a finished task's outcome for its runbook; promote or demote it.

    Once per task: ``None`` (and no promotion or demotion) when its outcome was
    already counted, as when a daemon takes a finished task over and replays it.
    """
    if not task.runbook or task.state not in (TaskState.RESOLVED, TaskState.FAILED):
        return None
    approvals = await hub.list_approvals(task.id)
    approved = any(a.kind is ApprovalKind.APPROVE for a in approvals)
    success = task.state is TaskState.RESOLVED
    stats = await hub.record_task_outcome(task.id, task.runbook, group, success=success,
                                          approved=True if approved else None)
    if stats is None:
        return None  # counted when the task first finished (before a takeover)
    current = stats.mode or RunbookMode(file_mode if file_mode in ("shadow", "suggest", "auto")
                                        else "suggest")
    level = _LADDER.index(current)
    automatic = bool(task.decision and task.decision.kind is DecisionKind.AUTO)
    if success and (approved or automatic) and stats.streak >= options.promote_after \
            and level < len(_LADDER) - 1:
        new = _LADDER[level + 1]
        stats = await hub.set_runbook_mode(task.runbook, group, new)
        await hub.audit(actor, "runbook.promote", f"{task.runbook}@{group}", {
            "from": current.value, "to": new.value, "after_successes": options.promote_after,
            "task": task.id})
    elif not success and level > 0:
        new = _LADDER[level - 1]
        stats = await hub.set_runbook_mode(task.runbook, group, new)
        await hub.audit(actor, "runbook.demote", f"{task.runbook}@{group}", {
            "from": current.value, "to": new.value, "task": task.id,
            "outcome": task.outcome or ""})
    return stats
