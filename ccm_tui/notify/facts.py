"""The facts of one incident, gathered once from the hub for every channel's message.

What fired, what the agent found, what it did (bytes freed, services restarted),
how long the fix took, and where the transcript is. Channels render these; they
never query the hub themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ccm_tui.core.model import ApprovalKind, DecisionKind, Event, Task
from ccm_tui.hub.base import Hub

MAX_EVIDENCE = 8


@dataclass(frozen=True, slots=True)
class IncidentFacts:
    """Everything a notification about one task says."""

    task_id: str
    host: str
    alertname: str
    severity: str
    state: str
    summary: str = ""
    host_group: str = "ungrouped"
    runbook: str = ""
    decision: str = ""
    confidence: float | None = None
    cause: str = ""
    reasons: tuple[str, ...] = ()
    evidence: tuple[tuple[str, str], ...] = ()
    actions: tuple[str, ...] = ()
    bytes_freed: int = 0
    services_restarted: tuple[str, ...] = ()
    verified: bool | None = None
    outcome: str = ""
    approved_by: str = ""
    time_to_fix: float | None = None
    transcript: str = ""
    findings: dict[str, Any] = field(default_factory=dict)

    @property
    def automatic(self) -> bool:
        """The fix ran without an operator's approval."""
        return not self.approved_by and self.decision == DecisionKind.AUTO.value

    @property
    def changed_anything(self) -> bool:
        """At least one action changed the host."""
        return bool(self.actions)

    def result_line(self) -> str:
        """``freed 1.2 GiB; restarted nginx`` or ``no change``."""
        parts = []
        if self.bytes_freed:
            parts.append(f"freed {human_bytes(self.bytes_freed)}")
        if self.services_restarted:
            parts.append("restarted " + ", ".join(self.services_restarted))
        return "; ".join(parts) or ("changed the host" if self.actions else "no change")


#: The facts that hold text (from the alert, the host, the agent, the operator).
TEXT_FIELDS = ("task_id", "host", "alertname", "severity", "state", "summary", "host_group",
               "runbook", "decision", "cause", "outcome", "approved_by", "transcript")
TEXT_TUPLES = ("reasons", "actions", "services_restarted")


def with_text(facts: IncidentFacts, escape: Callable[[str], str]) -> IncidentFacts:
    """The same facts with every text in them passed through ``escape`` once (a
    channel's markup escaping), numbers and the ``findings`` data left as they are."""
    changes: dict[str, Any] = {name: escape(getattr(facts, name)) for name in TEXT_FIELDS}
    changes.update({name: tuple(escape(v) for v in getattr(facts, name))
                    for name in TEXT_TUPLES})
    changes["evidence"] = tuple((escape(k), escape(v)) for k, v in facts.evidence)
    return replace(facts, **changes)


def human_bytes(n: int) -> str:
    """``1.2 GiB`` style size."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def transcript_pointer(task_id: str, template: str | None) -> str:
    """A link to the task's transcript, or the command that shows it."""
    if template:
        return template.replace("{task}", task_id)
    return f"ccm tasks show {task_id}"


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def facts_from(task: Task, events: list[Event], *, host_group: str = "ungrouped",
               approved_by: str = "", transcript_url: str | None = None,
               findings: dict[str, Any] | None = None) -> IncidentFacts:
    """Build the facts from a task and its transcript (pure; see :func:`gather`)."""
    evidence: list[tuple[str, str]] = []
    actions: list[str] = []
    restarted: list[str] = []
    freed = 0
    verified: bool | None = None
    for e in events:
        d = e.data
        if e.type == "evidence" and len(evidence) < MAX_EVIDENCE:
            name = str(d.get("name") or d.get("step") or d.get("action") or "evidence")
            evidence.append((name, _short(d.get("summary") or d.get("value") or d.get("data", ""))))
        elif e.type == "action" and not d.get("dry_run") and d.get("ok", True):
            actions.append(_short(d.get("summary") or d.get("action") or "action"))
            data = d.get("data") or {}
            freed += int(data.get("bytes_freed") or 0)
            if data.get("restarted"):
                restarted.append(str(data.get("name") or d.get("params", {}).get("name", "")))
        elif e.type == "verified":
            verified = bool(d.get("passed", d.get("ok", False)))
    dec = task.decision
    result = task.result or {}
    ttf = None
    if task.finished_at is not None:
        ttf = (task.finished_at - task.created_at).total_seconds()
    reasons = tuple(str(r) for r in (dec.reasons if dec else ()) or result.get("reasons") or ())
    return IncidentFacts(
        task_id=task.id, host=task.host, alertname=task.alertname,
        severity=task.severity.value, state=task.state.value, summary=task.summary,
        host_group=host_group, runbook=task.runbook or "",
        decision=dec.kind.value if dec else "", confidence=task.confidence,
        cause=(dec.cause if dec else "") or str(result.get("cause") or ""),
        reasons=reasons, evidence=tuple(evidence), actions=tuple(actions),
        bytes_freed=freed, services_restarted=tuple(r for r in restarted if r),
        verified=verified, outcome=task.outcome or "", approved_by=approved_by,
        time_to_fix=ttf, transcript=transcript_pointer(task.id, transcript_url),
        findings=dict(findings or {}),
    )


async def gather(hub: Hub, task: Task, *, transcript_url: str | None = None,
                 findings: dict[str, Any] | None = None) -> IncidentFacts:
    """Read the task's transcript, approvals and host group from the hub; build the facts."""
    from ccm_tui.core.errors import NotFound

    events = await hub.list_events(task.id)
    approvals = await hub.list_approvals(task.id)
    approved_by = next((a.actor for a in approvals if a.kind is ApprovalKind.APPROVE), "")
    try:
        group = (await hub.get_host(task.host)).group
    except NotFound:
        group = "ungrouped"
    return facts_from(task, events, host_group=group, approved_by=approved_by,
                      transcript_url=transcript_url, findings=findings)


def findings_dict(facts: IncidentFacts) -> dict[str, Any]:
    """The agent's findings as JSON data (PagerDuty ``custom_details``)."""
    out: dict[str, Any] = {
        "task": facts.task_id, "alert": facts.alertname, "host": facts.host,
        "host_group": facts.host_group, "state": facts.state,
        "transcript": facts.transcript,
    }
    optional: dict[str, Any] = {
        "runbook": facts.runbook, "decision": facts.decision, "confidence": facts.confidence,
        "cause": facts.cause, "reasons": list(facts.reasons),
        "evidence": {k: v for k, v in facts.evidence}, "actions_taken": list(facts.actions),
        "outcome": facts.outcome, "findings": facts.findings,
    }
    out.update({k: v for k, v in optional.items() if v not in (None, "", [], {})})
    return out


__all__ = ["IncidentFacts", "facts_from", "findings_dict", "gather", "human_bytes",
           "transcript_pointer", "with_text"]
