"""PagerDuty Events API v2: trigger on escalation, acknowledge when taken, resolve.

One incident per task: every event carries ``dedup_key = "ccm-<task id>"``, so a
repeated trigger updates the same incident, and ``acknowledge``/``resolve`` reach it.
The wire body (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/)::

    {"routing_key": "<32 chars>", "event_action": "trigger", "dedup_key": "ccm-t-…",
     "payload": {"summary": "…", "source": "<host>", "severity": "critical",
                 "timestamp": "…", "component": "<alertname>", "group": "<host group>",
                 "class": "<runbook or alertname>", "custom_details": {…findings…}},
     "client": "CCM", "client_url": "<transcript link, when it is a URL>"}

``acknowledge`` and ``resolve`` carry only ``routing_key``, ``event_action`` and
``dedup_key``. The routing key is **not** stored in the hub's outbox: the worker adds
it from the settings at send time, so the hub never holds the secret.
"""

from __future__ import annotations

from typing import Any

from ccm_tui.core.model import utcnow
from ccm_tui.core.records import OutboxMessage
from ccm_tui.notify.delivery import Dead, Outcome, post_json
from ccm_tui.notify.facts import IncidentFacts, findings_dict

CHANNEL = "pagerduty"
DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"
ACTIONS = ("trigger", "acknowledge", "resolve")
#: CCM severity → PagerDuty's (critical, error, warning, info).
SEVERITIES = {"critical": "critical", "warning": "warning", "info": "info"}
MAX_SUMMARY = 1024


def incident_key(task_id: str) -> str:
    """The PagerDuty ``dedup_key`` of a task's incident."""
    return f"ccm-{task_id}"


def outbox_key(task_id: str, action: str, suffix: str = "") -> str:
    """The outbox ``dedup_key``: one notification per (task, action)."""
    return f"pd:{task_id}:{action}{':' + suffix if suffix else ''}"


def trigger_event(facts: IncidentFacts, *, timestamp: str | None = None) -> dict[str, Any]:
    """The body of a ``trigger`` for an escalated task (without ``routing_key``)."""
    summary = f"[{facts.severity.upper()}] {facts.alertname} on {facts.host}: " + (
        facts.cause or facts.summary or facts.outcome or "escalated by CCM")
    body: dict[str, Any] = {
        "event_action": "trigger",
        "dedup_key": incident_key(facts.task_id),
        "payload": {
            "summary": summary[:MAX_SUMMARY],
            "source": facts.host,
            "severity": SEVERITIES.get(facts.severity, "error"),
            "timestamp": timestamp or utcnow().isoformat(),
            "component": facts.alertname,
            "group": facts.host_group,
            "class": facts.runbook or facts.alertname,
            "custom_details": findings_dict(facts),
        },
        "client": "CCM",
    }
    if facts.transcript.startswith(("https://", "http://")):
        body["client_url"] = facts.transcript
        body["links"] = [{"href": facts.transcript, "text": "CCM transcript"}]
    return body


def follow_up_event(task_id: str, action: str) -> dict[str, Any]:
    """The body of an ``acknowledge`` or ``resolve`` (without ``routing_key``)."""
    if action not in ("acknowledge", "resolve"):
        raise ValueError(f"not a follow-up action: {action!r}")
    return {"event_action": action, "dedup_key": incident_key(task_id)}


def wire_body(payload: dict[str, Any], routing_key: str) -> dict[str, Any]:
    """The exact JSON sent: the stored event with the routing key put first."""
    event = dict(payload["body"])
    return {"routing_key": routing_key, **event}


class PagerDutySender:
    """Sends ``pagerduty`` outbox messages to the Events API, one POST per message."""

    def __init__(self, session: Any, *, routing_key: str | None, url: str = DEFAULT_URL,
                 timeout: float = 15.0) -> None:
        self.session = session
        self.routing_key = routing_key
        self.url = url
        self.timeout = timeout

    async def deliver(self, messages: list[OutboxMessage]) -> dict[int, Outcome]:
        """POST each event in order; stop nothing on a failure (each has its own outcome)."""
        out: dict[int, Outcome] = {}
        for m in messages:
            if not self.routing_key:
                out[m.id] = Dead("pagerduty is not configured (notify.pagerduty_routing_key)")
                continue
            out[m.id] = await post_json(self.session, self.url,
                                        wire_body(m.payload, self.routing_key),
                                        timeout=self.timeout)
        return out


__all__ = ["CHANNEL", "DEFAULT_URL", "PagerDutySender", "follow_up_event", "incident_key",
           "outbox_key", "trigger_event", "wire_body"]
