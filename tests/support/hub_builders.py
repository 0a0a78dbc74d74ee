"""Tasks and alerts for hub tests: sensible defaults, any field overridable."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ccm_tui.core import Alert, AlertStatus, Severity, Task, TaskState, new_task_id, utcnow

if TYPE_CHECKING:
    from ccm_tui.hub import Hub


def task(host: str = "web-01", alertname: str = "DiskFull", **kw: object) -> Task:
    """A new task for ``host`` / ``alertname`` with a fresh id."""
    return Task(id=new_task_id(), host=host, alertname=alertname, **kw)  # type: ignore[arg-type]


def alert(fp: str = "abc123", status: AlertStatus = AlertStatus.FIRING, *,
          severity: Severity = Severity.CRITICAL, **kw: object) -> Alert:
    """A DiskFull alert on web-01 (its ``severity`` label matches ``severity``)."""
    base = dict(fingerprint=fp, status=status, source="alertmanager", alertname="DiskFull",
                host="web-01", starts_at=utcnow().replace(microsecond=0),
                labels={"instance": "web-01:9100", "severity": severity.value},
                severity=severity)
    base.update(kw)
    return Alert(**base)  # type: ignore[arg-type]


async def to_state(hub: Hub, t: Task, *states: TaskState) -> Task:
    """Move ``t`` through ``states`` in the hub, one legal transition at a time."""
    for s in states:
        t = await hub.update_task(t.id, t.version, state=s)
    return t
