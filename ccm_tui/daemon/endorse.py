"""Endorsed shadow runs: how a runbook leaves shadow mode without a human editing it.

A runbook in shadow mode only dry-runs: its task escalates with the plan it *would*
have applied, so it never earns the successes that promote a runbook (see
:mod:`ccm_tui.daemon.rails`). The on-call engineer who handled the incident can say
the plan was right with ``ccm approve TASK`` (or ``a`` in the TUI) on that escalated
task — an *endorsement*. When ``promote_after`` shadow runs of a runbook on a host
group have been endorsed since its mode last changed, the daemon promotes it to
``suggest`` there: from then on it proposes the fix and asks before applying it.
``ccm reject TASK`` on such a task says the plan was wrong: the endorsements before it
no longer count, as a failure ends a streak of successes.

The count is taken from the hub's facts (tasks, approvals, the audit log), not from a
counter: evaluating an endorsement twice (a restarted daemon, a second daemon) counts
nothing twice, and a promotion's own audit entry starts the next count from zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ccm_tui.core.model import ApprovalKind, RunbookMode, Task, is_endorsable
from ccm_tui.core.states import TaskState
from ccm_tui.hub.base import Hub, TaskQuery

#: How far back the audit log is searched for the runbook's last mode change.
LOOKBACK = timedelta(days=90)
_SCAN = 100_000
_MODE_ACTIONS = ("runbook.promote", "runbook.demote", "runbook.set")


@dataclass(frozen=True)
class Endorsements:
    """Where a runbook stands on a host group after an endorsement."""

    runbook: str
    host_group: str
    endorsed: int
    needed: int
    promoted: bool
    mode: str
    rejected: bool = False  # this task's plan was rejected: the count starts again


async def _last_mode_change(hub: Hub, target: str, now: datetime) -> datetime:
    changes = [e.ts for e in await hub.list_audit(since=now - LOOKBACK, limit=_SCAN)
               if e.target == target and e.action in _MODE_ACTIONS]
    return max(changes, default=datetime.min.replace(tzinfo=UTC))


async def learn_endorsement(hub: Hub, task: Task, group: str, group_hosts: set[str],
                            file_mode: str, promote_after: int, actor: str
                            ) -> Endorsements | None:
    """Count ``task``'s endorsement (or rejection) for its runbook on ``group``; promote
    out of shadow when enough endorsements are in since the last mode change and the
    last rejected plan. ``None`` when ``task`` is not a shadow run someone decided on."""
    if not is_endorsable(task):
        return None
    runbook = str(task.runbook)
    kinds = {a.kind for a in await hub.list_approvals(task.id)}
    if not kinds & {ApprovalKind.APPROVE, ApprovalKind.REJECT}:
        return None
    now = datetime.now(UTC)
    target = f"{runbook}@{group}"
    since = await _last_mode_change(hub, target, now)
    shadow_runs = [t for t in await hub.list_tasks(TaskQuery(
        states=[TaskState.ESCALATED], since=max(since, now - LOOKBACK), limit=_SCAN))
        if t.runbook == runbook and t.host in group_hosts and is_endorsable(t)
        and (t.finished_at or t.updated_at) >= since]
    decided = [a for t in shadow_runs for a in await hub.list_approvals(t.id)
               if a.created_at >= since]
    restart = max((a.created_at for a in decided if a.kind is ApprovalKind.REJECT),
                  default=None)
    endorsed = len({a.task_id for a in decided if a.kind is ApprovalKind.APPROVE
                    and (restart is None or a.created_at > restart)})
    rejected = ApprovalKind.REJECT in kinds
    stats = {s.host_group: s for s in await hub.runbook_stats(runbook)}.get(group)
    current = stats.mode.value if stats is not None and stats.mode else file_mode
    if current != RunbookMode.SHADOW.value or endorsed < promote_after or rejected:
        return Endorsements(runbook, group, endorsed, promote_after, False, current, rejected)
    await hub.set_runbook_mode(runbook, group, RunbookMode.SUGGEST)
    await hub.audit(actor, "runbook.promote", target, {
        "from": "shadow", "to": "suggest", "after_endorsements": endorsed, "task": task.id})
    return Endorsements(runbook, group, endorsed, promote_after, True, "suggest")
