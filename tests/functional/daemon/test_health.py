"""Health: probes over real SSH into sandboxed hosts, alerts through the real ingest path."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from ccm_tui.commands.probe import health_alert_sink
from ccm_tui.core.model import Alert, AlertStatus, HealthSnapshot, Task, TaskState, utcnow
from ccm_tui.daemon.dispatcher import Daemon
from ccm_tui.daemon.health import HealthMonitor
from ccm_tui.daemon.health_rules import fingerprint
from ccm_tui.fleet.inventory import FleetHost, sync_to_hub
from ccm_tui.fleet.known_hosts import TrustStore
from ccm_tui.fleet.ssh import SSHPool
from ccm_tui.hub import Hub, open_hub
from ccm_tui.ingest.pipeline import Ingestor
from tests.functional.daemon.conftest import MB, FleetEnv, make_env
from tests.support.ssh import free_port, write_ccm_inventory, write_known_hosts
from tests.unit.agent_runtime.runtime_helpers import put, sandbox


def full_disk(root: Path) -> Path:
    """A 10 MiB quota 92% full: 8 rotated logs 10 days old (what disk-full cleans) + a live log."""
    sandbox(root, total_bytes=10 * MB)
    for i in range(8):
        put(root, f"/var/log/app/app.log.{i + 1}", size=1_200_000, age_days=10)
    put(root, "/var/log/app/app.log", size=80_000, age_days=0)
    return root


@pytest.fixture
async def lite(tmp_path: Path) -> AsyncIterator[FleetEnv]:
    """A two-host fleet on an SQLite hub only (for tests about scheduling, not storage)."""
    async with open_hub(f"sqlite:///{tmp_path / 'hub.db'}") as hub:
        e = make_env(tmp_path, hub, hosts=2)
        try:
            yield e
        finally:
            await e.close()


def pool_for(env: FleetEnv, hosts: list[FleetHost]) -> SSHPool:
    return SSHPool(hosts, trust=TrustStore([env.known_hosts],
                                           write_to=env.tmp / "ccm_known_hosts"))


def monitor(env: FleetEnv, hub: Hub, pool: SSHPool, hosts: list[FleetHost],
            **options: object) -> HealthMonitor:
    opts = env.options(health_interval=options.pop("health_interval", 0.2), **options)
    return HealthMonitor(hub, pool, hosts, opts, health_alert_sink(Ingestor(hub)))


async def probe_alerts(hub: Hub, host: str, rule: str, key: str = "") -> list[Alert]:
    return await hub.list_alerts(fingerprint=fingerprint(host, rule, key))


async def open_tasks(hub: Hub, host: str, alertname: str) -> Task | None:
    return await hub.find_open_task(host, alertname)


async def test_disk_full_becomes_a_task_dedupes_and_resolves(env: FleetEnv, hub: Hub) -> None:
    root = full_disk(env.roots["web-01"])
    hosts = list(env.inventory)
    await sync_to_hub(hub, hosts)
    async with pool_for(env, hosts) as pool:
        mon = monitor(env, hub, pool, hosts)
        snap = await mon.probe_once("web-01")  # pushes the agent first: the host has none
        assert snap.reachable and snap.disk_pct is not None and snap.disk_pct >= 90
        assert snap.data["mounts"][0]["fstype"] == "simulated"
        [stored] = await hub.health_history("web-01")
        assert stored.disk_pct == snap.disk_pct
        [alert] = await probe_alerts(hub, "web-01", "DiskFull", "/")
        assert alert.status is AlertStatus.FIRING and alert.source == "ccm-probe"
        assert alert.labels["mountpoint"] == "/" and alert.labels["threshold"] == "90"
        task = await open_tasks(hub, "web-01", "DiskFull")
        assert task is not None and task.managed and task.alert_fingerprint == alert.fingerprint
        assert task.spec["alert"]["labels"]["mountpoint"] == "/"

        await mon.probe_once("web-01")  # still full: the same episode, nothing new
        # A restarted monitor adopts the firing episode instead of opening another.
        mon2 = monitor(env, hub, pool, hosts)
        await mon2.restore()
        await mon2.probe_once("web-01")
        assert [a.status for a in await probe_alerts(hub, "web-01", "DiskFull", "/")] == [
            AlertStatus.FIRING]
        assert [t.id for t in await hub.list_tasks() if t.alertname == "DiskFull"] == [task.id]

        for log in (root / "var/log/app").glob("app.log.*"):
            log.unlink()
        cleared = await mon2.probe_once("web-01")
        assert cleared.disk_pct is not None and cleared.disk_pct < 90
        statuses = [a.status for a in await probe_alerts(hub, "web-01", "DiskFull", "/")]
        assert statuses == [AlertStatus.RESOLVED, AlertStatus.FIRING]  # newest first
        assert (await hub.get_task(task.id)).state is TaskState.RESOLVED_UPSTREAM
        assert len(await hub.health_history("web-01")) == 4


async def test_unreachable_host_alerts_after_two_probes_and_recovers(
        env: FleetEnv, hub: Hub) -> None:
    sandbox(env.roots["web-02"])
    real = env.inventory.get("web-02")
    dead = dataclasses.replace(real, port=free_port())
    hosts = [env.inventory.get("web-01"), dead]
    await sync_to_hub(hub, hosts)
    async with pool_for(env, [*hosts, real]) as pool:
        mon = monitor(env, hub, pool, hosts)
        first = await mon.probe_once("web-02")
        assert not first.reachable and first.data["error"]
        assert await probe_alerts(hub, "web-02", "HostUnreachable") == []  # for: 2 probes
        await mon.probe_once("web-02")
        [alert] = await probe_alerts(hub, "web-02", "HostUnreachable")
        assert alert.status is AlertStatus.FIRING and alert.starts_at == first.taken_at
        assert alert.annotations["description"]
        task = await open_tasks(hub, "web-02", "HostUnreachable")
        assert task is not None
        history = await hub.health_history("web-02")
        assert [s.reachable for s in history] == [False, False]

        mon.hosts["web-02"] = real  # the host is back
        back = await mon.probe_once("web-02")
        assert back.reachable
        statuses = [a.status for a in await probe_alerts(hub, "web-02", "HostUnreachable")]
        assert statuses == [AlertStatus.RESOLVED, AlertStatus.FIRING]
        assert (await hub.get_task(task.id)).state is TaskState.RESOLVED_UPSTREAM
        assert mon.stats["web-02"].unreachable == 2


async def test_a_refused_login_is_about_access_not_an_unreachable_host(
        env: FleetEnv, hub: Hub) -> None:
    from ccm_tui.config.sections import NotifySettings
    from ccm_tui.notify.channels import should_page
    from tests.support.ssh import make_keypair

    sandbox(env.roots["web-02"])
    real = env.inventory.get("web-02")
    stranger = make_keypair(env.tmp / "stranger" / "id_ed25519")
    locked_out = dataclasses.replace(real, identity_files=(str(stranger.private),))
    await sync_to_hub(hub, [locked_out])
    async with pool_for(env, [locked_out]) as pool:
        mon = monitor(env, hub, pool, [locked_out])
        first = await mon.probe_once("web-02")
        assert not first.reachable and first.data["error_kind"] == "auth"
        await mon.probe_once("web-02")
        [alert] = await probe_alerts(hub, "web-02", "HostAccessRefused")
        assert alert.status is AlertStatus.FIRING and alert.severity.value == "info"
        assert alert.annotations["summary"] == "CCM cannot log in to web-02 to check its health"
        assert "refused our key" in alert.annotations["description"]
        assert await probe_alerts(hub, "web-02", "HostUnreachable") == []
        task = await open_tasks(hub, "web-02", "HostAccessRefused")
        assert task is not None and task.severity == "info"  # Slack and the report, no page
        assert not should_page(NotifySettings(), task.severity, "web")

    async with pool_for(env, [real]) as pool:  # the key is fixed
        mon.pool, mon.hosts["web-02"] = pool, real
        assert (await mon.probe_once("web-02")).reachable
        statuses = [a.status for a in await probe_alerts(hub, "web-02", "HostAccessRefused")]
        assert statuses == [AlertStatus.RESOLVED, AlertStatus.FIRING]
        assert (await hub.get_task(task.id)).state is TaskState.RESOLVED_UPSTREAM


async def test_forecast_flags_a_disk_filling_up(env: FleetEnv, hub: Hub) -> None:
    root = sandbox(env.roots["web-01"], total_bytes=10 * MB)
    put(root, "/var/lib/app/data.bin", size=8 * MB)  # 80% now: below DiskFull
    hosts = list(env.inventory)
    await sync_to_hub(hub, hosts)
    now = utcnow()
    # The last 3 hours: 50% → 77.5%, +10% per hour (and one unreachable probe).
    for i in range(12):
        used = int((0.5 + 0.025 * i) * 10 * MB)
        await hub.record_health(HealthSnapshot(
            "web-01", now - timedelta(minutes=180 - 15 * i), disk_pct=used / (10 * MB) * 100,
            data={"mounts": [{"mount": "/", "total_bytes": 10 * MB, "used_bytes": used,
                              "free_bytes": 10 * MB - used, "used_pct": used / MB * 10}]}))
    await hub.record_health(HealthSnapshot("web-01", now - timedelta(minutes=1),
                                           reachable=False, data={"error": "timeout"}))
    async with pool_for(env, hosts) as pool:
        mon = monitor(env, hub, pool, hosts)
        snap = await mon.probe_once("web-01")
        assert snap.disk_pct is not None and 75 < snap.disk_pct < 90
    [alert] = await probe_alerts(hub, "web-01", "DiskFillingUp", "/")
    assert alert.status is AlertStatus.FIRING
    assert 0 < float(alert.annotations["hours_left"]) < 72
    assert await probe_alerts(hub, "web-01", "DiskFull", "/") == []
    assert await open_tasks(hub, "web-01", "DiskFillingUp") is not None


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


async def test_a_failed_unit_raises_service_down(env: FleetEnv, hub: Hub) -> None:
    sandbox(env.roots["web-01"])
    bin_dir = env.tmp / "fakebin"
    bin_dir.mkdir()
    failed = env.tmp / "failed-units"
    failed.write_text("● nginx.service loaded failed failed A web server\n")
    _script(bin_dir / "systemctl", f'cat "{failed}"\n')
    py = _script(env.tmp / "py", f'PATH="{bin_dir}:$PATH" exec {sys.executable} "$@"\n')
    hosts = [dataclasses.replace(env.inventory.get("web-01"), python=str(py))]
    await sync_to_hub(hub, hosts)
    async with pool_for(env, hosts) as pool:
        mon = monitor(env, hub, pool, hosts)
        snap = await mon.probe_once("web-01")
        assert snap.data["failed_units"] == ["nginx.service"]
        [alert] = await probe_alerts(hub, "web-01", "ServiceDown", "nginx.service")
        assert alert.labels["service"] == "nginx"
        failed.write_text("")
        await mon.probe_once("web-01")
        assert [a.status for a in await probe_alerts(hub, "web-01", "ServiceDown",
                                                     "nginx.service")] == [
            AlertStatus.RESOLVED, AlertStatus.FIRING]


async def test_probes_of_a_host_never_overlap(lite: FleetEnv) -> None:
    """A probe slower than the interval delays the next one instead of running beside it."""
    env, hub = lite, lite.hub
    sandbox(env.roots["web-01"])
    log = env.tmp / "probe-times.log"
    # Every probe takes longer than the 0.2 s interval; the wrapper logs start and end.
    py = _script(env.tmp / "slowpy", f"""case "$2" in probe)
  echo "start $(date +%s.%N)" >> "{log}"; sleep 0.5
  {sys.executable} "$@"; rc=$?
  echo "end $(date +%s.%N)" >> "{log}"; exit $rc;;
esac
exec {sys.executable} "$@"
""")
    hosts = [dataclasses.replace(env.inventory.get("web-01"), python=str(py))]
    async with pool_for(env, hosts) as pool:
        mon = monitor(env, hub, pool, hosts, health_interval=0.2)
        stop = asyncio.Event()
        runner = asyncio.create_task(mon.run(stop))
        for _ in range(600):
            if mon.stats.get("web-01") and mon.stats["web-01"].finished >= 4:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(runner, 20)
        stats = mon.stats["web-01"]
        assert stats.finished >= 4 and stats.max_in_flight == 1
        assert len(await hub.health_history("web-01")) == stats.finished
    events = [(kind, float(t)) for kind, t in (line.split() for line in
                                               log.read_text().splitlines())]
    kinds = [k for k, _ in events]
    finished = [k for k in kinds if k == "end"]
    assert kinds[:2 * len(finished)] == ["start", "end"] * len(finished)  # strictly alternating
    times = [t for _, t in events]
    assert times == sorted(times)  # each probe starts after the previous one ended


async def test_the_daemon_fixes_what_its_probe_found(lite: FleetEnv) -> None:
    env, hub = lite, lite.hub
    root = full_disk(env.roots["web-01"])
    sandbox(env.roots["web-02"])
    pool = env.pool()
    d = Daemon(hub, pool, env.inventory, env.options(health_interval=0.3),
               health_sink=health_alert_sink(Ingestor(hub)))
    stop = asyncio.Event()
    runner = asyncio.create_task(d.run(stop))
    try:
        fp = fingerprint("web-01", "DiskFull", "/")
        for _ in range(900):  # probe → alert → task → agent → fix → probe → resolved
            statuses = [a.status for a in await hub.list_alerts(fingerprint=fp)]
            if AlertStatus.RESOLVED in statuses:
                break
            await asyncio.sleep(0.1)
        assert statuses == [AlertStatus.RESOLVED, AlertStatus.FIRING]
        [task] = [t for t in await hub.list_tasks() if t.alertname == "DiskFull"]
        for _ in range(300):  # the probe may see the space freed before `finished` lands
            if task.state.is_terminal:
                break
            await asyncio.sleep(0.1)
            task = await hub.get_task(task.id)
        assert task.state is TaskState.RESOLVED and task.runbook == "disk-full"
        assert len(list((root / "var/log/app").iterdir())) == 1
    finally:
        stop.set()
        await asyncio.wait_for(runner, 30)
        await pool.close()


async def test_ccm_fleet_probe_json_via_the_cli(lite: FleetEnv, tmp_path: Path) -> None:
    env = lite
    sqlite_url = f"sqlite:///{tmp_path / 'hub.db'}"
    full_disk(env.roots["web-01"])
    names = [(h.name, h.port) for h in env.inventory] + [("web-dead", free_port())]
    inv = write_ccm_inventory(
        env.tmp / "probe-inventory.yaml", names, identity=env.key.private,
        python=shutil.which("python3") or sys.executable,
        labels={"web-01": {"ccm_root": str(env.roots["web-01"])}})
    write_known_hosts(env.tmp / ".ssh" / "known_hosts", env.fleet.known_hosts_entries())
    def probe(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ccm_tui", "--hub", sqlite_url, "--inventory", str(inv),
             "fleet", "probe", "--hosts", "web-01,web-dead", *extra],
            capture_output=True, text=True, timeout=120,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("CCM_")},
                 "HOME": str(env.tmp), "XDG_CONFIG_HOME": str(env.tmp / "config")})

    out = await asyncio.to_thread(probe, "--json")
    assert out.returncode == 1, out.stderr  # one host could not be probed
    doc = json.loads(out.stdout)
    rows = {r["host"]: r for r in doc["hosts"]}
    assert doc["ok"] is False and set(rows) == {"web-01", "web-dead"}
    assert rows["web-01"]["reachable"] and rows["web-01"]["ok"]
    assert rows["web-01"]["disk_pct"] >= 90 and rows["web-01"]["disk_mount"] == "/"
    assert rows["web-01"]["probe_ms"] > 0 and rows["web-01"]["mem_pct"] is not None
    assert not rows["web-dead"]["reachable"] and rows["web-dead"]["error"]

    text = await asyncio.to_thread(probe)  # for a person: the error in full, after the table
    assert text.returncode == 1, text.stderr
    lines = text.stdout.splitlines()
    assert any(line.startswith("1 not probed ─") for line in lines)
    [dead] = [line for line in lines if line.startswith("web-dead  (")]
    assert dead.endswith("unreachable: connection refused") and dead.count("web-dead") == 1

    latest = await env.hub.latest_health()
    assert latest["web-01"].disk_pct == rows["web-01"]["disk_pct"]
    assert latest["web-dead"].reachable is False
