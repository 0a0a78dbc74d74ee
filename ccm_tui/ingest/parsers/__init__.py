"""One parser per alert source, each turning a decoded JSON document into alerts.

A structural error (not an object, no alert list) raises ``PayloadError`` for the
whole request; an invalid alert inside a valid document is rejected on its own,
with its index and reason, so one bad alert never loses its neighbours.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ccm_tui.core.errors import PayloadError
from ccm_tui.core.model import AlertStatus, Severity


@dataclass(frozen=True, slots=True)
class ParsedAlert:
    """An alert as a source described it, before it is matched to a host."""

    source: str
    status: AlertStatus
    alertname: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None
    ends_at: datetime | None
    fingerprint: str
    severity: Severity
    hosts: tuple[str, ...] = ()
    generator_url: str = ""


@dataclass(slots=True)
class ParseResult:
    """The alerts a document held, the ones rejected (index, error), and how many the
    sender left out (Alertmanager's and Grafana's ``truncatedAlerts``, from ``max_alerts``)."""

    alerts: list[ParsedAlert] = field(default_factory=list)
    rejected: list[tuple[int, PayloadError]] = field(default_factory=list)
    truncated: int = 0


Parser = Callable[[Any], ParseResult]


def parsers() -> dict[str, Parser]:
    """Endpoint name → parser."""
    from ccm_tui.ingest.parsers import alertmanager, generic, grafana, kibana

    return {
        "alertmanager": alertmanager.parse,
        "grafana": grafana.parse,
        "kibana": kibana.parse,
        "generic": generic.parse,
    }


SOURCES = ("alertmanager", "grafana", "kibana", "generic")
