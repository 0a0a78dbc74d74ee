"""The control centre's in-memory view of the hub (no textual, no I/O).

The app loads a :class:`Snapshot` once, then applies the changes the hub feed
posts. Widgets read from here; nothing polls the database per frame.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from ccm_tui.app.format import level
from ccm_tui.core.model import Approval, HealthSnapshot, Host, Silence, Task, utcnow
from ccm_tui.core.records import Control
from ccm_tui.core.states import TaskState
from ccm_tui.daemon.health_rules import HealthRules

#: How many health snapshots a tile's sparklines show.
HISTORY = 8


class HostStatus(StrEnum):
    """The colour of a host's tile."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNREACHABLE = "unreachable"
    WORKING = "working"


#: The built-in rules' thresholds: a tile turns critical where a rule would fire.
_RULES = HealthRules()


def health_level(snap: HealthSnapshot) -> str:
    """``ok``, ``warning`` or ``critical`` for a host's latest health.

    Critical matches the built-in rules (disk ≥ 90 %, memory ≥ 95 %), so the grid
    never shows red for what would not raise an alert. A busy CPU is at most a
    warning: a saturated worker is often a healthy one, and no rule pages on CPU
    (a Prometheus ``HighCPU`` alert makes a task, whose severity colours the tile).
    """
    levels = {level(snap.disk_pct, crit=_RULES.disk_pct),
              level(snap.mem_pct, crit=_RULES.memory_pct),
              level(snap.cpu_pct, crit=101.0)}
    for name in ("critical", "warning"):
        if name in levels:
            return name
    return "ok"


#: Incident ordering: awaiting approval first, then active, then the rest.
_STATE_RANK = {TaskState.AWAITING_APPROVAL: 0}


@dataclass
class Snapshot:
    """Everything the app shows, as loaded from the hub."""

    hosts: dict[str, Host] = field(default_factory=dict)
    history: dict[str, list[HealthSnapshot]] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    approvals: dict[str, list[Approval]] = field(default_factory=dict)
    control: Control = field(default_factory=Control)
    #: Silences and maintenance windows not yet over (the hub's ``list_silences()``).
    silences: list[Silence] = field(default_factory=list)
    #: Open tasks by host, rebuilt on demand after a task changed (tiles ask per frame).
    _open_by_host: dict[str, list[Task]] | None = field(default=None, repr=False)

    # -- updates --------------------------------------------------------------------
    def put_task(self, task: Task) -> None:
        """Insert or replace a task."""
        self.tasks[task.id] = task
        self._open_by_host = None

    def put_host(self, host: Host, history: list[HealthSnapshot]) -> None:
        """Insert or replace a host and its recent health."""
        self.hosts[host.name] = host
        self.history[host.name] = history[-HISTORY:]

    def put_approvals(self, task_id: str, approvals: Iterable[Approval]) -> None:
        """Replace a task's approvals."""
        self.approvals[task_id] = list(approvals)

    # -- queries --------------------------------------------------------------------
    def latest(self, host: str) -> HealthSnapshot | None:
        """The newest health snapshot of a host."""
        hist = self.history.get(host)
        return hist[-1] if hist else None

    def active_task(self, host: str) -> Task | None:
        """The most urgent open task on a host (awaiting approval first)."""
        if self._open_by_host is None:
            index: dict[str, list[Task]] = {}
            for t in self.tasks.values():
                if not t.state.is_terminal:
                    index.setdefault(t.host, []).append(t)
            self._open_by_host = index
        open_ = self._open_by_host.get(host)
        if not open_:
            return None
        return min(open_, key=lambda t: (_STATE_RANK.get(t.state, 1), -t.created_at.timestamp()))

    def host_status(self, host: str) -> HostStatus:
        """The tile colour: unreachable, agent working, critical, warning or ok."""
        snap = self.latest(host)
        if snap is not None and not snap.reachable:
            return HostStatus.UNREACHABLE
        task = self.active_task(host)
        if task is not None and task.state.is_active:
            return HostStatus.WORKING
        health = health_level(snap) if snap is not None else "ok"
        if health == "critical" or (task is not None and task.severity == "critical"):
            return HostStatus.CRITICAL
        if health == "warning" or task is not None:
            return HostStatus.WARNING
        return HostStatus.OK

    def incidents(
        self, states: frozenset[TaskState] | None = None, host: str | None = None
    ) -> list[Task]:
        """Tasks for the timeline: awaiting approval first, then newest first."""
        found = [
            t for t in self.tasks.values()
            if (states is None or t.state in states) and (host is None or t.host == host)
        ]
        found.sort(key=lambda t: t.created_at, reverse=True)
        found.sort(key=lambda t: _STATE_RANK.get(t.state, 1))
        return found

    def active_silences(self, now: datetime | None = None) -> list[Silence]:
        """The silences in force now (a maintenance window only once it has begun)."""
        when = now or utcnow()
        return [s for s in self.silences if s.active_at(when)]

    def decided_by(self, task_id: str) -> str:
        """``approved by jordan`` etc. for a task's latest operator decision, or ``""``."""
        found = self.approvals.get(task_id)
        if not found:
            return ""
        last = found[-1]
        verb = {"approve": "approved", "reject": "rejected", "escalate": "escalated"}[last.kind]
        return f"{verb} by {last.actor}"
