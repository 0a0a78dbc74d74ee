"""Built-in health rules: from a probe snapshot to firing and resolved alerts.

Rules (thresholds in :class:`HealthRules`):

=====================  ================================================  ==========  ===
alert                  holds when                                        key         for
=====================  ================================================  ==========  ===
``DiskFull``           a mount is ≥ ``disk_pct`` % used                  mountpoint  1
``InodesExhausted``    a mount's inodes are ≥ ``inodes_pct`` % used      mountpoint  1
``DiskFillingUp``      the trend fills a mount in < ``horizon_hours``    mountpoint  1
``ServiceDown``        a systemd unit is failed                          unit        1
``HighMemory``         memory is ≥ ``memory_pct`` % used                 —           2
``HostUnreachable``    the probe could not reach the host                —           2
``HostAccessRefused``  the host answered but refused CCM's login or CCM  —           2
                       refused its host key (severity info: CCM's
                       access, not the host, is at fault; never a page)
``HealthProbeFailed``  CCM logged in but the probe gave no figures (no   —           2
                       python3, a broken agent): the host is not
                       watched (severity info, like HostAccessRefused)
=====================  ================================================  ==========  ===

Like Prometheus' ``for:``, a condition must hold for N consecutive probes before it
fires; it resolves at the first probe where it no longer holds. A firing threshold
rule resolves at once when usage falls ``clear_margin`` points below its threshold (a
firing forecast when the disk is no longer full within ``horizon × forecast_clear``);
between the two it resolves only after ``clear_for`` such probes in a row. A disk
hovering at 89.9–90.1 % raises one alert, not one per probe, and one a fix brought to
89 % still resolves (and fires afresh if it fills again). A rule whose input
a probe lacks (no mounts because the host was unreachable, no systemd) is *unknown*
for that probe: its episodes neither advance nor resolve.

Each (host, rule, key) has a stable fingerprint, and an episode keeps the
``starts_at`` of the probe that first saw it, so a re-sent alert is a duplicate.
The rules know nothing of ingest: they produce :class:`HealthAlert` values, which
the command layer turns into the ingest pipeline's alerts (source ``ccm-probe``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ccm_tui.core.model import AlertStatus, HealthSnapshot, Severity
from ccm_tui.daemon.forecast import forecast_disks

SOURCE = "ccm-probe"
DISK_FULL, DISK_FILLING, SERVICE_DOWN = "DiskFull", "DiskFillingUp", "ServiceDown"
HIGH_MEMORY, UNREACHABLE, ACCESS_REFUSED = "HighMemory", "HostUnreachable", "HostAccessRefused"
#: The name the ``inode-exhaustion`` runbook matches first.
INODES = "InodesExhausted"
PROBE_FAILED = "HealthProbeFailed"
RULES = (DISK_FULL, INODES, DISK_FILLING, SERVICE_DOWN, HIGH_MEMORY, UNREACHABLE,
         ACCESS_REFUSED, PROBE_FAILED)
#: A fleet whose newest probe is older than this (s) is not being watched: ``ccm up``
#: probes every 30 s, so the daemon is down or stuck. ``ccm status`` and the TUI say so.
PROBE_STALE_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class HealthRules:
    """Thresholds and hold counts (``*_for``: consecutive probes) of the built-in rules."""

    disk_pct: float = 90.0
    inodes_pct: float = 90.0
    memory_pct: float = 95.0
    #: DiskFillingUp fires when the forecast says full in fewer hours than this.
    horizon_hours: float = 72.0
    #: The forecast's history: samples within ``forecast_window`` seconds, at least
    #: ``forecast_min_points`` of them spanning ``forecast_min_span`` seconds.
    forecast_window: float = 6 * 3600.0
    forecast_min_points: int = 6
    forecast_min_span: float = 1800.0
    #: Points below ``disk_pct`` / ``memory_pct`` a firing DiskFull / HighMemory must
    #: fall before it resolves.
    clear_margin: float = 2.0
    #: A firing DiskFillingUp resolves once the forecast says ``horizon × this`` or more.
    forecast_clear: float = 1.25
    #: Probes in a row a firing rule must sit between its clearing level and its
    #: threshold to resolve there.
    clear_for: int = 3
    disk_for: int = 1
    forecast_for: int = 1
    service_for: int = 1
    memory_for: int = 2
    unreachable_for: int = 2

    def hold_for(self, rule: str) -> int:
        """Consecutive probes ``rule`` must hold before it fires."""
        return max(1, {DISK_FULL: self.disk_for, INODES: self.disk_for, DISK_FILLING: self.forecast_for,
                       SERVICE_DOWN: self.service_for, HIGH_MEMORY: self.memory_for,
                       UNREACHABLE: self.unreachable_for,
                       ACCESS_REFUSED: self.unreachable_for,
                       PROBE_FAILED: self.unreachable_for}.get(rule, 1))


@dataclass(frozen=True, slots=True)
class HealthAlert:
    """An alert a health rule raised or resolved, ready for the ingest pipeline."""

    status: AlertStatus
    alertname: str
    host: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    fingerprint: str
    severity: Severity
    ends_at: datetime | None = None
    source: str = SOURCE


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule that holds on one probe: its labels and annotations."""

    rule: str
    key: str
    labels: dict[str, str]
    annotations: dict[str, str]
    severity: Severity


@dataclass(slots=True)
class Evaluation:
    """What one probe showed: the findings, and the rules it could judge at all."""

    findings: dict[tuple[str, str], Finding] = field(default_factory=dict)
    known: set[str] = field(default_factory=set)
    #: Firing findings that hold only above their clearing level, below the threshold.
    settling: set[tuple[str, str]] = field(default_factory=set)

    def add(self, f: Finding) -> None:
        self.findings[(f.rule, f.key)] = f


def fingerprint(host: str, rule: str, key: str = "") -> str:
    """The stable fingerprint of (host, rule, mountpoint/unit)."""
    return hashlib.sha256(f"{SOURCE}\0{host}\0{rule}\0{key}".encode()).hexdigest()[:16]


def _pct(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _size(n: Any) -> str:
    """``1.5 GB`` for a byte count (decimal units, as ``df -H``); ``? bytes`` when unknown."""
    value = _pct(n)
    if value is None:
        return "? bytes"
    if abs(value) < 1000:
        return f"{value:.0f} bytes"
    for unit in ("kB", "MB", "GB"):
        value /= 1000
        if abs(value) < 1000:
            return f"{value:.1f} {unit}"
    return f"{value / 1000:.1f} TB"


def _top_memory(top: Any) -> str:
    """``largest: java (pid 812) 5.1 GB, …`` from the probe's ``top_mem``."""
    procs = [p for p in top or () if isinstance(p, dict) and p.get("name")]
    if not procs:
        return "the probe listed no processes"
    return "largest: " + ", ".join(
        f"{p['name']} (pid {p.get('pid', '?')}) {_size(p.get('rss_bytes'))}" for p in procs)


def _when(hours: float) -> str:
    """``in 5.2 h``, ``in 40 min``; ``any minute now`` when the trend is past full."""
    if hours <= 0:
        return "any minute now"
    return f"in {hours * 60:.0f} min" if hours < 1 else f"in {hours:.1f} h"


def evaluate(snap: HealthSnapshot, history: Sequence[HealthSnapshot],
             rules: HealthRules, firing: Collection[tuple[str, str]] = ()) -> Evaluation:
    """Judge one snapshot (``history``: the host's recent snapshots, this one included).

    ``firing``: the (rule, key) episodes already firing (:meth:`HostRules.firing_keys`);
    they hold down to their clearing level rather than their threshold, and
    ``ev.settling`` names those that hold only that way (:meth:`HostRules.update`
    resolves them after ``clear_for`` such probes in a row).
    """
    ev = Evaluation(known={UNREACHABLE, ACCESS_REFUSED})

    def holds(rule: str, key: str, value: float, threshold: float) -> bool:
        if (rule, key) in firing and threshold - rules.clear_margin <= value < threshold:
            ev.settling.add((rule, key))
            return True
        return value >= threshold

    host = snap.host
    if not snap.reachable:
        error = str(snap.data.get("error") or "unreachable")
        if snap.access_refused:
            # A wrong key, a missing ssh-agent or a reinstalled host: often one setting
            # for the whole fleet, so info (Slack, the report), not 50 pages at 2 AM.
            ev.add(Finding(ACCESS_REFUSED, "", {}, {
                "summary": f"CCM cannot log in to {host} to check its health",
                "description": error[:500]}, Severity.INFO))
        else:
            ev.add(Finding(UNREACHABLE, "", {}, {
                "summary": f"{host} cannot be reached by the health probe",
                "description": error[:500]}, Severity.CRITICAL))
        return ev
    ev.known.add(PROBE_FAILED)
    if snap.data.get("error"):  # reachable, but the probe failed: nothing else is known
        ev.add(Finding(PROBE_FAILED, "", {}, {
            "summary": f"CCM reaches {host} but cannot read its health: the probe failed",
            "description": "; ".join(
                str(snap.data[k]) for k in ("error", "install_error") if snap.data.get(k)
            )[:700]}, Severity.INFO))
        return ev
    mounts = snap.data.get("mounts")
    if isinstance(mounts, list) and mounts:
        ev.known.update({DISK_FULL, INODES, DISK_FILLING})
        threshold = f"{rules.disk_pct:g}"
        for m in mounts:
            pct, mount = _pct(m.get("used_pct")), str(m.get("mount"))
            if pct is not None and holds(DISK_FULL, mount, pct, rules.disk_pct):
                ev.add(Finding(DISK_FULL, mount, {"mountpoint": mount, "threshold": threshold}, {
                    "summary": f"{mount} on {host} is {pct:g}% full",
                    "description": f"{mount} is {pct:g}% used (threshold {threshold}%); "
                                   f"{_size(m.get('free_bytes'))} free"},
                    Severity.CRITICAL))
            inodes = _pct(m.get("inodes_pct"))
            if inodes is not None and holds(INODES, mount, inodes, rules.inodes_pct):
                limit_text = f"{rules.inodes_pct:g}"
                total, used = _pct(m.get("inodes_total")), _pct(m.get("inodes_used"))
                left = f"{total - used:.0f}" if total is not None and used is not None else "?"
                ev.add(Finding(INODES, mount, {"mountpoint": mount, "threshold": limit_text}, {
                    "summary": f"{mount} on {host} has {inodes:g}% of its inodes used",
                    "description": f"{mount} is out of inodes: {inodes:g}% used (threshold "
                                   f"{limit_text}%), {left} left; new files fail with 'No "
                                   "space left on device' whatever the free bytes"},
                    Severity.CRITICAL))
        for fc in forecast_disks(history, window=rules.forecast_window,
                                 min_points=rules.forecast_min_points,
                                 min_span=rules.forecast_min_span):
            key = (DISK_FILLING, fc.mount)
            if key in firing and rules.horizon_hours <= fc.hours_left \
                    < rules.horizon_hours * rules.forecast_clear:
                ev.settling.add(key)
            if key in ev.settling or fc.hours_left < rules.horizon_hours:
                ev.add(Finding(DISK_FILLING, fc.mount, {
                    "mountpoint": fc.mount, "threshold": f"{rules.horizon_hours:g}h"}, {
                    "summary": f"{fc.mount} on {host} will be full {_when(fc.hours_left)}",
                    "hours_left": f"{fc.hours_left:.1f}",
                    "description": f"growing {_size(fc.rate_bytes_per_hour)}/h over "
                                   f"{fc.points} samples; {_size(fc.capacity_bytes - fc.used_bytes)}"
                                   " free"}, Severity.WARNING))
    memory = snap.data.get("memory")
    mem_pct = _pct(memory.get("used_pct")) if isinstance(memory, dict) else None
    if mem_pct is not None:
        ev.known.add(HIGH_MEMORY)
        if holds(HIGH_MEMORY, "", mem_pct, rules.memory_pct):
            ev.add(Finding(HIGH_MEMORY, "", {"threshold": f"{rules.memory_pct:g}"}, {
                "summary": f"memory on {host} is {mem_pct:g}% used",
                "description": _top_memory(snap.data.get("top_mem"))}, Severity.CRITICAL))
    units = snap.data.get("failed_units")
    if isinstance(units, list):
        ev.known.add(SERVICE_DOWN)
        for unit in units:
            unit = str(unit)
            ev.add(Finding(SERVICE_DOWN, unit, {
                "unit": unit, "service": unit.removesuffix(".service")}, {
                "summary": f"{unit} failed on {host}"}, Severity.CRITICAL))
    return ev


@dataclass(slots=True)
class _Episode:
    count: int = 0
    firing: bool = False
    starts_at: datetime | None = None
    finding: Finding | None = None
    #: Probes in a row the firing episode sat between its clearing level and threshold.
    settle: int = 0


class HostRules:
    """The rule state of one host: pending and firing episodes, and unsent alerts."""

    def __init__(self, host: str, rules: HealthRules) -> None:
        self.host = host
        self.rules = rules
        self.episodes: dict[tuple[str, str], _Episode] = {}
        #: Alerts not yet delivered, by fingerprint (a resolve replaces its firing).
        self.outbox: dict[str, HealthAlert] = {}

    def _alert(self, ep: _Episode, status: AlertStatus, ends_at: datetime | None) -> HealthAlert:
        f = ep.finding
        assert f is not None and ep.starts_at is not None
        labels = {"alertname": f.rule, "host": self.host, "severity": f.severity.value,
                  **f.labels}
        return HealthAlert(status, f.rule, self.host, labels, dict(f.annotations), ep.starts_at,
                           fingerprint(self.host, f.rule, f.key), f.severity, ends_at)

    def restore(self, alert: HealthAlert) -> None:
        """Adopt an episode a previous run left firing (it resolves once it clears)."""
        key = alert.labels.get("mountpoint") or alert.labels.get("unit") or ""
        finding = Finding(alert.alertname, key,
                          {k: v for k, v in alert.labels.items()
                           if k not in {"alertname", "host", "severity"}},
                          dict(alert.annotations), alert.severity)
        self.episodes[(alert.alertname, key)] = _Episode(
            self.rules.hold_for(alert.alertname), True, alert.starts_at, finding)

    def update(self, ev: Evaluation, now: datetime) -> list[HealthAlert]:
        """Advance the episodes by one probe; queue and return the alerts to send."""
        out: list[HealthAlert] = []
        for key, finding in ev.findings.items():
            ep = self.episodes.setdefault(key, _Episode(starts_at=now))
            ep.finding = finding
            if ep.firing and key in ev.settling:  # between clearing level and threshold
                ep.settle += 1
                if ep.settle >= self.rules.clear_for:
                    out.append(self._alert(ep, AlertStatus.RESOLVED, now))
                    del self.episodes[key]
                continue
            ep.settle = 0
            ep.count += 1
            if not ep.firing and ep.count >= self.rules.hold_for(key[0]):
                ep.firing = True
                out.append(self._alert(ep, AlertStatus.FIRING, None))
        for key, ep in list(self.episodes.items()):
            if key in ev.findings or key[0] not in ev.known:
                continue
            if ep.firing:
                out.append(self._alert(ep, AlertStatus.RESOLVED, now))
            del self.episodes[key]
        for a in out:
            queued = self.outbox.get(a.fingerprint)
            if a.status is AlertStatus.RESOLVED and queued is not None \
                    and queued.status is AlertStatus.FIRING:
                del self.outbox[a.fingerprint]  # it never reached the hub: nothing to resolve
            else:
                self.outbox[a.fingerprint] = a
        return out

    def firing_keys(self) -> set[tuple[str, str]]:
        """(rule, key) of every firing episode: what :func:`evaluate` holds to its
        clearing level."""
        return {k for k, ep in self.episodes.items() if ep.firing}

    def firing(self) -> list[str]:
        """``rule`` or ``rule:key`` of every firing episode (for display and tests)."""
        return sorted(f"{r}:{k}" if k else r for (r, k), ep in self.episodes.items()
                      if ep.firing)
