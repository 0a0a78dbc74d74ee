"""The task life cycle: states and the transitions allowed between them.

``new → claimed → diagnosing → awaiting_approval → remediating → verifying →
resolved | escalated | failed | cancelled``, plus ``resolved_upstream`` for an alert
that resolves before work starts.
"""

from __future__ import annotations

from enum import StrEnum

from ccm_tui.core.errors import IllegalTransition


class TaskState(StrEnum):
    """Where a task is in its life cycle."""

    NEW = "new"
    CLAIMED = "claimed"
    DIAGNOSING = "diagnosing"
    AWAITING_APPROVAL = "awaiting_approval"
    REMEDIATING = "remediating"
    VERIFYING = "verifying"
    RESOLVED = "resolved"
    ESCALATED = "escalated"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RESOLVED_UPSTREAM = "resolved_upstream"

    @property
    def is_terminal(self) -> bool:
        """No agent works on a task in this state any more."""
        return self in TERMINAL_STATES

    @property
    def is_active(self) -> bool:
        """A daemon holds (or held) a lease and an agent may be running."""
        return self in ACTIVE_STATES


S = TaskState

TERMINAL_STATES = frozenset({S.RESOLVED, S.ESCALATED, S.FAILED, S.CANCELLED, S.RESOLVED_UPSTREAM})
ACTIVE_STATES = frozenset({S.CLAIMED, S.DIAGNOSING, S.AWAITING_APPROVAL, S.REMEDIATING, S.VERIFYING})
#: States that still need someone's attention (what "open" means in listings).
OPEN_STATES = frozenset({S.NEW}) | ACTIVE_STATES

_ENDINGS = {S.ESCALATED, S.FAILED, S.CANCELLED}

TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    S.NEW: frozenset({S.CLAIMED, S.ESCALATED, S.CANCELLED, S.RESOLVED_UPSTREAM}),
    # A claim released (daemon shutting down, host busy) goes back to new.
    S.CLAIMED: frozenset({S.NEW, S.DIAGNOSING, S.RESOLVED_UPSTREAM} | _ENDINGS),
    # Diagnosis can find nothing left to fix (resolved) or go straight to remediation.
    S.DIAGNOSING: frozenset({S.AWAITING_APPROVAL, S.REMEDIATING, S.RESOLVED} | _ENDINGS),
    S.AWAITING_APPROVAL: frozenset({S.REMEDIATING} | _ENDINGS),
    S.REMEDIATING: frozenset({S.VERIFYING} | _ENDINGS),
    # A failed verification may escalate; a partial fix may go round once more.
    S.VERIFYING: frozenset({S.RESOLVED, S.REMEDIATING} | _ENDINGS),
    # An escalated task is closed by a human or by the alert resolving later.
    S.ESCALATED: frozenset({S.RESOLVED, S.CANCELLED}),
    S.FAILED: frozenset({S.ESCALATED}),
    S.RESOLVED: frozenset(),
    S.CANCELLED: frozenset(),
    S.RESOLVED_UPSTREAM: frozenset(),
}


def can_transition(current: TaskState, target: TaskState) -> bool:
    """Whether the life cycle allows ``current → target``."""
    return target in TRANSITIONS[current]


def check_transition(current: TaskState | str, target: TaskState | str) -> TaskState:
    """Return ``target`` as a :class:`TaskState`, or raise :class:`IllegalTransition`."""
    cur, tgt = TaskState(current), TaskState(target)
    if not can_transition(cur, tgt):
        allowed = ", ".join(sorted(TRANSITIONS[cur])) or "none (terminal)"
        raise IllegalTransition(f"task cannot go from {cur} to {tgt}; allowed from {cur}: {allowed}")
    return tgt
