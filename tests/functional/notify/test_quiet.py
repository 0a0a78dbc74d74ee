"""Quiet hours: a night-time suggestion waits for the morning; a critical one still
unfixed after the escalation timer pages anyway."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ccm_tui.core.model import Severity
from ccm_tui.core.states import TaskState
from ccm_tui.hub.base import Hub
from ccm_tui.notify.hooks import on_task_suggested
from ccm_tui.notify.quiet import QuietHours, plan_suggestion
from tests.fakes.fake_pagerduty import FakePagerDuty
from tests.fakes.fake_slack import FakeSlack
from tests.functional.notify.conftest import make_task, notify_settings, run_worker

WAITING = (TaskState.CLAIMED, TaskState.DIAGNOSING, TaskState.AWAITING_APPROVAL)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_window_wraps_midnight() -> None:
    q = QuietHours.parse("22:00-07:00", "UTC")
    assert q.contains(utc("2026-11-27T23:30")) and q.contains(utc("2026-11-27T06:59"))
    assert not q.contains(utc("2026-11-27T07:00")) and not q.contains(utc("2026-11-27T12:00"))
    assert q.ends_after(utc("2026-11-27T23:30")) == utc("2026-11-28T07:00")
    assert q.ends_after(utc("2026-11-28T02:00")) == utc("2026-11-28T07:00")
    assert QuietHours.parse("22:00-07:00", "Europe/Berlin").contains(utc("2026-11-27T21:30"))


def test_plans() -> None:
    s = notify_settings(quiet_hours="22:00-07:00", quiet_timezone="UTC",
                        escalate_after_minutes=20)
    night = utc("2026-11-27T02:00")
    p = plan_suggestion(s, Severity.CRITICAL, night)
    assert (p.held, p.notify_at, p.page_at) == (True, utc("2026-11-27T07:00"),
                                                 night + timedelta(minutes=20))
    assert plan_suggestion(s, Severity.WARNING, night).page_at is None
    day = utc("2026-11-27T12:00")
    assert plan_suggestion(s, Severity.CRITICAL, day) == plan_suggestion(
        notify_settings(), Severity.CRITICAL, day)


async def test_night_suggestion_waits_and_the_timer_pages_if_unfixed(
        nhub: Hub, fake_pd: FakePagerDuty, fake_slack: FakeSlack) -> None:
    s = notify_settings(fake_pd, fake_slack, quiet_hours="22:00-07:00", quiet_timezone="UTC")
    night = utc("2026-11-27T02:00")
    still = await make_task(nhub, "db-01", "DiskFull", path=WAITING, runbook="disk-cleanup")
    fixed = await make_task(nhub, "web-01", "DiskFull", path=WAITING, runbook="disk-cleanup")
    for t in (still, fixed):
        assert await on_task_suggested(nhub, t, settings=s, now=night) == [
            f"slack:{t.id}:suggested", f"pd:{t.id}:timer"]
    await nhub.decide(fixed.id, "reject", actor="jordan")  # dealt with before the timer
    # 02:10: nothing is due yet (Slack waits for 07:00, the timer for 02:15).
    [r] = await run_worker(nhub, s, clock=night + timedelta(minutes=10))
    assert (r.deferred, r.sent) == (4, 0) and not fake_pd.requests and not fake_slack.requests
    # 02:16: the timer of the unfixed critical task pages; the other one is skipped.
    await run_worker(nhub, s, clock=night + timedelta(minutes=16))
    assert [e["dedup_key"] for e in fake_pd.events] == [f"ccm-{still.id}"]
    assert "still unfixed after 15 min" in fake_pd.events[0]["payload"]["summary"]
    skipped = {m.dedup_key: m for m in await nhub.list_outbox(state="dead")}
    assert skipped[f"pd:{fixed.id}:timer"].last_error.startswith("skipped:")
    # 07:00: the morning: the suggestion still waiting is posted, the rejected one is not.
    await run_worker(nhub, s, clock=utc("2026-11-27T07:00"))
    assert list(fake_slack.delivered) == [f"slack:{still.id}:suggested"]


async def test_day_suggestion_is_posted_at_once_without_timer(
        nhub: Hub, fake_pd: FakePagerDuty, fake_slack: FakeSlack) -> None:
    s = notify_settings(fake_pd, fake_slack, quiet_hours="22:00-07:00", quiet_timezone="UTC")
    task = await make_task(nhub, "db-01", "DiskFull", path=WAITING)
    assert await on_task_suggested(nhub, task, settings=s, now=utc("2026-11-27T12:00")) == [
        f"slack:{task.id}:suggested"]
