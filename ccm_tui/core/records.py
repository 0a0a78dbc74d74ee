"""What the hub keeps besides incidents: the audit log, runbook track records, the
notification outbox, the fleet-wide switches, and the change notifications that drive
realtime. Plain frozen dataclasses with no I/O, like :mod:`ccm_tui.core.model`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from ccm_tui.core.model import JSON, Event, RunbookMode, utcnow


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit log: who did what to which target."""

    actor: str
    action: str
    target: str = ""
    detail: JSON = field(default_factory=dict)
    ts: datetime = field(default_factory=utcnow)
    id: int | None = None


@dataclass(frozen=True, slots=True)
class RunbookStats:
    """A runbook's track record on one host group, the prior for its confidence."""

    runbook: str
    host_group: str
    successes: int = 0
    failures: int = 0
    approvals: int = 0
    rejections: int = 0
    mode: RunbookMode | None = None
    updated_at: datetime | None = None
    #: Successes in a row since the last failure or mode change (drives promotion).
    streak: int = 0

    @property
    def success_rate(self) -> float:
        """The prior for confidence: a Beta(19, 1) estimate of the success rate.

        0.95 with no history (a tested runbook is trusted, not blindly: a 0.95-weight
        cause still clears the 0.90 auto threshold), moving to the observed rate as
        outcomes come in: one failure in a fresh history gives 0.90 — below auto for
        the same cause — and ten successes 0.97.
        """
        return (self.successes + 19) / (self.successes + self.failures + 20)


class OutboxState(StrEnum):
    """Delivery state of a notification."""

    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A notification written to the hub before any attempt to deliver it."""

    id: int
    channel: str
    dedup_key: str
    payload: JSON
    state: OutboxState = OutboxState.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str = ""
    created_at: datetime = field(default_factory=utcnow)
    sent_at: datetime | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Control:
    """Fleet-wide switches. ``paused`` stops every automatic fix at once."""

    paused: bool = False
    actor: str = ""
    reason: str = ""
    updated_at: datetime | None = None


class ChangeKind(StrEnum):
    """What a realtime change notification is about."""

    EVENT = "event"
    TASK = "task"
    APPROVAL = "approval"
    CONTROL = "control"
    HOST = "host"
    ALERT = "alert"
    OUTBOX = "outbox"
    SILENCE = "silence"


@dataclass(frozen=True, slots=True)
class Change:
    """A change the hub announces to subscribers. Carries ids; ``event`` is loaded for events."""

    id: int
    kind: ChangeKind
    task_id: str | None = None
    ref: str | None = None
    event: Event | None = None


__all__ = ["AuditEntry", "Change", "ChangeKind", "Control", "OutboxMessage", "OutboxState",
           "RunbookStats"]
