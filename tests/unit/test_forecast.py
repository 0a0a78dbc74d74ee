"""The disk-fill forecast (least squares, extended to capacity) and the health rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ccm_tui.core.model import AlertStatus, HealthSnapshot
from ccm_tui.daemon.forecast import forecast_disks, hours_until_full, linear_fit
from ccm_tui.daemon.health_rules import HealthRules, HostRules, evaluate, fingerprint

GB = 1_000_000_000
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def snap(minutes: float, used: int, total: int = 100 * GB, mount: str = "/",
         reachable: bool = True, **data: object) -> HealthSnapshot:
    mounts = [{"mount": mount, "total_bytes": total, "used_bytes": used,
               "free_bytes": total - used, "used_pct": round(100 * used / total, 1)}]
    return HealthSnapshot("web-01", T0 + timedelta(minutes=minutes), reachable=reachable,
                          data={"mounts": mounts, **data} if reachable else {"error": "down"})


def test_linear_fit_recovers_a_line() -> None:
    slope, intercept = linear_fit([(0, 5), (1, 7), (2, 9), (3, 11)]) or (0, 0)
    assert slope == pytest.approx(2) and intercept == pytest.approx(5)
    assert linear_fit([(1, 1)]) is None
    assert linear_fit([(1, 1), (1, 2)]) is None  # no spread in x


def test_hours_until_full_extends_the_trend_to_capacity() -> None:
    # 1 GB per hour, 50 GB used now, 100 GB capacity: 50 h left.
    points = [(h * 3600.0, (44 + h) * GB) for h in range(7)]
    assert hours_until_full(points, 100 * GB, 6 * 3600.0) == pytest.approx(50)
    # An hour later with no new sample, the trend says 49 h.
    assert hours_until_full(points, 100 * GB, 7 * 3600.0) == pytest.approx(49)
    # Past capacity already: 0.
    assert hours_until_full(points, 45 * GB, 6 * 3600.0) == 0.0


def test_noisy_growth_is_still_a_trend() -> None:
    noise = [0.3, -0.2, 0.1, -0.3, 0.2, 0.0, -0.1, 0.3]
    points = [(h * 3600.0, (80 + 2 * h + n) * GB) for h, n in enumerate(noise)]
    hours = hours_until_full(points, 100 * GB, 7 * 3600.0)
    assert hours is not None and 2 < hours < 4  # ~ (100 - 94) / 2


@pytest.mark.parametrize("points", [
    [(h * 3600.0, 50.0 * GB) for h in range(8)],               # flat
    [(h * 3600.0, (60.0 - h) * GB) for h in range(8)],          # shrinking
    [(h * 3600.0, (50.0 + h) * GB) for h in range(3)],          # too few samples
    [(m * 60.0, (50.0 + m) * GB) for m in range(8)],            # spans only 7 minutes
])
def test_no_forecast_without_a_real_upward_trend(points: list[tuple[float, float]]) -> None:
    assert hours_until_full(points, 100 * GB, points[-1][0]) is None


def test_forecast_disks_uses_the_window_and_skips_unreachable_probes() -> None:
    # 2 GB per 10 minutes = 12 GB/h; 88 GB used at the end: 1 h left.
    history = [snap(10 * i, (76 + 2 * i) * GB) for i in range(7)]
    history.insert(3, snap(25, 0, reachable=False))
    [fc] = forecast_disks(history, window=6 * 3600, min_points=6, min_span=1800)
    assert fc.mount == "/" and fc.points == 7
    assert fc.hours_left == pytest.approx(1.0)
    assert fc.rate_bytes_per_hour == pytest.approx(12 * GB)
    # A window that keeps only the last 3 samples is too short to say.
    assert forecast_disks(history, window=25 * 60, min_points=6, min_span=1800) == []


def test_a_growing_history_flags_disk_filling_up_only_under_the_horizon() -> None:
    rules = HealthRules()
    fast = [snap(30 * i, (40 + 5 * i) * GB) for i in range(8)]  # 10 GB/h, 75 GB: 2.5 h
    ev = evaluate(fast[-1], fast, rules)
    [(key, finding)] = [(k, f) for k, f in ev.findings.items() if k[0] == "DiskFillingUp"]
    assert key == ("DiskFillingUp", "/") and float(finding.annotations["hours_left"]) < 72
    slow = [snap(30 * i, 40 * GB + i * 100_000_000) for i in range(8)]  # 0.2 GB/h: 300 h
    assert not [k for k in evaluate(slow[-1], slow, rules).findings if k[0] == "DiskFillingUp"]


def test_rules_hold_for_n_probes_keep_their_episode_and_resolve() -> None:
    rules = HealthRules()
    state = HostRules("web-01", rules)
    full = snap(0, 95 * GB)
    [fired] = state.update(evaluate(full, [full], rules), full.taken_at)
    assert (fired.alertname, fired.status) == ("DiskFull", AlertStatus.FIRING)
    assert fired.labels["mountpoint"] == "/" and fired.labels["threshold"] == "90"
    assert fired.fingerprint == fingerprint("web-01", "DiskFull", "/")
    again = snap(1, 96 * GB)
    assert state.update(evaluate(again, [full, again], rules), again.taken_at) == []
    # Unreachable: disk is unknown, the episode neither resolves nor restarts; the
    # unreachable rule needs 2 probes.
    down = [snap(2 + i, 0, reachable=False) for i in range(2)]
    assert state.update(evaluate(down[0], [], rules), down[0].taken_at) == []
    [unreachable] = state.update(evaluate(down[1], [], rules), down[1].taken_at)
    assert unreachable.alertname == "HostUnreachable"
    assert unreachable.starts_at == down[0].taken_at  # the episode began at the first miss
    back = snap(5, 50 * GB)
    resolved = state.update(evaluate(back, [back], rules), back.taken_at)
    assert {(a.alertname, a.status) for a in resolved} == {
        ("DiskFull", AlertStatus.RESOLVED), ("HostUnreachable", AlertStatus.RESOLVED)}
    disk = next(a for a in resolved if a.alertname == "DiskFull")
    assert disk.starts_at == full.taken_at and disk.ends_at == back.taken_at


def test_memory_and_failed_units() -> None:
    rules = HealthRules()
    state = HostRules("web-01", rules)
    s = snap(0, GB, memory={"used_pct": 97.0}, failed_units=["nginx.service"])
    [down] = state.update(evaluate(s, [s], rules), s.taken_at)  # memory needs 2 probes
    assert down.alertname == "ServiceDown"
    assert down.labels["service"] == "nginx" and down.labels["unit"] == "nginx.service"
    s2 = snap(1, GB, memory={"used_pct": 97.0}, failed_units=["nginx.service"])
    [mem] = state.update(evaluate(s2, [s2], rules), s2.taken_at)
    assert mem.alertname == "HighMemory"
    # No systemd (failed_units None): ServiceDown is unknown, not resolved.
    s3 = snap(2, GB, memory={"used_pct": 50.0}, failed_units=None)
    [resolved] = state.update(evaluate(s3, [s3], rules), s3.taken_at)
    assert resolved.alertname == "HighMemory" and resolved.status is AlertStatus.RESOLVED
    assert state.firing() == ["ServiceDown:nginx.service"]


def test_an_unsent_firing_that_clears_is_dropped_not_resolved() -> None:
    rules = HealthRules()
    state = HostRules("web-01", rules)
    full = snap(0, 95 * GB)
    state.update(evaluate(full, [full], rules), full.taken_at)
    assert len(state.outbox) == 1  # not delivered (the hub was down, say)
    ok = snap(1, 10 * GB)
    state.update(evaluate(ok, [ok], rules), ok.taken_at)
    assert state.outbox == {}


@pytest.mark.parametrize(("kind", "rule", "severity"), [
    ("unreachable", "HostUnreachable", "critical"), ("auth", "HostAccessRefused", "info"),
    ("hostkey", "HostAccessRefused", "info"), ("algorithms", "HostAccessRefused", "info")])
def test_a_host_that_answers_but_lets_ccm_in_on_no_terms_is_not_a_page(
        kind: str, rule: str, severity: str) -> None:
    down = HealthSnapshot("web-01", T0, reachable=False,
                          data={"error": f"web-01: {kind}", "error_kind": kind})
    [(key, finding)] = evaluate(down, [down], HealthRules()).findings.items()
    assert key == (rule, "") and finding.severity.value == severity
