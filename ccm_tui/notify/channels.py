"""Routing (who is told what), and summaries to other channels through apprise.

**Routing.** An escalation pages (PagerDuty) only when its alert is at least
``notify.page_min_severity`` and its host group is in ``notify.page_groups`` (empty:
every group). So with ``page_groups = ["db"]`` a database escalation wakes someone
up while a worker's goes to Slack and waits for the morning. Everything is posted
to Slack when Slack is configured; summaries and the digest also go to every
``notify.apprise_urls`` (Teams, email, ntfy, Discord… — see apprise's URL list).

**Apprise** delivers synchronously and reports only success or failure, so a
failure is retried with backoff until ``max_attempts``, then given up. Its bodies are
declared Markdown (apprise turns them into HTML for email, Teams and the like, and
puts a title that a service cannot show apart at the top as a heading), so every value
from outside CCM in a title or body goes through :func:`~ccm_tui.core.markdown.md_text`
(:func:`~ccm_tui.core.markdown.md_line` where it starts a line): a ``*``, ``_``,
backtick, ``|``, ``[x](url)`` or ``<b>`` in a host or alert name shows as it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from ccm_tui.config import NotifySettings
from ccm_tui.core.markdown import md_line, md_text
from ccm_tui.core.model import Severity
from ccm_tui.core.records import OutboxMessage
from ccm_tui.core.text import duration
from ccm_tui.notify.delivery import Dead, Delivered, Outcome, Retry
from ccm_tui.notify.facts import IncidentFacts

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
    """What an apprise outbox message stores: title, Markdown body, type (both already
    Markdown: outside values escaped by the caller)."""
    return {"title": title[:250], "body": body, "type": kind}


def _on(f: IncidentFacts) -> str:
    return f"{md_text(f.alertname)} on {md_text(f.host)}"


def apprise_escalated(f: IncidentFacts) -> dict[str, Any]:
    """An escalation: what the task came to, the agent's reasons, the transcript."""
    text = "\n".join([md_line(f.outcome or f.summary), *(f"- {md_line(r)}" for r in f.reasons),
                      md_line(f.transcript)])
    return apprise_body(f"Escalated: {_on(f)}", text, "failure")


def apprise_cleared(f: IncidentFacts) -> dict[str, Any]:
    """An escalated task whose alert resolved upstream; CCM changed nothing."""
    return apprise_body(f"Cleared upstream: {_on(f)}",
                        "The alert resolved after the escalation; CCM changed nothing. "
                        f"{md_text(f.transcript)}", "info")


def apprise_resolved(f: IncidentFacts) -> dict[str, Any]:
    """A fix: its result, time to fix, runbook and transcript."""
    ttf = duration(f.time_to_fix, fine=True) if f.time_to_fix is not None else "-"
    runbook = md_text(f.runbook) if f.runbook else "no runbook"
    return apprise_body(f"Fixed: {_on(f)}", f"{md_line(f.result_line())} in {ttf} ({runbook}). "
                        f"{md_text(f.transcript)}", "success")


def apprise_digest(title: str, figures: list[tuple[str, str]],
                   notes: list[str]) -> dict[str, Any]:
    """The morning digest: figures in bold, then the notes (plain text, escaped here)."""
    text = "\n".join([*(f"- **{md_text(k)}**: {md_text(v)}" for k, v in figures),
                      *(f"- {md_line(n)}" for n in notes)])
    return apprise_body(md_text(title), text)


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


__all__ = ["CHANNEL", "AppriseSender", "apprise_body", "apprise_cleared", "apprise_digest",
           "apprise_escalated", "apprise_resolved", "enabled_channels", "should_page"]
