"""The domain core: types and rules with no I/O (importable without any adapter or UI)."""

from __future__ import annotations

from ccm_tui.core.errors import (
    CCMError,
    ConfigError,
    ConflictError,
    DomainError,
    HubError,
    HubUnavailable,
    HubURLError,
    IllegalTransition,
    InvalidDecision,
    LeaseLost,
    NotFound,
    SchemaError,
)
from ccm_tui.core.model import (
    Alert,
    AlertStatus,
    Approval,
    ApprovalKind,
    AuditEntry,
    Change,
    ChangeKind,
    Control,
    Decision,
    DecisionKind,
    Event,
    HealthSnapshot,
    Host,
    OutboxMessage,
    OutboxState,
    Risk,
    RunbookMode,
    RunbookStats,
    Severity,
    Task,
    check_approval,
    new_task_id,
    utcnow,
)
from ccm_tui.core.policy import Policy, decide
from ccm_tui.core.states import TaskState, can_transition, check_transition

__all__ = [
    "Alert", "AlertStatus", "Approval", "ApprovalKind", "AuditEntry", "CCMError", "Change",
    "ChangeKind", "ConfigError", "ConflictError", "Control", "Decision", "DecisionKind",
    "DomainError", "Event", "HealthSnapshot", "Host", "HubError", "HubURLError",
    "HubUnavailable", "IllegalTransition", "InvalidDecision", "LeaseLost", "NotFound",
    "OutboxMessage", "OutboxState", "Policy", "Risk", "RunbookMode", "RunbookStats",
    "SchemaError", "Severity", "Task", "TaskState", "can_transition", "check_approval",
    "check_transition", "decide", "new_task_id", "utcnow",
]
