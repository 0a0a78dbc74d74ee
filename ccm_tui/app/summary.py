"""The morning summary: the snapshot's tasks, plus `ccm report`'s figures from the hub.

Fixed automatically, waiting for you, escalated, failed, MTTR and pages avoided
since a given time (the last visit, or the last 12 hours).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ccm_tui.app.model import Snapshot
from ccm_tui.core.errors import HubError
from ccm_tui.core.model import Task
from ccm_tui.core.states import TaskState
from ccm_tui.hub.base import Hub
from ccm_tui.notify.report import MorningReport, build_report

S = TaskState


@dataclass(frozen=True, slots=True)
class Summary:
    """What happened since ``since``."""

    since: datetime
    fixed_auto: list[Task] = field(default_factory=list)
    fixed_approved: list[Task] = field(default_factory=list)
    waiting: list[Task] = field(default_factory=list)
    escalated: list[Task] = field(default_factory=list)
    failed: list[Task] = field(default_factory=list)
    mttr: timedelta | None = None

    @property
    def pages_avoided(self) -> int:
        """Incidents that would have paged someone and were fixed without them."""
        return len(self.fixed_auto)

    @property
    def anything(self) -> bool:
        """Whether there is something to tell."""
        return bool(self.fixed_auto or self.fixed_approved or self.waiting or self.escalated
                    or self.failed)


async def morning_report(hub: Hub, since: datetime, until: datetime) -> MorningReport | None:
    """``ccm report``'s figures for the same window (``None`` if the hub cannot say)."""
    try:
        return await build_report(hub, since=since, until=until)
    except (HubError, OSError):
        return None


def summarize(snap: Snapshot, since: datetime) -> Summary:
    """The summary of tasks created or finished since ``since``."""
    def recent(t: Task) -> bool:
        return t.created_at >= since or (t.finished_at is not None and t.finished_at >= since)

    tasks = [t for t in snap.tasks.values() if recent(t)]
    resolved = [t for t in tasks if t.fixed_by_ccm]  # not those cleared upstream
    approved = {tid for tid, a in snap.approvals.items() if any(x.kind == "approve" for x in a)}
    durations = [(t.finished_at - t.created_at) for t in resolved if t.finished_at]
    mttr = sum(durations, timedelta()) / len(durations) if durations else None
    by_new = sorted(tasks, key=lambda t: t.created_at, reverse=True)
    return Summary(
        since=since,
        fixed_auto=[t for t in resolved if t.id not in approved],
        fixed_approved=[t for t in resolved if t.id in approved],
        waiting=[t for t in by_new if t.state is S.AWAITING_APPROVAL],
        escalated=[t for t in by_new if t.state is S.ESCALATED],
        failed=[t for t in by_new if t.state is S.FAILED],
        mttr=mttr,
    )
