"""A linear forecast of disk usage: "this filesystem is full in < 72 h".

Like Prometheus' ``predict_linear``: an ordinary least-squares line through the
recent (time, used bytes) samples of one mount, extended to the mount's capacity.
A flat or shrinking trend has no forecast; so has a history too short (fewer than
``min_points`` samples, or spanning less than ``min_span`` seconds) to tell a
trend from noise. A cleanup (usage dropping by ``RESET_SHARE`` of the capacity or
more between two samples) starts the trend afresh: the growth before it says nothing
of the disk after it, and a fit across it would still see "full in 5 h" right after
70 % was freed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ccm_tui.core.model import HealthSnapshot

#: Samples older than this (seconds) are left out of the fit.
DEFAULT_WINDOW = 6 * 3600.0
DEFAULT_MIN_POINTS = 6
DEFAULT_MIN_SPAN = 1800.0
#: A drop of this share of the capacity between two samples is a cleanup, not noise.
RESET_SHARE = 0.05


@dataclass(frozen=True, slots=True)
class Forecast:
    """When one mount is expected to be full."""

    mount: str
    hours_left: float
    #: The fitted growth, bytes per hour.
    rate_bytes_per_hour: float
    #: The latest sample's usage and capacity.
    used_bytes: int
    capacity_bytes: int
    points: int


def linear_fit(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """``(slope, intercept)`` of the least-squares line through ``(x, y)`` points.

    ``None`` with fewer than two points or when every ``x`` is the same.
    """
    n = len(points)
    if n < 2:
        return None
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    if sxx <= 0:
        return None
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    slope = sxy / sxx
    return slope, mean_y - slope * mean_x


def hours_until_full(points: Sequence[tuple[float, float]], capacity: float, now: float, *,
                     min_points: int = DEFAULT_MIN_POINTS,
                     min_span: float = DEFAULT_MIN_SPAN) -> float | None:
    """Hours from ``now`` until the trend of ``(unix seconds, used bytes)`` reaches ``capacity``.

    ``0.0`` when the trend is already past it; ``None`` when usage is not growing
    or the history is too short to say.
    """
    if len(points) < max(2, min_points):
        return None
    ordered = sorted(points)
    t0 = ordered[0][0]
    if ordered[-1][0] - t0 < min_span:
        return None
    fit = linear_fit([(t - t0, y) for t, y in ordered])  # relative times keep precision
    if fit is None:
        return None
    slope, intercept = fit
    if slope <= 0:
        return None
    remaining = capacity - (intercept + slope * (now - t0))
    if remaining <= 0:
        return 0.0
    return remaining / slope / 3600.0


def since_last_cleanup(points: Sequence[tuple[float, float]], capacity: float
                       ) -> list[tuple[float, float]]:
    """The ``(time, used)`` points from the last cleanup on (all when there was none)."""
    ordered = sorted(points)
    start = 0
    for i in range(1, len(ordered)):
        if ordered[i - 1][1] - ordered[i][1] >= RESET_SHARE * capacity:
            start = i
    return ordered[start:]


def _mounts(data: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """mount → (used bytes, capacity = used + free) of one probe's data."""
    out: dict[str, tuple[int, int]] = {}
    for m in data.get("mounts") or ():
        try:
            used, free = int(m["used_bytes"]), int(m["free_bytes"])
            out[str(m["mount"])] = (used, used + free)
        except (KeyError, TypeError, ValueError):
            continue
    return out


def forecast_disks(history: Iterable[HealthSnapshot], *, now: datetime | None = None,
                   window: float = DEFAULT_WINDOW, min_points: int = DEFAULT_MIN_POINTS,
                   min_span: float = DEFAULT_MIN_SPAN) -> list[Forecast]:
    """A forecast for each mount of the newest reachable snapshot whose usage grows.

    ``history`` holds one host's snapshots in any order; unreachable ones and those
    older than ``window`` seconds before ``now`` (default: the newest snapshot) are
    ignored.
    """
    usable = sorted((s for s in history if s.reachable and s.data.get("mounts")),
                    key=lambda s: s.taken_at)
    if not usable:
        return []
    latest = usable[-1]
    at = (now or latest.taken_at).timestamp()
    series: dict[str, list[tuple[float, float]]] = {}
    for snap in usable:
        t = snap.taken_at.timestamp()
        if t < at - window:
            continue
        for mount, (used, _cap) in _mounts(snap.data).items():
            series.setdefault(mount, []).append((t, float(used)))
    out = []
    for mount, (used, capacity) in _mounts(latest.data).items():
        points = since_last_cleanup(series.get(mount, []), capacity)
        hours = hours_until_full(points, capacity, at, min_points=min_points,
                                 min_span=min_span)
        if hours is None:
            continue
        fit = linear_fit([(t - points[0][0], y) for t, y in points])
        rate = fit[0] * 3600.0 if fit else 0.0
        out.append(Forecast(mount, round(hours, 2), rate, used, capacity, len(points)))
    return out
