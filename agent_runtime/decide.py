"""Classify evidence into causes, and decide what to do: auto, suggest, escalate.

Pure functions over plain dicts, so the decision can be recomputed and explained
from the event that carries its inputs:

    confidence = evidence_match x prior x risk_cap

* ``evidence_match`` - the top matching cause's weight (a cause matches when all
  its ``when`` conditions hold), times the fraction of the runbook's
  ``match.evidence`` conditions that hold;
* ``prior`` - the runbook's past success rate on this host group (task spec
  ``priors``; ``policy.default_prior`` when unknown);
* ``risk_cap`` - ``policy.risk_caps[risk]``.

A threshold an alert label sets in a condition may only make it harder to hold than
the runbook's own default (easier, for ``escalate_when``): ``threshold=0`` must not
make a healthy host match.  The decision's ``label_thresholds`` lists each such
threshold, the one used and why, and each "why" is a line of ``reasons`` too (the
reasons are what the hub keeps of a decision).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from agent_runtime.conditions import check_all
from agent_runtime.runbook import RISKS

DEFAULT_RISK_CAPS = {"low": 1.0, "medium": 0.95, "high": 0.7}


class PolicyError(ValueError):
    """A policy with a bad value."""


@dataclass
class Policy:
    """Thresholds and risk rules for one task (from the task spec)."""

    auto_threshold: float = 0.9
    suggest_threshold: float = 0.5
    max_auto_risk: str = "medium"
    risk_caps: Dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RISK_CAPS))
    dry_run: bool = False
    default_prior: float = 1.0
    approval_timeout: Optional[float] = None
    #: False turns an ``auto`` verdict into ``suggest`` (fleet paused, fix cap reached).
    allow_auto: bool = True
    #: Why automatic fixes are not allowed, recorded in the decision's reasons.
    auto_blocked: str = ""
    #: Runbook id -> reason: circuit breakers the daemon opened; these escalate.
    escalate_runbooks: Dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: Optional[Mapping[str, Any]]) -> "Policy":
        """Build from the spec's ``policy`` object; unknown keys are an error."""
        raw = dict(raw or {})
        known = set(cls.__dataclass_fields__)
        unknown = set(raw) - known
        if unknown:
            raise PolicyError("unknown policy keys: %s" % ", ".join(sorted(unknown)))
        caps = dict(DEFAULT_RISK_CAPS)
        caps.update(raw.pop("risk_caps", None) or {})
        policy = cls(risk_caps=caps, **raw)
        for name in ("auto_threshold", "suggest_threshold", "default_prior"):
            value = getattr(policy, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
                raise PolicyError("policy %s must be a number from 0 to 1" % name)
        if not isinstance(policy.allow_auto, bool):
            raise PolicyError("policy allow_auto must be true or false")
        if not isinstance(policy.escalate_runbooks, dict):
            raise PolicyError("policy escalate_runbooks maps runbook ids to reasons")
        if policy.max_auto_risk not in RISKS:
            raise PolicyError("policy max_auto_risk must be one of %s" % "|".join(RISKS))
        for risk in RISKS:
            cap = caps.get(risk)
            if not isinstance(cap, (int, float)) or not 0 <= cap <= 1:
                raise PolicyError("policy risk_caps.%s must be a number from 0 to 1" % risk)
        return policy

    def to_dict(self) -> Dict[str, Any]:
        """The policy as JSON-ready data."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def classify(runbook: Mapping[str, Any], context: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """Score every cause of ``runbook`` against the evidence in ``context``.

    Returns one candidate per cause, in runbook order: ``cause``, ``matched`` (all
    conditions hold), ``score`` (weight x fraction of conditions that hold),
    ``weight``, the per-condition ``report`` and ``remediate``.
    """
    out: List[Dict[str, Any]] = []
    for cause in runbook.get("classify", []):
        report = check_all(cause.get("when", []), context)
        held = sum(1 for r in report if r["ok"])
        fraction = held / len(report) if report else 1.0
        weight = float(cause.get("weight", 0))
        out.append({
            "cause": cause["cause"], "description": cause.get("description", ""),
            "matched": held == len(report), "score": round(weight * fraction, 4),
            "weight": weight, "report": report,
            "remediate": list(cause.get("remediate", [])),
        })
    return out


def escalations(runbook: Mapping[str, Any], context: Mapping[str, Any]) -> List[str]:
    """The reasons of every ``escalate_when`` entry whose conditions all hold."""
    reasons: List[str] = []
    for item in runbook.get("escalate_when", []):
        report = check_all(item.get("when", []), context, harder=False)
        if report and all(r["ok"] for r in report):
            reasons.append(str(item.get("reason", "escalation condition met")))
    return reasons


def decide(runbook: Mapping[str, Any], candidates: List[Dict[str, Any]],
           match_report: List[Dict[str, Any]], policy: Policy, prior: Optional[float],
           forced: List[str]) -> Dict[str, Any]:
    """The decision with every input that led to it.

    ``verdict`` is ``auto``, ``suggest``, ``escalate`` or ``shadow``; ``causes`` the
    causes whose fixes are planned (one for strategy ``best``, every matching one
    in order for ``sequential``).
    """
    risk = str(runbook.get("risk", "high"))
    mode = str(runbook.get("mode", "suggest"))
    strategy = str(runbook.get("strategy", "best"))
    prior_value = policy.default_prior if prior is None else float(prior)
    cap = float(policy.risk_caps.get(risk, 0.0))
    matched = [c for c in candidates if c["matched"]]
    fixable = [c for c in matched if c["remediate"]]
    if strategy == "sequential":
        causes = fixable
    else:
        best = max(matched, key=lambda c: c["score"], default=None)
        causes = [best] if best is not None and best["remediate"] else []
    top = max((c["score"] for c in matched), default=0.0)
    held = sum(1 for r in match_report if r["ok"])
    confirm = held / len(match_report) if match_report else 1.0
    evidence_match = round(top * confirm, 4)
    confidence = round(evidence_match * prior_value * cap, 4)
    reasons: List[str] = []

    if forced:
        verdict = "escalate"
        reasons.extend(forced)
    elif not matched:
        verdict = "escalate"
        reasons.append("no cause matched the evidence")
    elif not causes:
        verdict = "escalate"
        names = ", ".join(c["cause"] for c in matched)
        reasons.append("cause %s has no automatic fix" % names)
    elif confidence < policy.suggest_threshold:
        verdict = "escalate"
        reasons.append("confidence %.2f below suggest threshold %.2f"
                       % (confidence, policy.suggest_threshold))
    elif mode == "shadow":
        verdict = "shadow"
        reasons.append("runbook is in shadow mode: dry-run only")
    elif mode == "suggest":
        verdict = "suggest"
        reasons.append("runbook is in suggest mode: a human approves")
    elif RISKS.index(risk) > RISKS.index(policy.max_auto_risk):
        verdict = "suggest"
        reasons.append("risk %s above the automatic limit %s" % (risk, policy.max_auto_risk))
    elif confidence >= policy.auto_threshold and not policy.allow_auto:
        verdict = "suggest"
        reasons.append("confidence %.2f >= auto threshold %.2f, but %s"
                       % (confidence, policy.auto_threshold,
                          policy.auto_blocked or "automatic fixes are not allowed now"))
    elif confidence >= policy.auto_threshold:
        verdict = "auto"
        reasons.append("confidence %.2f >= auto threshold %.2f"
                       % (confidence, policy.auto_threshold))
    else:
        verdict = "suggest"
        reasons.append("confidence %.2f between suggest %.2f and auto %.2f thresholds"
                       % (confidence, policy.suggest_threshold, policy.auto_threshold))
    if causes and verdict != "escalate":
        reasons.insert(0, "cause: %s" % ", ".join(c["cause"] for c in causes))
    failed = [r["condition"] for r in match_report if not r["ok"]]
    if failed:
        reasons.append("runbook match evidence did not hold: %s" % "; ".join(failed))
    thresholds = label_thresholds(candidates, match_report)
    reasons.extend(dict.fromkeys(t["why"] for t in thresholds))
    return {
        "verdict": verdict, "runbook": runbook.get("id"), "confidence": confidence,
        "evidence_match": evidence_match, "match_confirmation": match_report,
        "prior": prior_value, "prior_known": prior is not None, "risk": risk,
        "risk_cap": cap, "mode": mode, "strategy": strategy,
        "thresholds": {"auto": policy.auto_threshold, "suggest": policy.suggest_threshold,
                       "max_auto_risk": policy.max_auto_risk},
        "causes": [c["cause"] for c in causes], "reasons": reasons,
        "dry_run": policy.dry_run, "label_thresholds": thresholds,
    }


def label_thresholds(candidates: List[Dict[str, Any]],
                     match_report: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Each condition whose threshold an alert label set: the condition as evaluated,
    the label's value, the runbook's own, the one used and why (one entry per text)."""
    out: List[Dict[str, Any]] = []
    seen = set()
    reports = [("match.evidence", r) for r in match_report]
    reports += [("cause %s" % c["cause"], r) for c in candidates for r in c.get("report", [])]
    for where, row in reports:
        note = row.get("threshold")
        if not note or (where, row["condition"]) in seen:
            continue
        seen.add((where, row["condition"]))
        given = list(note["labels"].values())
        out.append({"where": where, "condition": row["condition"], "labels": note["labels"],
                    "label_value": given[0] if len(given) == 1 else given,
                    "runbook": note["runbook"], "used": note["used"],
                    "label_used": note["label_used"], "why": note["why"]})
    return out
