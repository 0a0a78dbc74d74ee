"""The receiver's counters and latency histogram, in Prometheus text exposition format."""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_HELP = {
    "ccm_ingest_requests_total": ("counter", "Webhook requests, by endpoint and HTTP status."),
    "ccm_ingest_alerts_received_total": ("counter", "Alerts read from payloads, by source and status."),
    "ccm_ingest_duplicates_total": ("counter", "Alerts already stored (re-sent by the source)."),
    "ccm_ingest_tasks_created_total": ("counter", "Tasks created from alerts."),
    "ccm_ingest_attached_total": ("counter", "Alerts attached to an open task of the same host and alert."),
    "ccm_ingest_suppressed_total": ("counter", "Alerts that made no task, by reason (silenced, flapping)."),
    "ccm_ingest_resolved_total": ("counter", "Resolved alerts, by effect (closed_before_start, noted, none)."),
    "ccm_ingest_rejected_total": ("counter", "Refused requests, one count each, by reason; alert_<reason>: one alert refused in an accepted request."),
    "ccm_ingest_truncated_alerts_total": ("counter", "Alerts the sender left out of its notifications (Alertmanager's max_alerts), by endpoint."),
    "ccm_ingest_unmanaged_total": ("counter", "Tasks for hosts outside the inventory."),
    "ccm_ingest_group_commits_total": ("counter", "Hub transactions that stored firing alerts (one per group commit)."),
    "ccm_ingest_group_commit_alerts_total": ("counter", "Firing alerts stored by group commits (divide by the commits for the mean batch)."),
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


class Metrics:
    """Thread-safe counters plus one request-latency histogram."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
        self._buckets = [0] * (len(BUCKETS) + 1)
        self._sum = 0.0
        self._count = 0

    def inc(self, name: str, amount: float = 1, **labels: str) -> None:
        """Add to a counter."""
        key = tuple(sorted(labels.items())) if len(labels) > 1 else tuple(labels.items())
        with self._lock:
            series = self._counters[name]
            series[key] = series.get(key, 0) + amount

    def get(self, name: str, **labels: str) -> float:
        """A counter's value (0 when never incremented)."""
        with self._lock:
            return self._counters.get(name, {}).get(tuple(sorted(labels.items())), 0)

    def total(self, name: str) -> float:
        """A counter summed over all its labels."""
        with self._lock:
            return sum(self._counters.get(name, {}).values())

    def observe(self, seconds: float) -> None:
        """Record one request's handling time."""
        with self._lock:
            self._buckets[bisect.bisect_left(BUCKETS, seconds)] += 1
            self._sum += seconds
            self._count += 1

    def render(self) -> str:
        """Everything, in Prometheus text format 0.0.4."""
        out: list[str] = []
        with self._lock:
            for name, (kind, help_text) in _HELP.items():
                out.append(f"# HELP {name} {help_text}")
                out.append(f"# TYPE {name} {kind}")
                series = self._counters.get(name) or {}
                if not series:
                    out.append(f"{name} 0")
                for key, value in sorted(series.items()):
                    out.append(f"{name}{_labels(key)} {value:g}")
            hname = "ccm_ingest_request_duration_seconds"
            out.append(f"# HELP {hname} Time to store a webhook request's alerts and answer.")
            out.append(f"# TYPE {hname} histogram")
            cumulative = 0
            for bound, n in zip(BUCKETS, self._buckets, strict=False):
                cumulative += n
                out.append(f'{hname}_bucket{{le="{bound:g}"}} {cumulative}')
            out.append(f'{hname}_bucket{{le="+Inf"}} {self._count}')
            out.append(f"{hname}_sum {self._sum:.6f}")
            out.append(f"{hname}_count {self._count}")
        return "\n".join(out) + "\n"
