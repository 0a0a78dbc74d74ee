"""``ccm notify test CHANNEL``: one test message through the outbox, delivered now."""

from __future__ import annotations

import secrets
from typing import Any

from ccm_tui.config import NotifySettings
from ccm_tui.core.model import utcnow
from ccm_tui.hub.base import Hub
from ccm_tui.notify import pagerduty, slack
from ccm_tui.notify.channels import apprise_body
from ccm_tui.notify.facts import IncidentFacts


def _bodies(channel: str, tag: str) -> list[dict[str, Any]]:
    facts = IncidentFacts(task_id=f"test-{tag}", host="ccm-test", alertname="CCMTest",
                          severity="info", state="escalated", summary="a test from ccm",
                          transcript="ccm notify test")
    if channel == "pagerduty":
        return [pagerduty.trigger_event(facts),
                pagerduty.follow_up_event(facts.task_id, "resolve")]
    if channel == "slack":
        return [{"text": "CCM test message", "blocks": [
            slack.header("CCM test message"),
            slack.section("If you can read this, Slack notifications work.")]}]
    if channel == "grafana":
        return [{"tags": ["ccm", "ccm-test"], "text": "CCM test annotation",
                 "time": int(utcnow().timestamp() * 1000)}]
    return [apprise_body("CCM test message", "If you can read this, apprise works.")]


#: The setting each channel needs before it can deliver anything.
REQUIRED_SETTING = {"pagerduty": "pagerduty_routing_key", "slack": "slack_webhook_url",
                    "grafana": "grafana_url", "apprise": "apprise_urls"}


def missing_setting(settings: NotifySettings, channel: str) -> str | None:
    """The ``[notify]`` setting ``channel`` lacks (``None``: it is configured)."""
    name = REQUIRED_SETTING[channel]
    return None if getattr(settings, name) else name


async def send_test(hub: Hub, settings: NotifySettings, channel: str) -> dict[str, Any]:
    """Enqueue a test for ``channel``, run the worker once per message; return the result."""
    import aiohttp

    from ccm_tui.notify.outbox import OutboxWorker, default_senders

    tag = secrets.token_hex(4)
    keys = []
    for i, body in enumerate(_bodies(channel, tag)):
        key = f"test:{channel}:{tag}:{i}"
        await hub.enqueue(channel, {"v": 1, "task": None, "body": body, "kind": "test"},
                          dedup_key=key)
        keys.append(key)
    async with aiohttp.ClientSession() as session:
        # One attempt: a test that fails now is reported now, not retried hours later.
        once = settings.model_copy(update={"max_attempts": 1})
        worker = OutboxWorker(hub, once, default_senders(once, session),
                              batch=len(keys), lease_seconds=30)
        await worker.run_once()
    mine = [m for m in await hub.list_outbox(limit=50) if m.dedup_key in keys]
    worst = next((m for m in mine if m.state.value != "sent"), None)
    return {"channel": channel, "keys": keys,
            "state": worst.state.value if worst else "sent",
            "error": worst.last_error if worst else ""}


__all__ = ["REQUIRED_SETTING", "missing_setting", "send_test"]
