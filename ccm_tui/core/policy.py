"""Decision policy: thresholds, risk caps and confidence calibration.

Calibrated confidence = evidence match × the runbook's success prior on this host
group × the cap of its risk class. ≥ ``auto_threshold`` with risk within policy
fixes automatically; ≥ ``suggest_threshold`` suggests and waits for one key; below,
escalates. A runbook's mode can only lower that (shadow never acts, suggest never
fixes alone), and ``paused`` turns every automatic fix into a suggestion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ccm_tui.core.model import Decision, DecisionKind, Risk, RunbookMode

_RISK_ORDER = {Risk.LOW: 0, Risk.MEDIUM: 1, Risk.HIGH: 2}


@dataclass(frozen=True, slots=True)
class Policy:
    """The thresholds the agent decides with; sent to it inside the task spec."""

    auto_threshold: float = 0.90
    suggest_threshold: float = 0.50
    max_auto_risk: Risk = Risk.MEDIUM
    risk_caps: dict[Risk, float] = field(
        default_factory=lambda: {Risk.LOW: 1.0, Risk.MEDIUM: 0.95, Risk.HIGH: 0.70}
    )

    def to_dict(self) -> dict[str, object]:
        """The policy as the JSON the agent reads."""
        return {
            "auto_threshold": self.auto_threshold,
            "suggest_threshold": self.suggest_threshold,
            "max_auto_risk": self.max_auto_risk.value,
            "risk_caps": {k.value: v for k, v in self.risk_caps.items()},
        }


def _clamp(x: float) -> float:
    return max(0.0, min(1.0, x))


def decide(
    policy: Policy,
    *,
    evidence_match: float,
    prior: float,
    risk: Risk,
    mode: RunbookMode = RunbookMode.AUTO,
    paused: bool = False,
    runbook: str = "",
    cause: str = "",
) -> Decision:
    """Calibrate confidence and choose auto / suggest / escalate, recording why."""
    cap = policy.risk_caps.get(risk, 0.7)
    confidence = round(_clamp(evidence_match) * _clamp(prior) * cap, 4)
    reasons = [
        f"evidence match {evidence_match:.2f} × prior {prior:.2f} × {risk} risk cap {cap:.2f}"
        f" = {confidence:.2f}"
    ]
    if confidence >= policy.auto_threshold:
        kind = DecisionKind.AUTO
        reasons.append(f"{confidence:.2f} ≥ auto threshold {policy.auto_threshold:.2f}")
    elif confidence >= policy.suggest_threshold:
        kind = DecisionKind.SUGGEST
        reasons.append(
            f"{policy.suggest_threshold:.2f} ≤ {confidence:.2f} < auto threshold "
            f"{policy.auto_threshold:.2f}: ask for approval"
        )
    else:
        kind = DecisionKind.ESCALATE
        reasons.append(f"{confidence:.2f} < suggest threshold {policy.suggest_threshold:.2f}")
    if kind is DecisionKind.AUTO and _RISK_ORDER[risk] > _RISK_ORDER[policy.max_auto_risk]:
        kind = DecisionKind.SUGGEST
        reasons.append(f"{risk} risk is above the policy's auto limit ({policy.max_auto_risk})")
    if kind is DecisionKind.AUTO and mode is not RunbookMode.AUTO:
        kind = DecisionKind.SUGGEST
        reasons.append(f"runbook is in {mode} mode")
    if kind is DecisionKind.AUTO and paused:
        kind = DecisionKind.SUGGEST
        reasons.append("automatic fixes are paused fleet-wide (ccm pause)")
    return Decision(
        kind=kind,
        confidence=confidence,
        evidence_match=evidence_match,
        prior=prior,
        risk=risk,
        risk_cap=cap,
        auto_threshold=policy.auto_threshold,
        suggest_threshold=policy.suggest_threshold,
        mode=mode,
        runbook=runbook,
        cause=cause,
        reasons=tuple(reasons),
    )
