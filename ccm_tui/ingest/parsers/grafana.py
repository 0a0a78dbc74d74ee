"""Grafana unified alerting's webhook payload (``version: "1"``; same alert shape as Alertmanager).

Signature checking (``X-Grafana-Alerting-Signature``) happens in the receiver,
on the raw body, before this parser runs.
"""

from __future__ import annotations

from typing import Any

from ccm_tui.ingest.parsers import ParseResult
from ccm_tui.ingest.parsers.alertmanager import parse_group


def parse(doc: Any) -> ParseResult:
    """Grafana unified alerting webhook."""
    return parse_group("grafana", doc, versions=("1",))
