"""How an agent's events move its task through the life cycle.

The agent reports what it does (``started``, ``decision``, ``approval_requested``,
``action``, ``verified``, ``finished``); :func:`effect_of` says which task state
and fields each implies, and :func:`path_to` finds the legal steps to get there
(a fix applied straight after diagnosis passes through ``remediating``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ccm_tui.core.model import Decision, DecisionKind, Risk, RunbookMode
from ccm_tui.core.states import TRANSITIONS, TaskState

#: ``finished`` outcome → the task's final state.
OUTCOME_STATE = {
    "resolved": TaskState.RESOLVED,
    "failed": TaskState.FAILED,
    "escalated": TaskState.ESCALATED,
    "cancelled": TaskState.CANCELLED,
    "rejected": TaskState.CANCELLED,
    # A shadow or dry run changed nothing: the incident still needs a human.
    "noop": TaskState.ESCALATED,
}

_RESULT_KEYS = ("summary", "reasons", "cause", "tried", "would", "actor", "note")


@dataclass(frozen=True, slots=True)
class Effect:
    """What one event does to its task: a target state and fields to store."""

    target: TaskState | None = None
    fields: dict[str, Any] = field(default_factory=dict)


def decision_from_agent(data: dict[str, Any]) -> Decision:
    """The core :class:`Decision` for an agent's ``decision`` event (all inputs kept)."""
    verdict = str(data.get("verdict", "escalate"))
    thresholds = data.get("thresholds") or {}
    risk = str(data.get("risk") or "high")
    mode = str(data.get("mode") or "suggest")
    return Decision(
        kind=DecisionKind(verdict) if verdict in DecisionKind._value2member_map_
        else DecisionKind.ESCALATE,
        confidence=float(data.get("confidence") or 0.0),
        evidence_match=float(data.get("evidence_match") or 0.0),
        prior=float(data.get("prior") or 0.0),
        risk=Risk(risk) if risk in Risk._value2member_map_ else Risk.HIGH,
        risk_cap=float(data.get("risk_cap") or 0.0),
        auto_threshold=float(thresholds.get("auto", 0.9)),
        suggest_threshold=float(thresholds.get("suggest", 0.5)),
        mode=RunbookMode(mode) if mode in RunbookMode._value2member_map_ else RunbookMode.SUGGEST,
        runbook=str(data.get("runbook") or ""),
        cause=", ".join(str(c) for c in data.get("causes") or ()),
        reasons=tuple(str(r) for r in data.get("reasons") or ()),
    )


def effect_of(event_type: str, data: dict[str, Any]) -> Effect:
    """The task state and fields an agent event implies."""
    if event_type == "started":
        return Effect(TaskState.DIAGNOSING,
                      {"runbook": data["runbook"]} if data.get("runbook") else {})
    if event_type == "decision":
        decision = decision_from_agent(data)
        fields: dict[str, Any] = {"decision": decision, "confidence": decision.confidence}
        if decision.runbook:
            fields["runbook"] = decision.runbook
            fields["risk"] = decision.risk
        return Effect(None, fields)
    if event_type == "approval_requested":
        return Effect(TaskState.AWAITING_APPROVAL)
    if event_type == "action" and not data.get("dry_run"):
        return Effect(TaskState.REMEDIATING)
    if event_type == "verified":
        return Effect(TaskState.VERIFYING)
    if event_type == "finished":
        outcome = str(data.get("outcome", "failed"))
        result = {k: data[k] for k in _RESULT_KEYS if k in data}
        result["outcome"] = outcome
        summary = data.get("summary") or "; ".join(str(r) for r in data.get("reasons") or ())
        return Effect(OUTCOME_STATE.get(outcome, TaskState.FAILED),
                      {"outcome": outcome if not summary else f"{outcome}: {summary}"[:500],
                       "result": result})
    return Effect()


def path_to(current: TaskState, target: TaskState) -> list[TaskState]:
    """The shortest legal sequence of states from ``current`` to ``target`` (excluding
    ``current``); empty when already there or unreachable."""
    if current is target:
        return []
    seen = {current}
    queue: deque[tuple[TaskState, list[TaskState]]] = deque([(current, [])])
    while queue:
        state, path = queue.popleft()
        for nxt in sorted(TRANSITIONS[state]):
            if nxt in seen or nxt is TaskState.NEW:
                continue
            step = [*path, nxt]
            if nxt is target:
                return step
            if not nxt.is_terminal:
                seen.add(nxt)
                queue.append((nxt, step))
    return []
