"""A filesystem out of inodes: the probe saw it (``inodes_pct``) and no rule said so.

Before, a mount at 100 % of its inodes with free bytes — every new file failing with
"No space left on device" — raised nothing, although CCM ships the
``inode-exhaustion`` runbook for exactly that. Now ``InodesExhausted`` fires, the
daemon runs that runbook, and the alert resolves once the probe sees inodes free.
Real SSH, a real agent on a sandboxed host, the real ingest path.
"""

from __future__ import annotations

import asyncio

from ccm_tui.commands.probe import health_alert_sink
from ccm_tui.core.model import AlertStatus, HealthSnapshot, utcnow
from ccm_tui.core.states import TaskState
from ccm_tui.daemon.dispatcher import Daemon
from ccm_tui.daemon.health_rules import HealthRules, HostRules, evaluate, fingerprint
from ccm_tui.ingest.pipeline import Ingestor
from tests.functional.daemon.conftest import FleetEnv
from tests.unit.agent_runtime.runtime_helpers import put, sandbox


async def test_inodes_exhausted_fires_the_runbook_fixes_it_and_it_resolves(
        one_host: FleetEnv) -> None:
    env, hub = one_host, one_host.hub
    root = sandbox(env.roots["web-01"], total_inodes=1100)
    for i in range(1050):  # tiny session leftovers, a week old: bytes free, inodes not
        put(root, f"/tmp/sess-{i:04d}", size=1, age_days=7)
    pool = env.pool()
    d = Daemon(hub, pool, env.inventory, env.options(health_interval=0.3),
               health_sink=health_alert_sink(Ingestor(hub)))
    stop = asyncio.Event()
    runner = asyncio.create_task(d.run(stop))
    try:
        fp = fingerprint("web-01", "InodesExhausted", "/")
        statuses: list[AlertStatus] = []
        for _ in range(900):  # probe → alert → task → agent → fix → probe → resolved
            statuses = [a.status for a in await hub.list_alerts(fingerprint=fp)]
            if AlertStatus.RESOLVED in statuses:
                break
            await asyncio.sleep(0.1)
        assert statuses == [AlertStatus.RESOLVED, AlertStatus.FIRING]
        [firing] = [a for a in await hub.list_alerts(fingerprint=fp)
                    if a.status is AlertStatus.FIRING]
        assert firing.labels["mountpoint"] == "/" and firing.labels["threshold"] == "90"
        [task] = [t for t in await hub.list_tasks() if t.alertname == "InodesExhausted"]
        for _ in range(300):
            if task.state.is_terminal:
                break
            await asyncio.sleep(0.1)
            task = await hub.get_task(task.id)
        assert task.state is TaskState.RESOLVED and task.runbook == "inode-exhaustion"
        assert not list((root / "tmp").glob("sess-*"))
    finally:
        stop.set()
        await asyncio.wait_for(runner, 30)
        await pool.close()


def test_inodes_hold_like_bytes_and_say_how_many_are_left() -> None:
    rules, state = HealthRules(), HostRules("web-01", HealthRules())
    sent = []
    for pct in (95.0, 89.0, 87.9):
        snap = HealthSnapshot("web-01", utcnow(), data={"mounts": [
            {"mount": "/srv", "used_pct": 10.0, "inodes_pct": pct, "inodes_total": 1000,
             "inodes_used": int(pct * 10)}]})
        ev = evaluate(snap, [snap], rules, state.firing_keys())
        sent += [(a.status.value, a.annotations.get("description", "")) for a in
                 state.update(ev, snap.taken_at)]
    assert [s for s, _ in sent] == ["firing", "resolved"]
    assert sent[0][1].startswith("/srv is out of inodes: 95% used (threshold 90%), 50 left")
