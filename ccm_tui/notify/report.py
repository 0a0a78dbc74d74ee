"""The morning summary as data: what CCM did in a window, for ``ccm report`` and the TUI.

No rendering here: :func:`build_report` returns a :class:`MorningReport` of plain
typed values. The definitions, so the figures can be checked by hand:

- **Tasks** are those created in ``[since, until)``. *Fixed automatically*: resolved
  by an agent's fix without an operator's approval; *fixed with approval*: after one;
  *waiting*: awaiting approval now; *escalated*, *failed*; *in progress*: other open
  states; *closed upstream*: resolved upstream (before work started, or after an
  escalation, CCM having changed nothing) or cancelled.
- **MTTR** of a runbook: time from task creation to ``finished_at`` over the tasks it
  fixed; the median (:func:`statistics.median`) and the p90 by the *nearest-rank*
  method: the ``ceil(0.9·n)``-th smallest value.
- **Alerts received**: firing alerts stored in the window (by ``received_at``),
  repeats of one firing episode counted once. **Pages without CCM**: the critical
  ones among them (a pager wired to the sources pages once per critical episode).
  **Pages sent**: PagerDuty ``trigger`` notifications delivered (outbox ``sent``)
  that were created in the window. **Pages avoided**: critical episodes settled
  without a human: held (silenced, flapping), fixed by CCM, or cleared upstream.
  **Pages pending**: critical episodes whose task is still open (no daemon ran, or it
  is at work or waits for approval): not avoided, since they may still page. An
  escalated or failed one is neither.
- **Held back**: firing alerts stored in the window that a silence held (``silenced``)
  or that were held as flapping; **silences in force**: those active at ``until``.
- **Noisy alerts**: (alertname, host) by alerts received, repeats included.
- **Disk-full forecasts**: a least-squares line through each host's recent
  ``disk_pct`` snapshots; hosts it reaches 100 % within ``horizon_hours``.
- **Runbooks**: every (runbook, host group) track record; **promotions**: the
  audit log's ``runbook.promote`` / ``runbook.demote`` entries in the window.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ccm_tui.core.errors import NotFound
from ccm_tui.core.model import ApprovalKind, Severity, Task, utcnow
from ccm_tui.core.records import OutboxState
from ccm_tui.core.states import OPEN_STATES, TaskState
from ccm_tui.hub.base import Hub, TaskQuery

TOP = 5
SCAN = 100_000


@dataclass(frozen=True, slots=True)
class TaskLine:
    """One task in a report list."""

    id: str
    host: str
    alertname: str
    state: str
    runbook: str | None
    severity: str
    seconds: float | None = None


@dataclass(frozen=True, slots=True)
class RunbookMTTR:
    """Time to fix of one runbook's resolved tasks, in seconds."""

    runbook: str
    fixed: int
    median_seconds: float
    p90_seconds: float


@dataclass(frozen=True, slots=True)
class Counted:
    """A name (alert, host) and how often it occurred."""

    name: str
    count: int
    host: str = ""


@dataclass(frozen=True, slots=True)
class DiskForecast:
    """A host whose disk fills up soon at the current rate."""

    host: str
    disk_pct: float
    pct_per_hour: float
    hours_to_full: float


@dataclass(frozen=True, slots=True)
class RunbookRate:
    """A runbook's track record on one host group."""

    runbook: str
    host_group: str
    successes: int
    failures: int
    success_rate: float
    mode: str | None


@dataclass(frozen=True, slots=True)
class ModeChange:
    """A runbook promoted or demoted on a host group, or set by hand (``change`` "set")."""

    ts: datetime
    runbook: str
    change: str
    from_mode: str
    to_mode: str
    actor: str


@dataclass(frozen=True, slots=True)
class SilenceLine:
    """A silence or maintenance window in force at the end of the window."""

    id: int | None
    matchers: str
    ends_at: datetime
    reason: str
    created_by: str
    #: Each matcher on its own (``matchers`` joins them with spaces, for reading).
    each: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MorningReport:
    """What happened between ``since`` and ``until``."""

    since: datetime
    until: datetime
    tasks: int = 0
    fixed_automatically: list[TaskLine] = field(default_factory=list)
    fixed_with_approval: list[TaskLine] = field(default_factory=list)
    waiting: list[TaskLine] = field(default_factory=list)
    escalated: list[TaskLine] = field(default_factory=list)
    failed: list[TaskLine] = field(default_factory=list)
    in_progress: list[TaskLine] = field(default_factory=list)
    closed_upstream: int = 0
    mttr: list[RunbookMTTR] = field(default_factory=list)
    mttr_median_seconds: float | None = None
    mttr_p90_seconds: float | None = None
    alerts_received: int = 0
    #: Firing alerts held back in the window: by a silence, or as flapping.
    alerts_silenced: int = 0
    alerts_flapping: int = 0
    #: Silences still in force at ``until`` (a forgotten one hides real incidents).
    silences: list[SilenceLine] = field(default_factory=list)
    pages_without_ccm: int = 0
    pages_sent: int = 0
    #: Critical episodes settled without a human (see the module's definitions).
    pages_avoided: int = 0
    #: Critical episodes whose task is still open: they may page yet.
    pages_pending: int = 0
    noisy_alerts: list[Counted] = field(default_factory=list)
    busiest_hosts: list[Counted] = field(default_factory=list)
    disk_forecasts: list[DiskForecast] = field(default_factory=list)
    runbooks: list[RunbookRate] = field(default_factory=list)
    mode_changes: list[ModeChange] = field(default_factory=list)

    @property
    def fixed(self) -> int:
        """Tasks CCM fixed, automatically or with approval."""
        return len(self.fixed_automatically) + len(self.fixed_with_approval)


def p90(values: list[float]) -> float:
    """The 90th percentile by the nearest-rank method (``ceil(0.9·n)``-th smallest)."""
    if not values:
        raise ValueError("p90 of nothing")
    ordered = sorted(values)
    return ordered[max(math.ceil(0.9 * len(ordered)), 1) - 1]


def _line(t: Task) -> TaskLine:
    secs = (t.finished_at - t.created_at).total_seconds() if t.finished_at else None
    return TaskLine(t.id, t.host, t.alertname, t.state.value, t.runbook, t.severity.value, secs)


def forecast(points: list[tuple[datetime, float]], horizon_hours: float) -> tuple[float, float] | None:
    """(pct per hour, hours to 100 %) by least squares, or ``None`` (flat, falling, far)."""
    if len(points) < 3:
        return None
    t0 = points[0][0]
    xs = [(t - t0).total_seconds() / 3600 for t, _ in points]
    ys = [y for _, y in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var
    if slope <= 0:
        return None
    hours = (100.0 - ys[-1]) / slope
    return (slope, max(hours, 0.0)) if hours <= horizon_hours else None


async def _page_fate(hub: Hub, task_id: str | None, known: dict[str, Task]) -> str:
    """``avoided``, ``pending`` or ``needed``: what became of a critical episode's page."""
    if task_id is None:
        return "avoided"  # held: silenced or flapping
    task = known.get(task_id)
    if task is None:
        try:
            task = await hub.get_task(task_id)
        except NotFound:
            return "avoided"  # removed by retention: long settled
    if task.state in OPEN_STATES:
        return "pending"
    if task.state in (TaskState.ESCALATED, TaskState.FAILED):
        return "needed"
    return "avoided"


async def build_report(hub: Hub, *, since: datetime, until: datetime | None = None,
                       horizon_hours: float = 72.0, top: int = TOP) -> MorningReport:
    """Gather the morning summary for ``[since, until)`` from the hub."""
    until = until or utcnow()
    tasks = [t for t in await hub.list_tasks(TaskQuery(since=since, limit=SCAN))
             if t.created_at < until]
    auto: list[TaskLine] = []
    approved: list[TaskLine] = []
    waiting: list[TaskLine] = []
    escalated: list[TaskLine] = []
    failed: list[TaskLine] = []
    running: list[TaskLine] = []
    upstream = 0
    times: dict[str, list[float]] = defaultdict(list)
    for t in sorted(tasks, key=lambda x: (x.created_at, x.id)):
        line = _line(t)
        if t.fixed_by_ccm:
            approvals = await hub.list_approvals(t.id)
            ok = any(a.kind is ApprovalKind.APPROVE for a in approvals)
            (approved if ok else auto).append(line)
            if line.seconds is not None:
                times[t.runbook or "(none)"].append(line.seconds)
        elif t.state is TaskState.AWAITING_APPROVAL:
            waiting.append(line)
        elif t.state is TaskState.ESCALATED:
            escalated.append(line)
        elif t.state is TaskState.FAILED:
            failed.append(line)
        elif t.state in OPEN_STATES:
            running.append(line)
        else:
            upstream += 1
    mttr = [RunbookMTTR(rb, len(v), float(statistics.median(v)), float(p90(v)))
            for rb, v in sorted(times.items())]
    every = [s for v in times.values() for s in v]

    alerts = [a for a in await hub.list_alerts(since=since, limit=SCAN) if a.received_at < until]
    firing = [a for a in alerts if a.status.value == "firing"]
    held = Counter((a.suppressed or "").partition(":")[0] for a in firing)
    in_force = [SilenceLine(x.id, " ".join(str(m) for m in x.matchers), x.ends_at, x.reason,
                            x.created_by, tuple(str(m) for m in x.matchers))
                for x in await hub.list_silences(active_at=until)]
    noisy: Counter[tuple[str, str]] = Counter()
    for a in alerts:
        noisy[(a.alertname, a.host)] += a.seen_count
    pages_sent = sum(
        1 for m in await hub.list_outbox(state=OutboxState.SENT.value, limit=SCAN)
        if m.channel == "pagerduty" and m.payload.get("kind") == "trigger"
        and since <= m.created_at < until)
    hosts = Counter(t.host for t in tasks)
    critical = [a for a in firing if a.severity is Severity.CRITICAL]
    known = {t.id: t for t in tasks}
    pages: Counter[str] = Counter()
    for a in critical:
        pages[await _page_fate(hub, a.task_id, known)] += 1

    forecasts = []
    for host in sorted(await hub.latest_health()):
        pts = [(h.taken_at, float(h.disk_pct)) for h in await hub.health_history(host, limit=60)
               if h.disk_pct is not None]
        fc = forecast(pts, horizon_hours)
        if fc is not None:
            forecasts.append(DiskForecast(host, pts[-1][1], fc[0], fc[1]))
    forecasts.sort(key=lambda f: f.hours_to_full)

    rates = [RunbookRate(s.runbook, s.host_group, s.successes, s.failures, s.success_rate,
                         s.mode.value if s.mode else None) for s in await hub.runbook_stats()]
    changes = [ModeChange(e.ts, e.target, e.action.removeprefix("runbook."),
                          str(e.detail.get("from", "")), str(e.detail.get("to", "")), e.actor)
               for e in await hub.list_audit(since=since, limit=SCAN)
               if e.action in ("runbook.promote", "runbook.demote", "runbook.set")
               and e.ts < until]
    return MorningReport(
        since=since, until=until, tasks=len(tasks), fixed_automatically=auto,
        fixed_with_approval=approved, waiting=waiting, escalated=escalated, failed=failed,
        in_progress=running, closed_upstream=upstream, mttr=mttr,
        mttr_median_seconds=float(statistics.median(every)) if every else None,
        mttr_p90_seconds=float(p90(every)) if every else None,
        alerts_received=len(firing), alerts_silenced=held["silenced"],
        alerts_flapping=held["flapping"], silences=in_force,
        pages_without_ccm=len(critical), pages_sent=pages_sent,
        pages_avoided=pages.get("avoided", 0), pages_pending=pages.get("pending", 0),
        noisy_alerts=[Counted(name, n, host) for (name, host), n in
                      sorted(noisy.items(), key=lambda kv: (-kv[1], kv[0]))[:top]],
        busiest_hosts=[Counted(h, n) for h, n in
                       sorted(hosts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]],
        disk_forecasts=forecasts, runbooks=rates,
        mode_changes=sorted(changes, key=lambda c: c.ts),
    )


def since_window(duration: timedelta, until: datetime | None = None) -> tuple[datetime, datetime]:
    """``(until - duration, until)`` with ``until`` defaulting to now."""
    end = until or utcnow()
    return end - duration, end


__all__ = ["Counted", "DiskForecast", "ModeChange", "MorningReport", "RunbookMTTR",
           "RunbookRate", "SilenceLine", "TaskLine", "build_report", "forecast", "p90", "since_window"]
