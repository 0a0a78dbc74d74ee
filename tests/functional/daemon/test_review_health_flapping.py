"""A disk or memory hovering at its threshold raises one alert, not one per probe.

Before, DiskFull fired at 90.1 %, resolved at 89.9 %, fired again…: with probes every
30 s that was a new alert, task and page each minute until ingest's flap detection
held the fourth. Real probes over SSH into a sandboxed host, the real ingest path.
"""

from __future__ import annotations

from datetime import timedelta

from ccm_tui.commands.probe import health_alert_sink
from ccm_tui.core.model import AlertStatus, HealthSnapshot, utcnow
from ccm_tui.core.states import TaskState
from ccm_tui.daemon.health import HealthMonitor
from ccm_tui.daemon.health_rules import HealthRules, HostRules, evaluate, fingerprint
from ccm_tui.fleet.inventory import sync_to_hub
from ccm_tui.fleet.known_hosts import TrustStore
from ccm_tui.fleet.ssh import SSHPool
from ccm_tui.ingest.pipeline import Ingestor
from tests.functional.daemon.conftest import MB, FleetEnv
from tests.unit.agent_runtime.runtime_helpers import put, sandbox


async def test_a_disk_hovering_at_90_percent_is_one_alert_and_one_task(
        one_host: FleetEnv) -> None:
    env, hub = one_host, one_host.hub
    root = sandbox(env.roots["web-01"], total_bytes=100 * MB)
    hosts = list(env.inventory)
    await sync_to_hub(hub, hosts)
    pool = SSHPool(hosts, trust=TrustStore([env.known_hosts],
                                           write_to=env.tmp / "ccm_known_hosts"))
    async with pool:
        mon = HealthMonitor(hub, pool, hosts, env.options(health_interval=30),
                            health_alert_sink(Ingestor(hub)))
        seen: list[float] = []
        for pct in (90.4, 89.6, 90.3, 89.5, 90.2, 89.7, 88.5):
            put(root, "/var/lib/app/data.bin", size=int(pct / 100 * 100 * MB))
            seen.append((await mon.probe_once("web-01")).disk_pct or 0.0)
        assert seen[0] >= 90 and 88 < min(seen) < 90  # it did cross, back and forth
        alerts = await hub.list_alerts(fingerprint=fingerprint("web-01", "DiskFull", "/"))
        assert [a.status for a in alerts] == [AlertStatus.FIRING]
        assert [t.alertname for t in await hub.list_tasks()] == ["DiskFull"]
        assert mon.state["web-01"].firing() == ["DiskFull:/"]

        put(root, "/var/lib/app/data.bin", size=80 * MB)  # cleaned up for real
        await mon.probe_once("web-01")
        alerts = await hub.list_alerts(fingerprint=fingerprint("web-01", "DiskFull", "/"))
        assert [a.status for a in alerts] == [AlertStatus.RESOLVED, AlertStatus.FIRING]
        [task] = await hub.list_tasks()
        assert task.state is TaskState.RESOLVED_UPSTREAM
        assert mon.state["web-01"].firing() == []


def _mem(i: int, pct: float) -> HealthSnapshot:
    return HealthSnapshot("web-01", utcnow() + timedelta(seconds=30 * i), mem_pct=pct,
                          data={"memory": {"used_pct": pct}})


def test_memory_hovering_at_95_percent_fires_once_and_clears_below_93() -> None:
    rules, state = HealthRules(), HostRules("web-01", HealthRules())
    sent = []
    for i, pct in enumerate((96.0, 95.5, 94.0, 95.2, 93.5, 96.0, 94.8, 92.9)):
        snap = _mem(i, pct)
        ev = evaluate(snap, [snap], rules, state.firing_keys())
        sent += [(a.alertname, a.status.value, pct) for a in state.update(ev, snap.taken_at)]
    assert sent == [("HighMemory", "firing", 95.5), ("HighMemory", "resolved", 92.9)]


def test_a_rule_not_yet_firing_still_needs_its_threshold() -> None:
    rules, state = HealthRules(), HostRules("web-01", HealthRules())
    for i in range(4):
        snap = _mem(i, 94.0)  # above the clearing level, below the threshold: never fires
        assert state.update(evaluate(snap, [snap], rules, state.firing_keys()),
                            snap.taken_at) == []


def _disk(i: int, pct: float) -> HealthSnapshot:
    return HealthSnapshot("web-01", utcnow() + timedelta(seconds=30 * i), disk_pct=pct,
                          data={"mounts": [{"mount": "/", "used_pct": pct}]})


def test_a_fix_that_leaves_the_disk_at_89_percent_resolves_and_a_refill_fires_again() -> None:
    """The disk-full runbook verifies < 90 %: its fix must not leave the alert firing
    (and a later refill unannounced) because 89 % is above the clearing level."""
    rules, state = HealthRules(), HostRules("web-01", HealthRules())
    sent = []
    for i, pct in enumerate((92.0, 89.0, 89.2, 89.1, 89.3, 91.0)):
        snap = _disk(i, pct)
        ev = evaluate(snap, [snap], rules, state.firing_keys())
        sent += [(a.status.value, pct) for a in state.update(ev, snap.taken_at)]
    assert sent == [("firing", 92.0), ("resolved", 89.1), ("firing", 91.0)]


def test_a_forecast_just_past_the_horizon_settles_the_same_way() -> None:
    gb, t0 = 10**9, utcnow()
    # +1 GB/h, 20 GB of 100 used: full in 80 h — past the 72 h horizon, under 72 × 1.25.
    history = [HealthSnapshot("web-01", t0 + timedelta(minutes=10 * i), data={"mounts": [
        {"mount": "/", "used_pct": 19 + i / 6, "used_bytes": int(19 * gb + i * gb / 6),
         "free_bytes": int(81 * gb - i * gb / 6)}]}) for i in range(7)]
    rules, key = HealthRules(), ("DiskFillingUp", "/")
    assert key not in evaluate(history[-1], history, rules).findings  # would not fire
    ev = evaluate(history[-1], history, rules, {key})
    assert key in ev.findings and ev.settling == {key}  # a firing one holds, settling
