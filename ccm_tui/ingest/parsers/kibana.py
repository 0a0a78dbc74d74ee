"""Kibana alerting, through its Webhook connector with CCM's documented body.

Kibana lets the rule's action template the webhook body; set it to::

    {
      "rule":   {"id": "{{rule.id}}", "name": "{{rule.name}}", "tags": "{{rule.tags}}"},
      "alert":  {"id": "{{alert.id}}", "actionGroup": "{{alert.actionGroup}}",
                 "flapping": "{{alert.flapping}}"},
      "context": {"title": "{{context.title}}", "message": "{{context.message}}"},
      "date": "{{date}}",
      "severity": "critical",
      "labels": {"host": "{{alert.id}}"}
    }

``rule.name`` becomes the alert name; the host comes from ``labels.host`` (for a rule
grouped by ``host.name``, ``alert.id`` is the host); ``actionGroup: "recovered"``
resolves. The fingerprint is derived from the rule id and the alert id.
"""

from __future__ import annotations

from typing import Any

from ccm_tui.core.errors import PayloadError
from ccm_tui.core.model import AlertStatus, Severity
from ccm_tui.ingest.parsers import ParsedAlert, ParseResult
from ccm_tui.ingest.parsers.common import (
    fingerprint_of,
    host_candidates,
    need_object,
    need_str,
    parse_time,
    string_map,
    type_name,
)

RECOVERED = {"recovered", "resolved", "ok"}


def _tags(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(need_str(v, "rule.tags[]", limit=128) for v in value)
    if isinstance(value, str):
        return need_str(value[:1024], "rule.tags", limit=1024, required=False)
    raise PayloadError(f"rule.tags: expected a list or a string, got {type_name(value)}",
                       reason="schema", status=422)


def parse(doc: Any) -> ParseResult:
    """One Kibana action run: one alert."""
    body = need_object(doc, "body")
    rule = need_object(body.get("rule"), "rule")
    alert = need_object(body.get("alert") or {}, "alert")
    context = need_object(body.get("context") or {}, "context")
    rule_id = need_str(rule.get("id"), "rule.id", limit=256)
    name = need_str(rule.get("name"), "rule.name", limit=256)
    alert_id = need_str(alert.get("id"), "alert.id", limit=256, required=False)
    group = need_str(alert.get("actionGroup"), "alert.actionGroup", limit=64, required=False)
    status_text = need_str(body.get("status"), "status", limit=32, required=False).lower()
    resolved = group.lower() in RECOVERED or status_text in RECOVERED
    if status_text and status_text not in RECOVERED | {"firing", "active"}:
        raise PayloadError(f"status: {status_text!r} is neither 'firing' nor 'recovered'",
                           reason="schema", status=422)
    labels = string_map(body.get("labels"), "labels")
    labels.setdefault("alertname", name)
    tags = _tags(rule.get("tags"))
    if tags:
        labels.setdefault("tags", tags)
    if alert_id and not any(k in labels for k in ("host", "hostname", "instance")):
        labels["host"] = alert_id
    severity_text = need_str(body.get("severity"), "severity", limit=32, required=False)
    if severity_text:
        labels.setdefault("severity", severity_text)
    annotations = {
        k: v for k, v in (
            ("summary", need_str(context.get("title"), "context.title", limit=4096,
                                 required=False)),
            ("description", need_str(context.get("message"), "context.message",
                                     limit=16 * 1024, required=False)),
        ) if v
    }
    when = parse_time(body.get("date"), "date")
    parsed = ParsedAlert(
        source="kibana",
        status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
        alertname=name,
        labels=labels,
        annotations=annotations,
        starts_at=when,
        ends_at=when if resolved else None,
        fingerprint=fingerprint_of({"rule": rule_id, "alert": alert_id}),
        severity=Severity.parse(severity_text or labels.get("severity")),
        hosts=tuple(host_candidates(labels)),
    )
    return ParseResult(alerts=[parsed])
