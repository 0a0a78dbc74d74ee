"""The morning digest is queued once a day, when the quiet hours end."""

from __future__ import annotations

from datetime import UTC, datetime

from ccm_tui.hub.base import Hub
from ccm_tui.notify.digest import maybe_queue_digest, morning_of
from tests.fakes.fake_slack import FakeSlack
from tests.functional.notify.conftest import notify_settings


async def test_digest_once_a_day_after_quiet_hours(nhub: Hub, fake_slack: FakeSlack) -> None:
    settings = notify_settings(sl=fake_slack, quiet_hours="22:00-07:00", quiet_timezone="UTC")
    night = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    morning = datetime(2026, 11, 27, 7, 5, tzinfo=UTC)
    assert morning_of(settings, night) == datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
    assert not await maybe_queue_digest(nhub, settings, night)
    assert await maybe_queue_digest(nhub, settings, morning)
    assert not await maybe_queue_digest(nhub, settings, morning)  # once per day
    [msg] = [m for m in await nhub.list_outbox() if m.channel == "slack"]
    assert msg.dedup_key == "slack:digest:2026-11-27"
    text = str(msg.payload)
    assert "Fixed automatically" in text and "Pages avoided" in text
