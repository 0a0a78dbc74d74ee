"""What became of the demo's faults: each scenario's actual end state, and the totals.

Task scenarios are judged by the newest task for their (host, alert name) since the
demo started; the flapping alert by the alerts the webhook held as ``flapping``; the
package update by asking every host over SSH (``apt list --upgradable``) whether it
is there to broadcast. The totals come from the morning report
(:func:`ccm_tui.notify.report.build_report`) over the demo's run.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from ccm_tui.core.states import TaskState
from ccm_tui.demo.faults import FLAP_FINGERPRINT, FLAPPING, PACKAGE, UPDATE_LINE, Scenario
from ccm_tui.fleet.simulator import SimulatedFleet
from ccm_tui.fleet.ssh import SSHPool
from ccm_tui.hub.base import Hub, TaskQuery
from ccm_tui.notify.report import build_report

#: The command that fixes the package scenario from the palette or ``ccm run``.
BROADCAST_COMMAND = "apt-get install --only-upgrade -y openssl"


def _secs(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


async def _task_row(hub: Hub, s: Scenario, since: datetime) -> dict[str, Any]:
    tasks = await hub.list_tasks(TaskQuery(host=s.host, alertname=s.alertname, since=since,
                                           limit=20))
    if not tasks:
        return {"actual": "no task" if s.injected_at else "not injected yet"}
    task = tasks[0]  # newest first
    row: dict[str, Any] = {"actual": task.state.value, "task": task.id,
                           "runbook": task.runbook}
    if task.finished_at is not None:
        took = _secs((task.finished_at - task.created_at).total_seconds())
        # MTTR is time to a fix CCM made; an escalation hands the incident to a human,
        # so its time is time to escalate (the morning report counts it the same way)
        if task.fixed_by_ccm:
            row["mttr_seconds"] = took
        elif task.state is TaskState.ESCALATED:
            row["escalated_after_seconds"] = took
    if task.outcome:
        row["detail"] = str(task.outcome)[:200]
    return row


async def _flapping_row(hub: Hub, since: datetime) -> dict[str, Any]:
    alerts = [a for a in await hub.list_alerts(fingerprint=FLAP_FINGERPRINT, limit=100)
              if a.received_at >= since]
    held = [a for a in alerts if a.suppressed == "flapping"]
    return {"actual": "suppressed" if held else ("firing" if alerts else "no alert"),
            "alerts_received": len(alerts), "alerts_suppressed": len(held)}


async def _package_row(pool: SSHPool, fleet: SimulatedFleet) -> dict[str, Any]:
    package = UPDATE_LINE.split("/")[0]

    async def pending(name: str) -> bool:
        res = await pool.run(name, "apt list --upgradable 2>/dev/null", timeout=20)
        return res.ok and f"\n{package}/" in f"\n{res.stdout}"

    found = await asyncio.gather(*(pending(h.name) for h in fleet.hosts))
    count = sum(found)
    if count == len(fleet.hosts):
        actual = "available_for_broadcast"
    elif count:
        actual = "partly_applied"
    else:
        actual = "not_pending"
    return {"actual": actual, "hosts_pending": count, "package": package,
            "broadcast": f"ccm run --hosts all '{BROADCAST_COMMAND}'"}


async def outcome(hub: Hub, pool: SSHPool, fleet: SimulatedFleet, scenarios: list[Scenario],
                  since: datetime) -> dict[str, Any]:
    """The outcome document of ``ccm demo --json`` (``ok``: every scenario as expected)."""
    rows = []
    for s in scenarios:
        if s.name == FLAPPING:
            row = await _flapping_row(hub, since)
        elif s.name == PACKAGE:
            row = await _package_row(pool, fleet) if s.injected_at else {
                "actual": "not injected yet"}
        else:
            row = await _task_row(hub, s, since)
        rows.append({"name": s.name, "title": s.title, "host": s.host,
                     "alert": s.alertname or None, "expected": s.expected, **row,
                     "ok": row["actual"] == s.expected})
    report = await build_report(hub, since=since)
    alerts = await hub.list_alerts(since=since, limit=5000)
    return {
        "ok": bool(rows) and all(r["ok"] for r in rows),
        "incidents": report.tasks,
        "fixed_automatically": len(report.fixed_automatically),
        "fixed_with_approval": len(report.fixed_with_approval),
        "awaiting_approval": len(report.waiting),
        "escalated": len(report.escalated),
        "failed": len(report.failed),
        "in_progress": len(report.in_progress),
        "mttr_median_seconds": _secs(report.mttr_median_seconds),
        "mttr_p90_seconds": _secs(report.mttr_p90_seconds),
        "alerts_received": len(alerts),
        "alerts_suppressed": sum(1 for a in alerts if a.suppressed),
        "scenarios": rows,
    }


__all__ = ["BROADCAST_COMMAND", "outcome"]
