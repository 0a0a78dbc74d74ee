"""Health: probe every host on a schedule, keep a short history, raise alerts.

:class:`HealthMonitor` runs one loop per host. Each loop runs the agent's ``probe``
over the SSH pool, waits for it to finish, then sleeps until the next slot — so a
host's probes never overlap, and a slow probe only delays the next one (which then
starts at least a quarter interval later). Slots are ``interval`` apart, jittered by
±``jitter`` and, for the first probe, spread over one interval, so a fleet is not
probed in lock-step.

Every probe is stored with :meth:`Hub.record_health` (``reachable=False`` with the
error when the host could not be reached; the hub keeps ``health_keep`` snapshots
per host) and judged by the built-in rules of :mod:`.health_rules`. Alerts go to an
*alert sink* — the command layer passes one that feeds the ingest pipeline, so a
probe alert becomes a task exactly like one from Prometheus. Undelivered alerts are
retried after the next probe. A host without the agent gets it pushed (once per
pool) when ``install_agent`` is on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ccm_tui.core.errors import FleetError, HubUnavailable
from ccm_tui.core.model import AlertStatus, HealthSnapshot, utcnow
from ccm_tui.daemon.agent_install import ensure_agent
from ccm_tui.daemon.health_rules import (
    SOURCE,
    HealthAlert,
    HealthRules,
    HostRules,
    evaluate,
)
from ccm_tui.daemon.options import DaemonOptions
from ccm_tui.fleet.inventory import FleetHost
from ccm_tui.fleet.ssh import SSHPool
from ccm_tui.fleet.ssh_types import RunResult
from ccm_tui.hub.base import Hub

log = logging.getLogger("ccm.health")

#: Delivers health alerts (to the ingest pipeline); raising means "retry later".
AlertSink = Callable[[list[HealthAlert]], Awaitable[object]]

#: After a probe that ran past its slot, the next waits at least this share of an interval.
MIN_GAP = 0.25
#: Seconds a stopping monitor waits for probes in flight before cancelling them.
STOP_GRACE = 5.0
#: Top processes kept in a stored snapshot (the probe reports 5).
TOP_KEPT = 3
#: Firing probe alerts older than this are not adopted after a restart.
RESTORE_DAYS = 7


# -- one probe ---------------------------------------------------------------------------
def probe_argv(host: FleetHost, options: DaemonOptions) -> list[str]:
    """The agent's ``probe`` command; ``--root`` for a simulated host (label ``ccm_root``)."""
    argv = [host.python, options.agent_path, "probe"]
    root = host.labels.get("ccm_root")
    # ``--`` first: the agent's CLI hands everything after ``probe`` to the probe, but its
    # argparse would take a leading ``--root`` for one of its own options.
    return [*argv, "--", "--root", root] if root else argv


def _agent_missing(res: RunResult) -> bool:
    err = res.stderr
    return res.error is None and res.exit_status == 2 and (
        "can't open file" in err or "No such file" in err or "invalid choice" in err)


def _worst(mounts: Any) -> float | None:
    pcts = [m["used_pct"] for m in mounts or () if m.get("used_pct") is not None]
    return max(pcts) if pcts else None


def _num(value: Any) -> float | None:
    """A finite number, or ``None`` (a bool, a string, NaN are not figures)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


#: The probe's keys CCM reads; output with none of them holds no health figures.
_FIGURES = ("cpu_pct", "memory", "mounts", "load", "failed_units")
_MOUNT_NUMBERS = ("total_bytes", "used_bytes", "free_bytes", "used_pct", "inodes_total",
                  "inodes_used", "inodes_pct")


def _parse(stdout: str) -> Any:
    """The probe's JSON object; a login script may print before it, so the last line
    that is one counts."""
    with contextlib.suppress(ValueError):
        return json.loads(stdout)
    for line in reversed(stdout.splitlines()):
        if line.lstrip().startswith("{"):
            with contextlib.suppress(ValueError):
                return json.loads(line)
    return None


def _clean(data: dict[str, Any]) -> list[str]:
    """Drop what the probe reported in the wrong shape (another agent version, a broken
    host), in place, so one host's odd output never stops a probe of the fleet; the
    names of what was dropped are returned."""
    bad: list[str] = []

    def number(d: dict[str, Any], key: str, name: str) -> None:
        if d.get(key) is not None and _num(d[key]) is None:
            bad.append(name)
            d[key] = None

    number(data, "cpu_pct", "cpu_pct")
    memory = data.get("memory")
    if memory is not None and not isinstance(memory, dict):
        bad.append("memory")
        data["memory"] = memory = None
    if isinstance(memory, dict):
        number(memory, "used_pct", "memory.used_pct")
    load = data.get("load")
    if load is not None and not (isinstance(load, list)
                                 and all(_num(x) is not None for x in load)):
        bad.append("load")
        data["load"] = []
    mounts = data.get("mounts")
    if mounts is not None and not isinstance(mounts, list):
        bad.append("mounts")
        data["mounts"] = mounts = None
    if isinstance(mounts, list):
        kept = []
        for i, m in enumerate(mounts):
            if not isinstance(m, dict) or not isinstance(m.get("mount"), str) or not m["mount"]:
                bad.append(f"mounts[{i}]")
                continue
            for key in _MOUNT_NUMBERS:
                number(m, key, f"mounts[{i}].{key}")
            kept.append(m)
        data["mounts"] = kept
    units = data.get("failed_units")
    if units is not None and not (isinstance(units, list)
                                  and all(isinstance(u, str) for u in units)):
        bad.append("failed_units")
        data["failed_units"] = None  # unknown: a ServiceDown episode neither fires nor clears
    for key in ("top_cpu", "top_mem"):
        if key in data and not (isinstance(data[key], list)
                                and all(isinstance(p, dict) for p in data[key])):
            bad.append(key)
            del data[key]
    return bad


def snapshot_of(host: str, res: RunResult, rtt_ms: float, install_error: str = ""
                ) -> HealthSnapshot:
    """The :class:`HealthSnapshot` of one probe's :class:`RunResult`.

    Figures in the wrong shape are left out and named in ``data["invalid"]``; output
    with no figures at all is a failed probe (``data["error"]``).
    """
    now = utcnow()
    base: dict[str, Any] = {"rtt_ms": round(rtt_ms, 1)}
    if install_error:
        base["install_error"] = install_error[:500]
    if res.error is not None:
        return HealthSnapshot(host, now, reachable=False, data={
            **base, "error": res.error[:500], "error_kind": res.error_kind or "unreachable"})
    data = _parse(res.stdout) if res.exit_status == 0 else None
    if not isinstance(data, dict):
        why = res.stderr.strip()[-300:] or res.stdout.strip()[:300] or "no output"
        return HealthSnapshot(host, now, data={
            **base, "error": f"probe exited {res.exit_status}: {why}"})
    if not any(data.get(k) is not None for k in _FIGURES):
        return HealthSnapshot(host, now, data={
            **base, "error": "the probe printed no health figures (cpu_pct, memory, mounts): "
                             f"{res.stdout.strip()[:200]} — is its agent current? "
                             "`ccm fleet install` pushes this version"})
    data.pop("invalid", None)  # only CCM says what was invalid
    if invalid := _clean(data):
        data["invalid"] = invalid
    if data.get("error") is not None:
        data["error"] = str(data["error"])[:500]
    for key in ("top_cpu", "top_mem"):
        if isinstance(data.get(key), list):
            data[key] = data[key][:TOP_KEPT]
    data.pop("host", None)
    memory = data.get("memory") or {}
    load = data.get("load") or []
    return HealthSnapshot(
        host, now, reachable=True, cpu_pct=_num(data.get("cpu_pct")),
        mem_pct=_num(memory.get("used_pct")), disk_pct=_worst(data.get("mounts")),
        load1=_num(load[0]) if load else None, data={**data, **base})


async def probe_host(pool: SSHPool, host: FleetHost, options: DaemonOptions, *,
                     timeout: float = 20.0) -> HealthSnapshot:
    """Probe one host now (pushing the agent first if it lacks it). Never raises for
    host trouble: an unreachable host gives ``reachable=False``."""
    argv = probe_argv(host, options)
    t0 = time.monotonic()
    res = await pool.run(host, argv, timeout=timeout)
    install_error = ""
    if _agent_missing(res) and options.install_agent:
        try:
            await ensure_agent(pool, host, options)
        except (FleetError, OSError) as exc:  # e.g. no tmux: the agent may still be there
            install_error = str(exc)
        t0 = time.monotonic()
        res = await pool.run(host, argv, timeout=timeout)
    return snapshot_of(host.name, res, (time.monotonic() - t0) * 1000, install_error)


# -- the monitor ---------------------------------------------------------------------------
@dataclass(slots=True)
class ProbeStats:
    """Counters of one host's probes (``max_in_flight`` stays 1: probes never overlap)."""

    started: int = 0
    finished: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    unreachable: int = 0
    last_ms: float = 0.0


class HealthMonitor:
    """Probes ``hosts`` on a schedule, stores snapshots, and raises health alerts.

    ``sink`` receives the alerts (see :data:`AlertSink`); without one the rules are
    still evaluated but nothing is raised. ``options.health_interval`` is the
    interval (``None``: :meth:`run` returns at once); ``options.health_keep`` the
    snapshots the hub keeps per host.
    """

    def __init__(self, hub: Hub, pool: SSHPool, hosts: Iterable[FleetHost],
                 options: DaemonOptions | None = None, sink: AlertSink | None = None, *,
                 rules: HealthRules | None = None, timeout: float = 20.0,
                 jitter: float = 0.1, concurrency: int = 32) -> None:
        self.hub = hub
        self.pool = pool
        self.hosts = {h.name: h for h in hosts}
        self.options = options or DaemonOptions()
        self.sink = sink
        self.rules = rules or HealthRules()
        self.timeout = timeout
        self.jitter = jitter
        self.stats: dict[str, ProbeStats] = {}
        self.state: dict[str, HostRules] = {}
        self._history: dict[str, deque[HealthSnapshot]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._sem = asyncio.Semaphore(concurrency)
        self._restored = False
        self.started = asyncio.Event()

    @property
    def interval(self) -> float | None:
        return self.options.health_interval

    def _rules(self, host: str) -> HostRules:
        if host not in self.state:
            self.state[host] = HostRules(host, self.rules)
        return self.state[host]

    async def run(self, stop: asyncio.Event) -> None:
        """Probe every host until ``stop`` is set."""
        interval = self.interval
        if interval is None or interval <= 0:
            return
        if self.sink is None:
            log.info("health: no alert sink; rules are evaluated but raise no alerts")
        await self.restore()
        loops = [asyncio.create_task(self._loop(h, interval, stop), name=f"health-{h}")
                 for h in self.hosts]
        self.started.set()
        try:
            await stop.wait()
            # Let probes in flight finish (each loop ends after its probe), briefly.
            await asyncio.wait(loops, timeout=min(self.timeout, STOP_GRACE))
        finally:
            for t in loops:
                t.cancel()
            for t in loops:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    async def _loop(self, host: str, interval: float, stop: asyncio.Event) -> None:
        delay = random.uniform(0, interval)  # spread the fleet's first probes
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                return
            t0 = time.monotonic()
            try:
                await self.probe_once(host)
            except asyncio.CancelledError:
                raise
            except HubUnavailable as exc:
                log.warning("health %s: hub unavailable: %s", host, exc)
            except Exception:  # one host's trouble never stops the others
                log.exception("health %s: probe failed", host)
            slot = interval * random.uniform(1 - self.jitter, 1 + self.jitter)
            delay = max(slot - (time.monotonic() - t0), interval * MIN_GAP)

    async def probe_once(self, host: str | FleetHost) -> HealthSnapshot:
        """Probe one host now: store the snapshot, evaluate the rules, send alerts.

        Waits for a probe of the same host already running: probes never overlap.
        """
        fh = host if isinstance(host, FleetHost) else self.hosts[host]
        name = fh.name
        stats = self.stats.setdefault(name, ProbeStats())
        async with self._locks.setdefault(name, asyncio.Lock()):
            stats.started += 1
            stats.in_flight += 1
            stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
            try:
                async with self._sem:
                    snap = await probe_host(self.pool, fh, self.options, timeout=self.timeout)
            finally:
                stats.in_flight -= 1
            stats.finished += 1
            stats.unreachable += 0 if snap.reachable else 1
            stats.last_ms = float(snap.data.get("rtt_ms") or 0.0)
            try:
                await self.hub.record_health(snap, keep=self.options.health_keep)
            except HubUnavailable as exc:
                log.warning("health %s: snapshot not stored: %s", name, exc)
            history = await self._history_of(snap)
            history.append(snap)
            state = self._rules(name)
            state.update(evaluate(snap, list(history), self.rules, state.firing_keys()),
                         snap.taken_at)
            await self.deliver(name)
            return snap

    async def _history_of(self, snap: HealthSnapshot) -> deque[HealthSnapshot]:
        """The host's snapshots before ``snap``, seeded from the hub on first use."""
        host = snap.host
        if host not in self._history:
            size = min(2000, max(32, int(self.rules.forecast_window / (self.interval or 30)) + 1))
            seed: list[HealthSnapshot] = []
            with contextlib.suppress(HubUnavailable):
                seed = await self.hub.health_history(host, limit=size)
            self._history[host] = deque((s for s in seed if s.taken_at < snap.taken_at),
                                        maxlen=size)
        return self._history[host]

    async def deliver(self, host: str) -> None:
        """Send the host's queued alerts; on failure they stay queued for the next probe."""
        state = self._rules(host)
        if not state.outbox or self.sink is None:
            state.outbox.clear()
            return
        batch = list(state.outbox.values())
        try:
            await self.sink(batch)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the hub's trouble, or ingest's: keep them for later
            log.warning("health %s: %d alert(s) not delivered (retrying): %s", host,
                        len(batch), exc)
            return
        for a in batch:
            if state.outbox.get(a.fingerprint) is a:
                del state.outbox[a.fingerprint]
        for a in batch:
            log.info("health %s: %s %s", host, a.alertname, a.status.value)

    async def restore(self) -> None:
        """Adopt probe alerts a previous run left firing, so they resolve when they clear
        and a condition that still holds keeps its episode (no duplicate task)."""
        if self._restored:
            return
        self._restored = True
        try:
            recent = await self.hub.list_alerts(since=utcnow() - timedelta(days=RESTORE_DAYS),
                                                limit=5000)
        except HubUnavailable as exc:
            log.warning("health: could not read earlier probe alerts: %s", exc)
            return
        seen: set[str] = set()
        for a in recent:  # newest first
            if a.source != SOURCE or a.fingerprint in seen:
                continue
            seen.add(a.fingerprint)
            if a.status is AlertStatus.FIRING and a.host in self.hosts:
                self._rules(a.host).restore(HealthAlert(
                    a.status, a.alertname, a.host, dict(a.labels), dict(a.annotations),
                    a.starts_at, a.fingerprint, a.severity))


__all__ = ["AlertSink", "HealthMonitor", "ProbeStats", "probe_argv", "probe_host",
           "snapshot_of"]
