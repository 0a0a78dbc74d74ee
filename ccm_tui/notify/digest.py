"""The morning digest: once a day, when the quiet hours end (else at 08:00 local), the
last night's report goes to Slack and apprise — what was fixed, what waits, what
escalated, MTTR, pages avoided.

Queued through the outbox with the day as its dedup key, so several workers (or a
restart) never send it twice.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from ccm_tui.config import NotifySettings
from ccm_tui.core.text import duration
from ccm_tui.hub.base import Hub
from ccm_tui.notify.hooks import enqueue_digest
from ccm_tui.notify.quiet import quiet_hours
from ccm_tui.notify.report import MorningReport, build_report

DEFAULT_MORNING = time(8, 0)


def morning_of(settings: NotifySettings, now: datetime) -> datetime:
    """Today's digest time, in ``now``'s time zone."""
    quiet = quiet_hours(settings)
    at = quiet.end if quiet is not None else DEFAULT_MORNING
    tz = quiet.tz if quiet is not None and quiet.tz is not None else None
    local = now.astimezone(tz) if tz is not None else now.astimezone()
    return datetime.combine(local.date(), at, tzinfo=local.tzinfo).astimezone(now.tzinfo)


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else duration(seconds, fine=True)


def digest_figures(r: MorningReport) -> tuple[list[tuple[str, str]], list[str]]:
    """The digest's figures and notes from a report."""
    figures = [
        ("Fixed automatically", str(len(r.fixed_automatically))),
        ("Fixed with approval", str(len(r.fixed_with_approval))),
        ("Waiting for you", str(len(r.waiting))),
        ("Escalated", str(len(r.escalated))),
        ("Failed", str(len(r.failed))),
        ("MTTR median / p90", f"{_minutes(r.mttr_median_seconds)} / "
                              f"{_minutes(r.mttr_p90_seconds)}"),
        ("Alerts received", str(r.alerts_received)),
        ("Pages avoided", f"{r.pages_avoided} (sent {r.pages_sent} of {r.pages_without_ccm}"
                          f"{f'; {r.pages_pending} still open' if r.pages_pending else ''})"),
    ]
    notes = [f"waiting: {t.host} {t.alertname} ({t.id})" for t in r.waiting[:5]]
    notes += [f"escalated: {t.host} {t.alertname} ({t.id})" for t in r.escalated[:5]]
    notes += [f"disk on {d.host} full in {d.hours_to_full:.0f} h ({d.disk_pct:.0f}% now)"
              for d in r.disk_forecasts[:3]]
    notes += [f"silence in force: {x.matchers} until {x.ends_at:%Y-%m-%d %H:%M} UTC"
              + (f" ({x.reason})" if x.reason else "") for x in r.silences[:3]]
    return figures, notes


async def maybe_queue_digest(hub: Hub, settings: NotifySettings, now: datetime) -> bool:
    """Queue today's digest if its time has come and it is not queued yet."""
    morning = morning_of(settings, now)
    if now < morning:
        return False
    report = await build_report(hub, since=morning - timedelta(hours=12), until=morning)
    figures, notes = digest_figures(report)
    day = morning.astimezone().strftime("%Y-%m-%d")
    keys = await enqueue_digest(hub, f"CCM morning summary — {day}", figures, notes, day=day,
                                settings=settings)
    return bool(keys)
