"""The disk forecast after a cleanup: the growth before it says nothing of the disk after.

Before, a disk that filled 3 %/h to 89 % and was then cleaned to 30 % still read
"full in 5.0 h" (a fit across the drop), so DiskFillingUp kept firing — or fired
afresh — right after the fix that freed 70 % of it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ccm_tui.core.model import AlertStatus, HealthSnapshot
from ccm_tui.daemon.forecast import forecast_disks
from ccm_tui.daemon.health_rules import HealthRules, HostRules, evaluate

GB = 1_000_000_000
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def snap(minutes: float, used_share: float, total: int = 100 * GB) -> HealthSnapshot:
    used = int(used_share * total)
    return HealthSnapshot("web-01", T0 + timedelta(minutes=minutes), data={"mounts": [
        {"mount": "/", "total_bytes": total, "used_bytes": used, "free_bytes": total - used,
         "used_pct": round(100 * used_share, 1)}]})


def filling() -> list[HealthSnapshot]:
    """3 h at +12 %/h, from 50 % to 86 %, a sample every 15 min."""
    return [snap(15 * i, 0.50 + 0.03 * i) for i in range(13)]


def test_a_cleanup_starts_the_trend_afresh() -> None:
    history = filling()
    [before] = forecast_disks(history)
    assert before.hours_left < 2
    history.append(snap(15 * 13, 0.30))  # 56 % freed
    assert forecast_disks(history) == []
    # Growth resumes at 1 %/h: once the new trend is long enough, it alone counts.
    history += [snap(15 * 13 + 10 * i, 0.30 + 0.01 * i / 6) for i in range(1, 7)]
    [after] = forecast_disks(history)
    assert after.points == 7
    assert after.rate_bytes_per_hour == pytest.approx(1 * GB, rel=0.01)
    assert after.hours_left == pytest.approx(69, rel=0.02)


def test_small_drops_such_as_a_log_rotation_keep_the_trend() -> None:
    # +6 %/h with a 1 % drop every hour (a rotated log compressed): still filling up.
    history = [snap(10 * i, 0.40 + 0.01 * i - 0.01 * (i // 6)) for i in range(19)]
    [fc] = forecast_disks(history)
    assert fc.points == 19 and 0 < fc.hours_left < 20


def test_disk_filling_up_resolves_when_the_disk_is_cleaned() -> None:
    rules, state = HealthRules(), HostRules("web-01", HealthRules())
    history: list[HealthSnapshot] = []
    sent: list[tuple[str, AlertStatus]] = []
    for s in [*filling(), snap(15 * 13, 0.30), snap(15 * 14, 0.31)]:
        history.append(s)
        ev = evaluate(s, history, rules, state.firing_keys())
        sent += [(a.alertname, a.status) for a in state.update(ev, s.taken_at)
                 if a.alertname == "DiskFillingUp"]
    assert sent == [("DiskFillingUp", AlertStatus.FIRING), ("DiskFillingUp", AlertStatus.RESOLVED)]


def test_a_shrinking_disk_has_no_forecast() -> None:
    history = [snap(10 * i, 0.80 - 0.01 * i) for i in range(12)]
    assert forecast_disks(history) == []
