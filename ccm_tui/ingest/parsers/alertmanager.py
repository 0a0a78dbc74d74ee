"""Prometheus Alertmanager's webhook payload, version 4 (see ``shared/samples``)."""

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

_STATUSES = {s.value: s for s in AlertStatus}


def parse_status(value: Any, where: str) -> AlertStatus:
    if value.__class__ is str and value in _STATUSES:
        return _STATUSES[value]
    text = need_str(value, where, limit=32)
    try:
        return AlertStatus(text)
    except ValueError:
        raise PayloadError(f"{where}: {text!r} is neither 'firing' nor 'resolved'",
                           reason="schema", status=422) from None


def parse_alert(source: str, raw: Any, where: str) -> ParsedAlert:
    """One alert object of the Alertmanager/Grafana shape."""
    obj = need_object(raw, where)
    labels = string_map(obj.get("labels"), f"{where}.labels")
    alertname = labels.get("alertname", "")
    if not alertname.strip():
        raise PayloadError(f"{where}.labels: no alertname label", reason="schema", status=422)
    annotations = string_map(obj.get("annotations"), f"{where}.annotations", annotations=True)
    fp = need_str(obj.get("fingerprint"), f"{where}.fingerprint", limit=128, required=False)
    return ParsedAlert(
        source=source,
        status=parse_status(obj.get("status"), f"{where}.status"),
        alertname=need_str(alertname, f"{where}.labels.alertname"),
        labels=labels,
        annotations=annotations,
        starts_at=parse_time(obj.get("startsAt"), f"{where}.startsAt"),
        ends_at=parse_time(obj.get("endsAt"), f"{where}.endsAt"),
        fingerprint=fp or fingerprint_of(labels),
        severity=Severity.parse(labels.get("severity")),
        hosts=tuple(host_candidates(labels)),
        generator_url=need_str(obj.get("generatorURL"), f"{where}.generatorURL", limit=2048,
                               required=False),
    )


def parse_group(source: str, doc: Any, *, versions: tuple[str, ...]) -> ParseResult:
    """A notification group: ``{"version": …, "alerts": [...]}``."""
    body = need_object(doc, "body")
    version = body.get("version")
    if version is not None and str(version) not in versions:
        raise PayloadError(f"payload version {str(version)[:20]!r} is not supported "
                           f"(expected {' or '.join(versions)})", reason="version", status=422)
    if "alerts" not in body:
        raise PayloadError("body: no 'alerts' list", reason="schema", status=422)
    result = ParseResult(truncated=_truncated(body.get("truncatedAlerts")))
    for i, raw in enumerate(need_list(body["alerts"], "alerts")):
        try:
            result.alerts.append(parse_alert(source, raw, f"alerts[{i}]"))
        except PayloadError as exc:
            result.rejected.append((i, exc))
    return result


def _truncated(value: Any) -> int:
    """How many alerts the sender left out; informational, so a bad value counts as 0
    rather than refusing the alerts that did arrive."""
    if value.__class__ is int and value > 0:
        return min(int(value), 10**9)
    return 0


def parse(doc: Any) -> ParseResult:
    """Alertmanager webhook (``version: "4"``)."""
    return parse_group("alertmanager", doc, versions=("4",))
