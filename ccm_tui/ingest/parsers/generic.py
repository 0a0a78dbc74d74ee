"""CCM's generic alert schema, for scripts, cron jobs and anything else.

Either one alert object or ``{"alerts": [ … ]}``. An alert::

    {
      "name": "BackupFailed",          # required
      "host": "db-01",                 # the server it concerns
      "status": "firing",              # or "resolved" (default "firing")
      "severity": "critical",          # critical / warning / info (default warning);
                                       # synonyms such as page, P1, error, low are read,
                                       # any other word is refused
      "summary": "nightly backup failed",
      "description": "pg_dump exited 1",
      "labels": {"job": "backup"},     # extra labels (strings)
      "annotations": {},               # extra annotations (strings)
      "starts_at": "2026-11-27T02:00:00Z",
      "fingerprint": "backup-db-01"    # optional; derived from the labels if absent
    }
"""

from __future__ import annotations

from typing import Any

from ccm_tui.core.errors import PayloadError
from ccm_tui.core.model import AlertStatus, Severity
from ccm_tui.ingest.parsers import ParsedAlert, ParseResult
from ccm_tui.ingest.parsers.common import (
    fingerprint_of,
    host_candidates,
    need_list,
    need_object,
    need_str,
    parse_time,
    string_map,
)

#: Words read as warning. Severity.parse takes any word it does not know as warning (right
#: for free-text labels); this schema documents its values, so an unknown one is refused.
WARNING_WORDS = frozenset({"warning", "warn", "medium", "p2", "p3"})

FIELDS = {"name", "host", "status", "severity", "summary", "description", "labels",
          "annotations", "starts_at", "startsAt", "ends_at", "endsAt", "fingerprint"}


def parse_one(raw: Any, where: str) -> ParsedAlert:
    obj = need_object(raw, where)
    unknown = sorted(set(obj) - FIELDS)
    if unknown:
        raise PayloadError(f"{where}: unknown field(s) {', '.join(k[:40] for k in unknown[:5])}",
                           reason="schema", status=422)
    name = need_str(obj.get("name"), f"{where}.name")
    labels = string_map(obj.get("labels"), f"{where}.labels")
    labels["alertname"] = name
    host = need_str(obj.get("host"), f"{where}.host", required=False)
    if host:
        labels["host"] = host
    severity = need_str(obj.get("severity"), f"{where}.severity", limit=32, required=False)
    if severity:
        labels["severity"] = severity
    level = parse_severity(severity, f"{where}.severity")
    status_text = need_str(obj.get("status"), f"{where}.status", limit=32,
                           required=False) or "firing"
    try:
        status = AlertStatus(status_text)
    except ValueError:
        raise PayloadError(f"{where}.status: {status_text!r} is neither 'firing' nor 'resolved'",
                           reason="schema", status=422) from None
    annotations = string_map(obj.get("annotations"), f"{where}.annotations", annotations=True)
    for key in ("summary", "description"):
        text = need_str(obj.get(key), f"{where}.{key}", limit=16 * 1024, required=False)
        if text:
            annotations[key] = text
    fp = need_str(obj.get("fingerprint"), f"{where}.fingerprint", limit=128, required=False)
    return ParsedAlert(
        source="generic",
        status=status,
        alertname=name,
        labels=labels,
        annotations=annotations,
        starts_at=parse_time(obj.get("starts_at", obj.get("startsAt")), f"{where}.starts_at"),
        ends_at=parse_time(obj.get("ends_at", obj.get("endsAt")), f"{where}.ends_at"),
        fingerprint=fp or fingerprint_of(labels),
        severity=level,
        hosts=tuple(host_candidates(labels)),
    )


def parse_severity(text: str, where: str) -> Severity:
    """``critical``, ``warning`` or ``info`` (any case, or a synonym :meth:`Severity.parse`
    knows, such as ``page`` or ``P1``); absent means warning, any other word is refused."""
    if not text:
        return Severity.WARNING
    level = Severity.parse(text)
    if level is Severity.WARNING and text.strip().lower() not in WARNING_WORDS:
        raise PayloadError(f"{where}: {text!r} is not a severity; use critical, warning or info",
                           reason="schema", status=422)
    return level


def parse(doc: Any) -> ParseResult:
    """The generic schema: one alert, or ``{"alerts": [...]}``."""
    body = need_object(doc, "body")
    if "alerts" not in body:
        return ParseResult(alerts=[parse_one(body, "body")])
    result = ParseResult()
    for i, raw in enumerate(need_list(body["alerts"], "alerts")):
        try:
            result.alerts.append(parse_one(raw, f"alerts[{i}]"))
        except PayloadError as exc:
            result.rejected.append((i, exc))
    return result
