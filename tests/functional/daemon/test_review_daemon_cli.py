"""``ccm daemon`` and ``ccm up`` as processes, as an on-call engineer runs them: what they
say on start (hosts, inventory, runbooks, hub, where alerts go), and on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from ccm_tui.core.states import TaskState
from ccm_tui.hub import open_hub
from tests.functional.daemon.conftest import FleetEnv, full_disk, make_env
from tests.unit.cli_support import UNREACHABLE_PG


@pytest.fixture
def sqlite_hub_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hub.db'}"


@pytest.fixture
async def lite_env(sqlite_hub_url: str, tmp_path: Path) -> AsyncIterator[FleetEnv]:
    async with open_hub(sqlite_hub_url) as hub:
        e = make_env(tmp_path, hub, hosts=2)
        try:
            yield e
        finally:
            await e.close()


def start_ccm(tmp: Path, *args: str, log: Path,
              extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CCM_")},
           "HOME": str(tmp), "XDG_CONFIG_HOME": str(tmp / "config"),
           "XDG_DATA_HOME": str(tmp / "data"), **(extra_env or {})}
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "ccm_tui", *args], env=env,
                                stdout=subprocess.DEVNULL, stderr=out,
                                start_new_session=True)


async def wait_for_line(proc: subprocess.Popen[bytes], log: Path, pattern: str,
                        timeout: float = 60) -> re.Match[str]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        m = re.search(pattern, log.read_text())
        if m:
            return m
        if proc.poll() is not None or asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no {pattern!r} in the log:\n{log.read_text()}")
        await asyncio.sleep(0.1)


async def stopped(proc: subprocess.Popen[bytes], sig: signal.Signals) -> int:
    proc.send_signal(sig)
    try:
        return await asyncio.to_thread(proc.wait, 30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


async def test_sigterm_hands_a_waiting_task_back_and_says_so(
        lite_env: FleetEnv, sqlite_hub_url: str) -> None:
    env, hub = lite_env, lite_env.hub
    full_disk(env.roots["web-01"])
    await hub.set_paused(True, actor="jordan", reason="deploy")
    task = await env.alert("web-01")
    log = env.tmp / "daemon.log"
    proc = start_ccm(env.tmp, "--hub", sqlite_hub_url, "--inventory", str(env.inventory_path),
                     "daemon", "--owner", "night-shift", "--tmux-socket", env.tmux_socket,
                     "--known-hosts", str(env.known_hosts), "--no-notify", log=log)
    try:
        banner = (await wait_for_line(proc, log, r"ccm daemon night-shift: .*")).group(0)
        assert f"2 hosts from {env.inventory_path}" in banner
        assert re.search(r" · \d+ runbooks · hub sqlite:///", banner), banner
        waiting = await env.wait_state(task.id, TaskState.AWAITING_APPROVAL, timeout=60)
        assert waiting.lease_owner == "night-shift"
        assert await stopped(proc, signal.SIGTERM) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    said = log.read_text()
    assert "automatic fixes are paused by jordan (deploy): fixes wait for approval" in said
    assert "SIGTERM: stopping — handing running tasks back" in said
    assert (f"ccm daemon night-shift: stopped; handed back 1 running task ({task.id}): the "
            "agents keep running on their hosts and the next daemon re-attaches") in said
    assert "Traceback" not in said
    assert said.count("night-shift: 2 hosts") == 1  # one start line, not two
    assert (await hub.get_task(task.id)).lease_owner is None  # the next daemon takes it at once


async def test_an_empty_inventory_is_warned_about_and_a_quiet_stop_says_so(
        sqlite_hub_url: str, tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("hosts: {}\n")
    log = tmp_path / "daemon.log"
    proc = start_ccm(tmp_path, "--hub", sqlite_hub_url, "--inventory", str(inventory),
                     "daemon", "--owner", "idle", "--no-notify", log=log)
    try:
        await wait_for_line(proc, log, r"ccm daemon idle: 0 hosts from ")
        await wait_for_line(proc, log, r"lists no hosts: this daemon runs no agent")
        assert await stopped(proc, signal.SIGINT) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert "ccm daemon idle: stopped; no task was running" in log.read_text()


async def test_up_says_where_it_listens_while_the_hub_is_down_and_stops_cleanly(
        tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("hosts: {}\n")
    log = tmp_path / "up.log"
    proc = start_ccm(tmp_path, "--hub", UNREACHABLE_PG, "--inventory", str(inventory), "up",
                     "--listen", "127.0.0.1:0", "--no-notify", log=log)
    try:
        m = await wait_for_line(proc, log, r"ccm up: receiving on (http://127\.0\.0\.1:\d+)"
                                           r"/alerts/\{alertmanager,grafana,kibana,generic\}"
                                           r" · auth none")
        await wait_for_line(proc, log, r"unreachable .*alerts get 503 until then")
        async with aiohttp.ClientSession() as session, \
                session.get(f"{m.group(1)}/healthz") as resp:
            assert resp.status == 503
        assert await stopped(proc, signal.SIGTERM) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    said = log.read_text()
    assert "ccm up: stopped before the hub answered; no task was claimed" in said
    assert "ccm daemon" not in said and "Traceback" not in said


async def test_up_holds_a_flapping_alert_as_the_config_says(tmp_path: Path,
                                                            sqlite_hub_url: str) -> None:
    """`ccm up` reads webhook.flap_threshold like `ccm webhook` (it used the default 3)."""
    (tmp_path / "config").mkdir()
    config = tmp_path / "ccm.toml"
    config.write_text("[webhook]\nflap_threshold = 1\nflap_window_minutes = 60\n")
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("hosts: {}\n")
    log = tmp_path / "up.log"
    proc = start_ccm(tmp_path, "--hub", sqlite_hub_url, "--config", str(config), "--inventory",
                     str(inventory), "up", "--listen", "127.0.0.1:0", "--no-notify",
                     "--owner", "flaps", log=log)
    try:
        await wait_for_line(proc, log, r"ccm daemon flaps: ")
        m = await wait_for_line(proc, log, r"(http://127\.0\.0\.1:\d+)/alerts/")
        outcomes = []
        async with aiohttp.ClientSession() as session:
            for status in ("firing", "resolved", "firing", "resolved", "firing"):
                body = {"name": "Flappy", "host": "web-01", "status": status,
                        "fingerprint": "f1"}
                async with session.post(f"{m.group(1)}/alerts/generic", json=body) as resp:
                    assert resp.status == 200, await resp.text()
                    outcomes.append((await resp.json())["outcomes"])
        assert await stopped(proc, signal.SIGTERM) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert outcomes[2:] == [{"flapping": 1}, {"resolved_no_task": 1}, {"flapping": 1}], outcomes
