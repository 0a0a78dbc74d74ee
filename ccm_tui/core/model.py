"""Domain types: hosts, alerts, tasks, events, approvals, decisions and silences.

Plain frozen dataclasses with no I/O. Adapters turn them into rows and back; the
CLI and the TUI render them. Times are timezone-aware UTC :class:`datetime`. The
hub's bookkeeping records (audit, outbox, control, changes) are in :mod:`.records`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from agent_runtime.protocol import CONTROL_TYPES, EVENT_TYPES
from ccm_tui.core.errors import DomainError, InvalidDecision
from ccm_tui.core.matchers import Matcher, matches_all
from ccm_tui.core.states import TaskState, check_transition

JSON = dict[str, Any]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def new_task_id() -> str:
    """A short, URL- and tmux-safe task id such as ``t-5f2c9a1b7e``."""
    return "t-" + secrets.token_hex(5)


class Severity(StrEnum):
    """Alert severity, normalised from each source's vocabulary."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @classmethod
    def parse(cls, value: str | None) -> Severity:
        """Map a source's severity word (``page``, ``error``, ``P1``…) to ours."""
        v = (value or "").strip().lower()
        if v in {"critical", "crit", "page", "p1", "high", "emergency", "fatal", "error", "err"}:
            return cls.CRITICAL
        if v in {"info", "informational", "low", "none", "p4", "p5", "debug"}:
            return cls.INFO
        return cls.WARNING


class AlertStatus(StrEnum):
    """Whether an alert is firing or resolved."""

    FIRING = "firing"
    RESOLVED = "resolved"


class Risk(StrEnum):
    """A runbook's risk class."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class RunbookMode(StrEnum):
    """How far a runbook is trusted: dry-run only, suggest, or fix automatically."""

    SHADOW = "shadow"
    SUGGEST = "suggest"
    AUTO = "auto"


class DecisionKind(StrEnum):
    """What the agent decided after diagnosis."""

    AUTO = "auto"
    SUGGEST = "suggest"
    ESCALATE = "escalate"
    SHADOW = "shadow"


class ApprovalKind(StrEnum):
    """An operator's one-key decision on a task."""

    APPROVE = "approve"
    REJECT = "reject"
    ESCALATE = "escalate"


@dataclass(frozen=True, slots=True)
class Host:
    """A server of the fleet, as the hub knows it."""

    name: str
    address: str = ""
    port: int = 22
    user: str = ""
    groups: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    managed: bool = True
    updated_at: datetime | None = None

    @property
    def group(self) -> str:
        """The host's primary group (its role), ``ungrouped`` when it has none."""
        return self.groups[0] if self.groups else "ungrouped"


#: Error kinds of an SSH run (``RunResult.error_kind``, a probe's ``data["error_kind"]``)
#: that mean the host answered but CCM could not get in: its login or its host key was
#: refused, or it accepts none of the SSH algorithms CCM offers. The fault is CCM's
#: access, not the host's health.
ACCESS_REFUSED_KINDS = frozenset({"auth", "hostkey", "algorithms"})


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    """One health probe of a host."""

    host: str
    taken_at: datetime
    reachable: bool = True
    cpu_pct: float | None = None
    mem_pct: float | None = None
    disk_pct: float | None = None
    load1: float | None = None
    data: JSON = field(default_factory=dict)

    @property
    def access_refused(self) -> bool:
        """Unreachable: CCM's login or host key was refused (:data:`ACCESS_REFUSED_KINDS`)."""
        return not self.reachable and self.data.get("error_kind") in ACCESS_REFUSED_KINDS


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert as received from Alertmanager, Grafana, Kibana or the generic endpoint."""

    fingerprint: str
    status: AlertStatus
    source: str
    alertname: str
    host: str
    starts_at: datetime
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    severity: Severity = Severity.WARNING
    ends_at: datetime | None = None
    received_at: datetime = field(default_factory=utcnow)
    task_id: str | None = None
    id: int | None = None
    seen_count: int = 1
    #: Why no task came of it: ``silenced:<id>``, ``flapping``; ``None`` when it counted.
    suppressed: str | None = None

    @property
    def match_labels(self) -> dict[str, str]:
        """The labels silences match on: the alert's own plus ``host`` and ``alertname``."""
        return {**self.labels, "host": self.host, "alertname": self.alertname}


@dataclass(frozen=True, slots=True)
class Decision:
    """The agent's decision after diagnosis, with every input that led to it.

    ``confidence = evidence_match × prior × risk_cap``; ``kind`` follows from the
    thresholds and the runbook's mode. Stored whole so an operator can see why.
    """

    kind: DecisionKind
    confidence: float
    evidence_match: float
    prior: float
    risk: Risk
    risk_cap: float
    auto_threshold: float = 0.90
    suggest_threshold: float = 0.50
    mode: RunbookMode = RunbookMode.AUTO
    runbook: str = ""
    cause: str = ""
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> JSON:
        """The decision as JSON-ready data."""
        d = asdict(self)
        d["reasons"] = list(self.reasons)
        return d

    @classmethod
    def from_dict(cls, d: JSON) -> Decision:
        """Rebuild a decision stored with :meth:`to_dict`."""
        return cls(
            kind=DecisionKind(d["kind"]),
            confidence=float(d["confidence"]),
            evidence_match=float(d["evidence_match"]),
            prior=float(d["prior"]),
            risk=Risk(d["risk"]),
            risk_cap=float(d["risk_cap"]),
            auto_threshold=float(d.get("auto_threshold", 0.90)),
            suggest_threshold=float(d.get("suggest_threshold", 0.50)),
            mode=RunbookMode(d.get("mode", "auto")),
            runbook=str(d.get("runbook", "")),
            cause=str(d.get("cause", "")),
            reasons=tuple(str(r) for r in d.get("reasons", ())),
        )


#: The outcome of an escalated task closed because its alert resolved upstream.
CLEARED_AFTER_ESCALATION = "resolved upstream after escalation"


@dataclass(frozen=True, slots=True)
class Task:
    """A unit of work: one alert (or a group of repeats) on one host.

    ``version`` increases on every update; writers pass the version they read and
    lose with :class:`~ccm_tui.core.errors.ConflictError` if it moved.
    """

    id: str
    host: str
    alertname: str
    state: TaskState = TaskState.NEW
    severity: Severity = Severity.WARNING
    alert_fingerprint: str = ""
    summary: str = ""
    managed: bool = True
    runbook: str | None = None
    confidence: float | None = None
    risk: Risk | None = None
    decision: Decision | None = None
    outcome: str | None = None
    note: str = ""
    spec: JSON = field(default_factory=dict)
    result: JSON = field(default_factory=dict)
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    attempts: int = 0
    repeat_count: int = 0
    version: int = 1
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def transition(self, target: TaskState | str) -> Task:
        """A copy in state ``target``; raises :class:`IllegalTransition` when not allowed."""
        tgt = check_transition(self.state, target)
        now = utcnow()
        return replace(
            self,
            state=tgt,
            started_at=self.started_at or (now if tgt is TaskState.CLAIMED else None),
            finished_at=now if tgt.is_terminal else None,
        )

    @property
    def age_seconds(self) -> float:
        """Seconds since the task was created."""
        return (utcnow() - self.created_at).total_seconds()

    @property
    def match_labels(self) -> dict[str, str]:
        """The labels silences match on: its alert's, plus ``host`` and ``alertname``."""
        alert = self.spec.get("alert") or {}
        labels = {str(k): str(v) for k, v in (alert.get("labels") or {}).items()}
        labels.update(host=self.host, alertname=self.alertname)
        return labels

    @property
    def fixed_by_ccm(self) -> bool:
        """Resolved by a fix CCM applied (on its own or approved) — rather than closed
        because its alert resolved upstream after an escalation, with nothing changed."""
        return (self.state is TaskState.RESOLVED
                and self.outcome != CLEARED_AFTER_ESCALATION
                and (self.decision is None
                     or self.decision.kind in (DecisionKind.AUTO, DecisionKind.SUGGEST)))


@dataclass(frozen=True, slots=True)
class Event:
    """One event of a task's transcript, as an agent emitted it (see the protocol)."""

    task_id: str
    seq: int
    type: str
    ts: datetime
    data: JSON = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise DomainError(f"unknown event type {self.type!r}")
        if self.seq < 1:
            raise DomainError(f"event seq must be >= 1, got {self.seq}")


@dataclass(frozen=True, slots=True)
class Approval:
    """An operator's decision on a task: who, what, when, and why."""

    task_id: str
    kind: ApprovalKind
    actor: str
    note: str = ""
    created_at: datetime = field(default_factory=utcnow)
    id: int | None = None
    relayed_at: datetime | None = None


def is_endorsable(task: Task) -> bool:
    """Whether ``task`` is a shadow run's escalation, whose dry-run plan may be endorsed."""
    return (task.state is TaskState.ESCALATED and task.decision is not None
            and task.decision.kind is DecisionKind.SHADOW and bool(task.runbook))


def check_approval(task: Task, kind: ApprovalKind | str) -> ApprovalKind:
    """Validate an operator decision against the task's state.

    Approve and reject only make sense while a fix waits for approval; escalate
    is allowed on any task that is not finished. Approving a task a shadow-mode
    runbook escalated with its dry-run plan *endorses* that plan, rejecting it says the
    plan was wrong (see :mod:`ccm_tui.daemon.endorse`): enough endorsements in a row
    take the runbook out of shadow, and a rejected plan starts the count again.
    """
    k = ApprovalKind(kind)
    if k is ApprovalKind.ESCALATE:
        if task.state.is_terminal:
            raise InvalidDecision(f"task {task.id} is already {task.state}; nothing to escalate")
    elif k in (ApprovalKind.APPROVE, ApprovalKind.REJECT) and is_endorsable(task):
        pass
    elif task.state is not TaskState.AWAITING_APPROVAL:
        raise InvalidDecision(
            f"task {task.id} is {task.state}, not awaiting_approval; only a proposed fix "
            f"can be {'approved' if k is ApprovalKind.APPROVE else 'rejected'}"
        )
    assert k.value in CONTROL_TYPES
    return k


@dataclass(frozen=True, slots=True)
class Silence:
    """Alerts matching every matcher between ``starts_at`` and ``ends_at`` make no task.

    A silence that starts in the future is a maintenance window.
    """

    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    reason: str = ""
    created_by: str = ""
    created_at: datetime = field(default_factory=utcnow)
    expired_at: datetime | None = None
    id: int | None = None

    def active_at(self, when: datetime) -> bool:
        """Whether the silence applies at ``when``."""
        end = min(self.ends_at, self.expired_at) if self.expired_at else self.ends_at
        return self.starts_at <= when < end

    def silences(self, alert: Alert, when: datetime) -> bool:
        """Whether this silence holds back ``alert`` at ``when``."""
        return self.active_at(when) and matches_all(self.matchers, alert.match_labels)

    def covers(self, task: Task, when: datetime) -> bool:
        """Whether this silence covers ``task``'s alert at ``when`` (its fix waits for a
        human, and its escalation pages no one)."""
        return self.active_at(when) and matches_all(self.matchers, task.match_labels)


def covering_silence(silences: Iterable[Silence], task: Task, when: datetime
                     ) -> Silence | None:
    """The first of ``silences`` that covers ``task`` at ``when``."""
    return next((s for s in silences if s.covers(task, when)), None)


__all__ = [
    "CONTROL_TYPES",
    "JSON",
    "Alert",
    "AlertStatus",
    "Approval",
    "ApprovalKind",
    "Decision",
    "DecisionKind",
    "Event",
    "HealthSnapshot",
    "Host",
    "Risk",
    "RunbookMode",
    "Severity",
    "Silence",
    "Task",
    "check_approval",
    "new_task_id",
    "utcnow",
]
