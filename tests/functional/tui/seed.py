"""A small, fixed fleet for the control centre's tests: fixed ids, fixed times.

Everything rendered comes from here, so snapshots are deterministic: the app
runs with ``clock=fixed_clock`` and no value depends on the real time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ccm_tui.core.model import (
    Decision,
    DecisionKind,
    Event,
    HealthSnapshot,
    Host,
    Risk,
    Severity,
    Task,
)
from ccm_tui.hub.base import Hub

BASE = datetime(2025, 3, 14, 4, 0, tzinfo=UTC)
NOW = BASE + timedelta(hours=3)
APPROVAL_TASK = "t-00000appr1"
APPROVAL_TASK_2 = "t-00000appr2"
DIAG_TASK = "t-00000diag1"
FIXED_TASK = "t-00000fix01"
ESCALATED_TASK = "t-00000esc01"
#: A task another client keeps writing events to during the tests.
BUSY_TASK = "t-00000busy1"

GROUPS = {"web": 4, "app": 2, "db": 2, "worker": 3}


def fixed_clock() -> datetime:
    """The tests' "now"."""
    return NOW


def hosts() -> list[Host]:
    """web-01…04, app-01…02, db-01…02, worker-01…03."""
    return [Host(name=f"{g}-{i:02d}", address=f"10.0.{n}.{i}", user="ops", groups=(g,))
            for n, (g, count) in enumerate(GROUPS.items()) for i in range(1, count + 1)]


def _health(host: Host, n: int) -> list[HealthSnapshot]:
    k = sum(map(ord, host.name))
    out = []
    for i in range(n):
        disk = 93.0 + i * 0.5 if host.name == "web-02" else 40 + (k + i * 3) % 30
        out.append(HealthSnapshot(
            host=host.name, taken_at=NOW - timedelta(minutes=5 * (n - 1 - i), seconds=30),
            reachable=not (host.name == "db-02" and i == n - 1),
            cpu_pct=float((k * 7 + i * 11) % 90), mem_pct=float(30 + (k + i * 5) % 55),
            disk_pct=float(disk), load1=round(((k + i) % 40) / 10, 2),
        ))
    return out


DECISION = Decision(
    kind=DecisionKind.SUGGEST, confidence=0.72, evidence_match=0.80, prior=0.95,
    risk=Risk.LOW, risk_cap=0.95, mode="suggest", runbook="disk-full",  # type: ignore[arg-type]
    cause="old-logs", reasons=("/var/log holds 14 GB of rotated logs older than 7 days",
                               "confidence 0.72 is below the auto threshold 0.90"),
)


def approval_events(task_id: str, host: str, start: datetime) -> list[Event]:
    """A transcript that ends waiting for approval."""
    plan = [{"cause": "old-logs", "steps": [
        {"id": "clean", "action": "clean_files",
         "params": {"root": "/var/log", "older_than_days": 7, "pattern": "*.gz"}}]}]
    dry = [{"cause": "old-logs", "ok": True, "steps": [
        {"step": "clean", "action": "clean_files", "ok": True, "dry_run": True,
         "summary": "would delete 212 files, free 14.2 GB"}]}]
    raw: list[tuple[str, dict[str, object]]] = [
        ("started", {"host": host, "runbook": "disk-full"}),
        ("step", {"phase": "diagnose", "step": "usage", "action": "disk_usage",
                  "params": {"path": "/"}}),
        ("output", {"step": "usage", "stream": "stdout",
                    "text": "Filesystem Size Used Avail Use%\n/dev/sda1 50G 47G 3G 94%"}),
        ("evidence", {"step": "usage", "ok": True, "summary": "/ is 94% full"}),
        ("classified", {"candidates": [{"cause": "old-logs", "score": 0.8, "matched": True},
                                       {"cause": "big-core-dumps", "score": 0.1,
                                        "matched": False}]}),
        ("decision", {"verdict": "suggest", "confidence": 0.72, "evidence_match": 0.8,
                      "prior": 0.95, "risk_cap": 0.95, "risk": "low",
                      "reasons": list(DECISION.reasons)}),
        ("action", {"step": "clean", "action": "clean_files", "ok": True, "dry_run": True,
                    "params": {"root": "/var/log", "older_than_days": 7},
                    "summary": "would delete 212 files, free 14.2 GB"}),
        ("approval_requested", {"runbook": "disk-full", "title": "Disk almost full",
                                "actions": plan, "risk": "low", "confidence": 0.72,
                                "reasons": list(DECISION.reasons), "dry_run": dry}),
    ]
    return [Event(task_id, i + 1, kind, start + timedelta(seconds=2 * i), data)
            for i, (kind, data) in enumerate(raw)]


async def _task(hub: Hub, task_id: str, host: str, alert: str, created: datetime,
                path: list[str], severity: Severity = Severity.WARNING, **fields: object) -> None:
    await hub.create_task(Task(id=task_id, host=host, alertname=alert, severity=severity,
                               created_at=created, updated_at=created))
    for state in path:
        extra = dict(fields) if state == path[-1] else {}
        if state in {"resolved", "escalated", "failed"}:
            extra.setdefault("finished_at", created + timedelta(minutes=4))
        await hub.transition(task_id, state, **extra)


async def seed(hub: Hub, *, health_points: int = 8) -> None:
    """Hosts with health, five tasks in different states, and two transcripts."""
    hs = hosts()
    await hub.upsert_hosts(hs)
    for h in hs:
        for snap in _health(h, health_points):
            await hub.record_health(snap)
    waiting = ["claimed", "diagnosing", "awaiting_approval"]
    common = {"runbook": "disk-full", "confidence": 0.72, "risk": Risk.LOW, "decision": DECISION}
    await _task(hub, ESCALATED_TASK, "db-01", "ReplicationLag", BASE + timedelta(minutes=30),
                ["claimed", "diagnosing", "escalated"], Severity.CRITICAL,
                runbook="pg-replication", confidence=0.31, outcome="escalated")
    await _task(hub, FIXED_TASK, "worker-01", "ServiceDown", BASE + timedelta(hours=1),
                ["claimed", "diagnosing", "remediating", "verifying", "resolved"],
                runbook="service-restart", confidence=0.97, outcome="resolved")
    await _task(hub, APPROVAL_TASK_2, "web-03", "DiskFull", BASE + timedelta(hours=2, minutes=40),
                waiting, **common)
    await _task(hub, APPROVAL_TASK, "web-02", "DiskFull", BASE + timedelta(hours=2, minutes=50),
                waiting, Severity.CRITICAL, **common)
    await _task(hub, BUSY_TASK, "worker-02", "QueueBacklog", BASE + timedelta(hours=1, minutes=30),
                ["claimed", "diagnosing"], runbook="queue-drain")
    await _task(hub, DIAG_TASK, "app-01", "HighLoad", BASE + timedelta(hours=2, minutes=55),
                ["claimed", "diagnosing"], runbook="high-load")
    await hub.append_events(approval_events(APPROVAL_TASK, "web-02", BASE + timedelta(hours=2,
                                                                                       minutes=51)))
    await hub.append_events(approval_events(APPROVAL_TASK_2, "web-03",
                                            BASE + timedelta(hours=2, minutes=41)))
