"""Routing (who is told what), and summaries to other channels through apprise.

**Routing.** An escalation pages (PagerDuty) only when its alert is at least
``notify.page_min_severity`` and its host group is in ``notify.page_groups`` (empty:
every group). So with ``page_groups = ["db"]`` a database escalation wakes someone
up while a worker's goes to Slack and waits for the morning. Everything is posted
to Slack when Slack is configured; summaries and the digest also go to every
``notify.apprise_urls`` (Teams, email, ntfy, Discord… — see apprise's URL list).

**Apprise** delivers synchronously and reports only success or failure, so a
failure is retried with backoff until ``max_attempts``, then given up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from ccm_tui.config import NotifySettings
from ccm_tui.core.model import Severity
from ccm_tui.core.records import OutboxMessage
from ccm_tui.notify.delivery import Dead, Delivered, Outcome, Retry

CHANNEL = "apprise"
_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


def should_page(settings: NotifySettings, severity: Severity | str, host_group: str) -> bool:
    """Whether an escalation of this severity on this host group pages on-call."""
    if settings.pagerduty_routing_key is None:
        return False
    if _RANK[Severity(severity)] < _RANK[Severity(settings.page_min_severity)]:
        return False
    return not settings.page_groups or host_group in settings.page_groups


def enabled_channels(settings: NotifySettings) -> set[str]:
    """The channels that have what they need to deliver."""
    out = set()
    if settings.pagerduty_routing_key is not None:
        out.add("pagerduty")
    if settings.slack_webhook_url is not None:
        out.add("slack")
    if settings.grafana_url:
        out.add("grafana")
    if settings.apprise_urls:
        out.add("apprise")
    return out


def apprise_body(title: str, body: str, kind: str = "info") -> dict[str, Any]:
    """What an apprise outbox message stores: title, Markdown body, type."""
    return {"title": title[:250], "body": body, "type": kind}


class AppriseSender:
    """Sends ``apprise`` outbox messages to every configured apprise URL."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = list(urls)

    def _send(self, body: dict[str, Any]) -> bool:
        import apprise

        ap = apprise.Apprise()
        for url in self.urls:
            ap.add(url)
        kind = {"failure": apprise.NotifyType.FAILURE, "warning": apprise.NotifyType.WARNING,
                "success": apprise.NotifyType.SUCCESS}.get(body.get("type", ""),
                                                          apprise.NotifyType.INFO)
        return bool(ap.notify(body=body["body"], title=body.get("title", ""), notify_type=kind,
                              body_format=apprise.NotifyFormat.MARKDOWN))

    async def deliver(self, messages: list[OutboxMessage]) -> dict[int, Outcome]:
        """One notify call per message (apprise fans it out to each URL)."""
        out: dict[int, Outcome] = {}
        for m in messages:
            if not self.urls:
                out[m.id] = Dead("apprise is not configured (notify.apprise_urls)")
                continue
            ok = await asyncio.to_thread(self._send, m.payload["body"])
            out[m.id] = Delivered("apprise ok") if ok else Retry("apprise reported a failure")
        return out


__all__ = ["CHANNEL", "AppriseSender", "apprise_body", "enabled_channels", "should_page"]
