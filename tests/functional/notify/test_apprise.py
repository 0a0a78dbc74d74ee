"""Summaries through apprise (here its json:// target, a loopback fake), with retries."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp

from ccm_tui.hub.base import Hub
from ccm_tui.notify.digest import maybe_queue_digest
from ccm_tui.notify.outbox import OutboxWorker, default_senders
from tests.fakes.fake_json_webhook import FakeJsonWebhook
from tests.functional.notify.conftest import PAST, notify_settings


async def test_digest_reaches_apprise_and_a_500_is_retried(
        nhub: Hub, fake_json: FakeJsonWebhook) -> None:
    settings = notify_settings(apprise_urls=[fake_json.apprise_url], quiet_timezone="UTC")
    assert await maybe_queue_digest(nhub, settings, datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    fake_json.script(500)
    async with aiohttp.ClientSession() as session:
        # The worker's clock runs an hour behind, so the retry is due at once.
        worker = OutboxWorker(nhub, settings, default_senders(settings, session),
                              clock=lambda: PAST)
        await worker.run_once()
        [msg] = await nhub.list_outbox()
        assert msg.state.value == "pending" and msg.attempts == 1
        await worker.run_once()
    [msg] = await nhub.list_outbox()
    assert msg.state.value == "sent"
    posted = [r.body for r in fake_json.requests if r.body]
    assert posted and "CCM morning summary" in posted[-1]["title"]
    assert "Pages avoided" in posted[-1]["message"]
