"""Confidence calibration and the auto / suggest / escalate decision, with its reasons."""

from __future__ import annotations

import pytest

from ccm_tui.core import (
    ApprovalKind,
    Decision,
    DecisionKind,
    Event,
    InvalidDecision,
    Policy,
    Risk,
    RunbookMode,
    RunbookStats,
    Severity,
    Task,
    TaskState,
    check_approval,
    decide,
    new_task_id,
    utcnow,
)
from ccm_tui.core.errors import DomainError

P = Policy()


def test_thresholds() -> None:
    assert decide(P, evidence_match=1.0, prior=0.95, risk=Risk.LOW).kind is DecisionKind.AUTO
    d = decide(P, evidence_match=0.9, prior=0.8, risk=Risk.LOW)
    assert d.kind is DecisionKind.SUGGEST and d.confidence == pytest.approx(0.72)
    assert decide(P, evidence_match=0.5, prior=0.5, risk=Risk.LOW).kind is DecisionKind.ESCALATE


def test_risk_cap_lowers_confidence() -> None:
    d = decide(P, evidence_match=1.0, prior=1.0, risk=Risk.HIGH)
    assert d.risk_cap == 0.70 and d.confidence == pytest.approx(0.70)
    assert d.kind is DecisionKind.SUGGEST


def test_mode_and_pause_never_fix_alone() -> None:
    for kw in ({"mode": RunbookMode.SUGGEST}, {"mode": RunbookMode.SHADOW}, {"paused": True}):
        d = decide(P, evidence_match=1.0, prior=1.0, risk=Risk.LOW, **kw)  # type: ignore[arg-type]
        assert d.kind is DecisionKind.SUGGEST
    strict = Policy(max_auto_risk=Risk.LOW)
    d = decide(strict, evidence_match=1.0, prior=1.0, risk=Risk.MEDIUM)
    assert d.kind is DecisionKind.SUGGEST and any("auto limit" in r for r in d.reasons)


def test_decision_records_why_and_round_trips() -> None:
    d = decide(P, evidence_match=0.9, prior=0.8, risk=Risk.LOW, runbook="disk-full",
               cause="old_logs")
    assert "0.90" in d.reasons[0] and "0.80" in d.reasons[0] and "0.72" in d.reasons[0]
    assert Decision.from_dict(d.to_dict()) == d
    assert P.to_dict()["risk_caps"] == {"low": 1.0, "medium": 0.95, "high": 0.7}


def test_success_prior_is_smoothed() -> None:
    assert RunbookStats("r", "web").success_rate == 0.95
    assert RunbookStats("r", "web", failures=1).success_rate == pytest.approx(19 / 21)
    assert RunbookStats("r", "web", successes=10).success_rate == pytest.approx(29 / 30)


def test_approvals_fit_the_state() -> None:
    t = Task(id=new_task_id(), host="web-01", alertname="X")
    with pytest.raises(InvalidDecision):
        check_approval(t, ApprovalKind.APPROVE)
    assert check_approval(t, "escalate") is ApprovalKind.ESCALATE
    waiting = t.transition(TaskState.CLAIMED).transition(TaskState.DIAGNOSING) \
        .transition(TaskState.AWAITING_APPROVAL)
    assert check_approval(waiting, "reject") is ApprovalKind.REJECT
    with pytest.raises(InvalidDecision):
        check_approval(waiting.transition(TaskState.ESCALATED), "escalate")


def test_events_validate_type_and_seq() -> None:
    Event("t-1", 1, "started", utcnow())
    with pytest.raises(DomainError):
        Event("t-1", 1, "made-up", utcnow())
    with pytest.raises(DomainError):
        Event("t-1", 0, "step", utcnow())


@pytest.mark.parametrize("word,expected", [
    ("critical", Severity.CRITICAL), ("page", Severity.CRITICAL), ("P1", Severity.CRITICAL),
    ("warning", Severity.WARNING), ("", Severity.WARNING), (None, Severity.WARNING),
    ("info", Severity.INFO),
])
def test_severity_words(word: str | None, expected: Severity) -> None:
    assert Severity.parse(word) is expected
