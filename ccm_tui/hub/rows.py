"""Conversions between database rows and core dataclasses, for every SQL adapter.

SQLite hands back timestamps as ISO-8601 text and booleans as integers; asyncpg
hands back ``datetime`` and ``bool``. Both come through here to the same types.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Protocol

from ccm_tui.core.matchers import Matcher
from ccm_tui.core.model import (
    Alert,
    AlertStatus,
    Approval,
    ApprovalKind,
    Decision,
    Event,
    HealthSnapshot,
    Host,
    Risk,
    RunbookMode,
    Severity,
    Silence,
    Task,
)
from ccm_tui.core.records import AuditEntry, Control, OutboxMessage, OutboxState, RunbookStats
from ccm_tui.core.states import TaskState


class Row(Protocol):
    """A database row addressed by column name (``sqlite3.Row``, ``asyncpg.Record``)."""

    def __getitem__(self, key: str, /) -> Any: ...

#: Task fields that ``update_task`` may write, and how each is stored.
TASK_JSON_FIELDS = frozenset({"decision", "spec", "result"})
TASK_FIELDS = frozenset({
    "state", "severity", "summary", "managed", "runbook", "confidence", "risk", "decision",
    "outcome", "note", "spec", "result", "lease_owner", "lease_expires_at", "attempts",
    "repeat_count", "started_at", "finished_at", "alert_fingerprint",
})


def dt(value: Any) -> datetime | None:
    """A stored timestamp as an aware UTC datetime (``None`` stays ``None``)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def req_dt(value: Any) -> datetime:
    """Like :func:`dt` for a column that is never NULL."""
    result = dt(value)
    assert result is not None
    return result


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


# One encoder for every write: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_json_default)


def dumps(value: Any) -> str:
    """JSON text for a json/jsonb column."""
    return _ENCODER.encode(value)


def loads(value: Any) -> Any:
    """A json/jsonb column's value as Python data."""
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return value
    return json.loads(value)


def task_param(name: str, value: Any) -> Any:
    """A task field value as a SQL parameter."""
    if value is None:
        return None
    if name == "decision":
        return dumps(value.to_dict() if isinstance(value, Decision) else value)
    if name in TASK_JSON_FIELDS:
        return dumps(value)
    if isinstance(value, Enum):
        return value.value
    return value


def host_from_row(r: Row) -> Host:
    return Host(
        name=r["name"], address=r["address"], port=int(r["port"]), user=r["ssh_user"],
        groups=tuple(loads(r["groups"]) or ()), labels=dict(loads(r["labels"]) or {}),
        managed=bool(r["managed"]), updated_at=dt(r["updated_at"]),
    )


def health_from_row(r: Row) -> HealthSnapshot:
    return HealthSnapshot(
        host=r["host"], taken_at=req_dt(r["taken_at"]), reachable=bool(r["reachable"]),
        cpu_pct=r["cpu_pct"], mem_pct=r["mem_pct"], disk_pct=r["disk_pct"], load1=r["load1"],
        data=dict(loads(r["data"]) or {}),
    )


def alert_from_row(r: Row) -> Alert:
    return Alert(
        id=int(r["id"]), fingerprint=r["fingerprint"], status=AlertStatus(r["status"]),
        source=r["source"], alertname=r["alertname"], host=r["host"],
        severity=Severity(r["severity"]), labels=dict(loads(r["labels"]) or {}),
        annotations=dict(loads(r["annotations"]) or {}), starts_at=req_dt(r["starts_at"]),
        ends_at=dt(r["ends_at"]), received_at=req_dt(r["received_at"]),
        task_id=r["task_id"], seen_count=int(r["seen_count"]), suppressed=r["suppressed"],
    )


def task_from_row(r: Row) -> Task:
    decision = loads(r["decision"])
    return Task(
        id=r["id"], host=r["host"], alertname=r["alertname"], state=TaskState(r["state"]),
        severity=Severity(r["severity"]), alert_fingerprint=r["alert_fingerprint"],
        summary=r["summary"], managed=bool(r["managed"]), runbook=r["runbook"],
        confidence=r["confidence"], risk=Risk(r["risk"]) if r["risk"] else None,
        decision=Decision.from_dict(decision) if decision else None, outcome=r["outcome"],
        note=r["note"], spec=dict(loads(r["spec"]) or {}), result=dict(loads(r["result"]) or {}),
        lease_owner=r["lease_owner"], lease_expires_at=dt(r["lease_expires_at"]),
        attempts=int(r["attempts"]), repeat_count=int(r["repeat_count"]),
        version=int(r["version"]), created_at=req_dt(r["created_at"]),
        updated_at=req_dt(r["updated_at"]), started_at=dt(r["started_at"]),
        finished_at=dt(r["finished_at"]),
    )


def event_from_row(r: Row) -> Event:
    return Event(
        task_id=r["task_id"], seq=int(r["seq"]), type=r["type"], ts=req_dt(r["ts"]),
        data=dict(loads(r["data"]) or {}),
    )


def approval_from_row(r: Row) -> Approval:
    return Approval(
        id=int(r["id"]), task_id=r["task_id"], kind=ApprovalKind(r["kind"]), actor=r["actor"],
        note=r["note"], created_at=req_dt(r["created_at"]), relayed_at=dt(r["relayed_at"]),
    )


def audit_from_row(r: Row) -> AuditEntry:
    return AuditEntry(
        id=int(r["id"]), ts=req_dt(r["ts"]), actor=r["actor"], action=r["action"],
        target=r["target"], detail=dict(loads(r["detail"]) or {}),
    )


def stats_from_row(r: Row) -> RunbookStats:
    return RunbookStats(
        runbook=r["runbook"], host_group=r["host_group"], successes=int(r["successes"]),
        failures=int(r["failures"]), approvals=int(r["approvals"]),
        rejections=int(r["rejections"]), mode=RunbookMode(r["mode"]) if r["mode"] else None,
        updated_at=dt(r["updated_at"]), streak=int(r["streak"]),
    )


def outbox_from_row(r: Row) -> OutboxMessage:
    return OutboxMessage(
        id=int(r["id"]), channel=r["channel"], dedup_key=r["dedup_key"],
        payload=dict(loads(r["payload"]) or {}), state=OutboxState(r["state"]),
        attempts=int(r["attempts"]), next_attempt_at=dt(r["next_attempt_at"]),
        last_error=r["last_error"], created_at=req_dt(r["created_at"]), sent_at=dt(r["sent_at"]),
        lease_owner=r["lease_owner"], lease_expires_at=dt(r["lease_expires_at"]),
    )


def control_from_row(r: Row) -> Control:
    return Control(
        paused=bool(r["paused"]), actor=r["actor"], reason=r["reason"],
        updated_at=dt(r["updated_at"]),
    )


def silence_from_row(r: Row) -> Silence:
    return Silence(
        id=int(r["id"]), matchers=tuple(Matcher.from_dict(m) for m in loads(r["matchers"])),
        starts_at=req_dt(r["starts_at"]), ends_at=req_dt(r["ends_at"]), reason=r["reason"],
        created_by=r["created_by"], created_at=req_dt(r["created_at"]),
        expired_at=dt(r["expired_at"]),
    )
