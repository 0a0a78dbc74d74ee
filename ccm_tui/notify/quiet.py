"""Quiet hours: what may wake someone at night, and what waits for the morning.

A fix CCM only *suggests* (medium confidence, waiting for one-key approval) that
arrives inside ``notify.quiet_hours`` is held: its Slack message is delivered when
quiet hours end, and dropped if someone dealt with the task before then. When the
alert is **critical**, an escalation timer starts too: if the task is still unfixed
``notify.escalate_after_minutes`` later, it pages (PagerDuty) after all.

Outside quiet hours the suggestion is posted at once, and nothing is timed.
Escalations are not held: an escalation already means a human is needed now, and
routing (:func:`ccm_tui.notify.channels.should_page`) decides who is woken.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from ccm_tui.config import NotifySettings
from ccm_tui.core.model import Severity


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily local-time window, which may wrap midnight (``22:00-07:00``)."""

    start: time
    end: time
    tz: tzinfo | None = None

    @classmethod
    def parse(cls, text: str, tz: str | tzinfo | None = None) -> QuietHours:
        """``HH:MM-HH:MM`` in time zone ``tz`` (an IANA name; ``None``: local time)."""
        a, _, b = text.strip().partition("-")
        zone = ZoneInfo(tz) if isinstance(tz, str) else tz
        return cls(time.fromisoformat(a), time.fromisoformat(b), zone)

    def _local(self, when: datetime) -> datetime:
        return when.astimezone(self.tz) if self.tz is not None else when.astimezone()

    def contains(self, when: datetime) -> bool:
        """Whether ``when`` (an aware datetime) falls in the window."""
        t = self._local(when).time().replace(tzinfo=None)
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def ends_after(self, when: datetime) -> datetime:
        """When the window that contains ``when`` ends (``when`` itself if outside)."""
        if not self.contains(when):
            return when
        local = self._local(when)
        end = datetime.combine(local.date(), self.end, tzinfo=local.tzinfo)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(when.tzinfo)


@dataclass(frozen=True, slots=True)
class SuggestionPlan:
    """When to tell about a suggestion: post at ``notify_at``; page at ``page_at`` if unfixed."""

    notify_at: datetime
    page_at: datetime | None = None
    held: bool = False


def quiet_hours(settings: NotifySettings) -> QuietHours | None:
    """The configured window, or ``None``."""
    if not settings.quiet_hours:
        return None
    return QuietHours.parse(settings.quiet_hours, settings.quiet_timezone)


def plan_suggestion(settings: NotifySettings, severity: Severity | str,
                    now: datetime) -> SuggestionPlan:
    """Decide when a suggestion arriving at ``now`` is posted, and whether a timer runs."""
    window = quiet_hours(settings)
    if window is None or not window.contains(now):
        return SuggestionPlan(notify_at=now)
    page_at = None
    if Severity(severity) is Severity.CRITICAL:
        page_at = now + timedelta(minutes=settings.escalate_after_minutes)
    return SuggestionPlan(notify_at=window.ends_after(now), page_at=page_at, held=True)


__all__ = ["QuietHours", "SuggestionPlan", "plan_suggestion", "quiet_hours"]
