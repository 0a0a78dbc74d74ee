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
pool) when ``install_agent`` is on. How a probe's output becomes a snapshot:
:mod:`.probe_snapshot`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

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
from ccm_tui.daemon.probe_snapshot import snapshot_of
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


__all__ = ["AlertSink", "HealthMonitor", "ProbeStats", "probe_argv", "probe_host"]
