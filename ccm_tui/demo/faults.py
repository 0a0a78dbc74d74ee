"""The fault injector: realistic incidents on a schedule, on the simulated fleet.

Each :class:`Scenario` names a fault, its host, when it happens (seconds after the
fleet is up) and the end state it should reach:

=================  =========================================  ==========================
scenario           the fault                                  expected end state
=================  =========================================  ==========================
``disk-old-logs``  rotated logs 10 days old fill "/" to 93 %  ``resolved`` (automatic)
``crashed-service`` the role's service crashes                ``resolved`` (restarted)
``memory-hog``     the worker's queue grows to 7.1 GiB        ``awaiting_approval``
``unknown-file``   a fresh 10 MB export fills "/" to 95 %     ``escalated`` (findings)
``flapping``       an HTTP check fires and clears 5 times     ``suppressed``
``package-update`` an openssl security update on every host   ``available_for_broadcast``
=================  =========================================  ==========================

Disk and service faults are only changes to the hosts: the health probes see them and
raise alerts through the webhook. The memory hog and the flapping check come from
"outside monitoring": the injector POSTs them to the webhook as Alertmanager and a
script would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ccm_tui.fleet.simulator import MB, SimHost, SimulatedFleet

log = logging.getLogger("ccm.demo")

#: Posts a JSON body to a webhook path (``/alerts/generic``) and raises on failure.
Poster = Callable[[str, dict[str, Any]], Awaitable[None]]

DISK_OLD_LOGS, CRASHED, MEMORY_HOG = "disk-old-logs", "crashed-service", "memory-hog"
UNKNOWN_FILE, FLAPPING, PACKAGE = "unknown-file", "flapping", "package-update"
UPDATE_LINE = "openssl/stable-security 3.0.15-1~deb12u1 amd64 [upgradable from: 3.0.13-1~deb12u1]"
FLAP_FINGERPRINT = "demo-flapping-https-check"
FLAP_TIMES = 5


@dataclass
class Scenario:
    """One injected fault and what should become of it."""

    name: str
    host: str
    at: float
    expected: str
    alertname: str
    title: str
    injected_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def plan(fleet: SimulatedFleet, seed: int | None = None) -> list[Scenario]:
    """The demo's scenarios on ``fleet`` (at least 5 hosts), hosts and times from ``seed``."""
    rng = random.Random(seed)
    names = [h.name for h in fleet.hosts]
    if len(names) < 5:
        raise ValueError("the demo needs at least 5 hosts")
    taken: set[str] = set()

    def pick(role: str) -> str:
        free = [h.name for h in fleet.by_role(role) if h.name not in taken]
        choice = rng.choice(free or [n for n in names if n not in taken])
        taken.add(choice)
        return choice

    def at(base: float) -> float:
        return round(base + rng.uniform(0, 1.0), 1)

    web, app, db, worker = pick("web"), pick("app"), pick("db"), pick("worker")
    other = pick("web")
    return [
        Scenario(DISK_OLD_LOGS, web, at(1), "resolved", "DiskFull",
                 "a disk filling with old logs (fixed automatically)"),
        Scenario(CRASHED, app, at(2), "resolved", "ServiceDown",
                 "a crashed service (restarted automatically)"),
        Scenario(UNKNOWN_FILE, db, at(3), "escalated", "DiskFull",
                 "a disk filled by an unknown big file (escalated with findings)"),
        Scenario(MEMORY_HOG, worker, at(4), "awaiting_approval", "HighMemory",
                 "a memory hog (a restart is suggested; press a to approve)"),
        Scenario(FLAPPING, other, at(5), "suppressed", "HTTPCheckFailing",
                 "a flapping alert (suppressed)"),
        Scenario(PACKAGE, "all", at(6), "available_for_broadcast", "",
                 "a security update worth a broadcast (ctrl+p → Broadcast a command…)"),
    ]


def _now() -> datetime:
    return datetime.now(UTC)


class FaultInjector:
    """Injects ``scenarios`` into ``fleet`` on their schedule; alerts go through ``post``."""

    def __init__(self, fleet: SimulatedFleet, scenarios: list[Scenario], post: Poster) -> None:
        self.fleet = fleet
        self.scenarios = scenarios
        self.post = post
        self.errors: list[str] = []

    async def run(self, stop: asyncio.Event, *, grow_logs: float = 2.0) -> None:
        """Inject every scenario at its time (seconds from now), then keep logs growing."""
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        pending = sorted(self.scenarios, key=lambda s: s.at)
        next_grow = t0
        while not stop.is_set():
            now = loop.time()
            while pending and now - t0 >= pending[0].at:
                s = pending.pop(0)
                try:
                    await self.inject(s)
                except Exception as exc:  # one scenario's trouble never stops the others
                    log.exception("demo: injecting %s failed", s.name)
                    self.errors.append(f"{s.name}: {exc}")
            if now >= next_grow:
                await asyncio.to_thread(self._grow_logs)
                next_grow = now + grow_logs
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)

    def _grow_logs(self) -> None:
        """Every host writes a few lines to its live application log."""
        stamp = _now().strftime("%Y-%m-%dT%H:%M:%S")
        for h in self.fleet.hosts:
            with (h.root / "var/log/app/app.log").open("a") as fh:
                fh.write(f"{stamp} {h.name} {h.service}: handled request\n" * 4)

    async def inject(self, s: Scenario) -> None:
        """Cause the scenario's fault now."""
        s.injected_at = _now()
        log.info("demo: injecting %s on %s", s.name, s.host)
        if s.name == DISK_OLD_LOGS:
            await asyncio.to_thread(self._old_logs, self.fleet.get(s.host))
        elif s.name == UNKNOWN_FILE:
            await asyncio.to_thread(self._big_file, self.fleet.get(s.host))
        elif s.name == CRASHED:
            host = self.fleet.get(s.host)
            host.journal(host.service, f"{host.service}: segfault at 0 ip 00007f3a in libc.so.6")
            host.journal(host.service, f"systemd[1]: {host.service}: Failed with result "
                                       "'core-dump'.")
            host.set_unit(host.service, active=False, restarts=1)
        elif s.name == MEMORY_HOG:
            await self._memory_hog(s)
        elif s.name == FLAPPING:
            await self._flap(s)
        elif s.name == PACKAGE:
            for h in self.fleet.hosts:
                h.updates.write_text(UPDATE_LINE + "\n")
        else:
            raise ValueError(f"unknown scenario {s.name!r}")

    def _fill_to(self, host: SimHost, pct: float) -> int:
        return max(int(self.fleet.disk_bytes * pct) - host.used_bytes(), MB)

    def _old_logs(self, host: SimHost) -> None:
        need = self._fill_to(host, 0.93)
        for i in range(8):
            host.write(f"/var/log/app/app.log.{i + 1}", need // 8 + 1, age_days=10 + i)

    def _big_file(self, host: SimHost) -> None:
        host.write(f"/var/lib/{host.role}/export-{random.randrange(16**6):06x}.bin",
                   self._fill_to(host, 0.95))

    async def _memory_hog(self, s: Scenario) -> None:
        host = self.fleet.get(s.host)
        host.set_unit(host.service, mem_mb=7300)  # 93 % of 8 GiB: alerts at 90, probes at 95
        host.journal(host.service, f"{host.service}: queue backlog 2.1M messages, RSS 7.1 GiB")
        labels = {"alertname": s.alertname, "host": host.name, "instance": f"{host.name}:9100",
                  "severity": "critical", "service": host.service, "threshold": "90",
                  "job": "node", "ccm_demo": "memory-hog"}
        await self.post("/alerts/alertmanager", {
            "version": "4", "status": "firing", "receiver": "ccm", "groupKey": "{}:{}",
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://prometheus",
            "alerts": [{"status": "firing", "labels": labels, "annotations": {
                "summary": f"memory on {host.name} is 93% used",
                "description": f"{host.service} holds 7.1 GiB"},
                "startsAt": _now().isoformat(), "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"demo-memory-{host.name}"}]})

    async def _flap(self, s: Scenario) -> None:
        for i in range(FLAP_TIMES):
            for status in ("firing", "resolved"):
                body: dict[str, Any] = {
                    "name": s.alertname, "host": s.host, "status": status,
                    "severity": "warning", "summary": f"https://{s.host}/health is slow",
                    "labels": {"check": "https", "ccm_demo": "flapping"},
                    "fingerprint": FLAP_FINGERPRINT, "starts_at": _now().isoformat()}
                if status == "resolved":
                    body["ends_at"] = _now().isoformat()
                await self.post("/alerts/generic", body)
                await asyncio.sleep(0.15 if i else 0.4)


__all__ = [
    "FLAPPING",
    "FLAP_FINGERPRINT",
    "UPDATE_LINE",
    "FaultInjector",
    "Poster",
    "Scenario",
    "plan",
]
