"""A simulated host behaves like a real one where a daemon relies on it: SFTP paths are
relative to the login user's home, and a command still running when its session closes
is ended (what it started in tmux, like an agent, lives on)."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from ccm_tui.core.model import Task
from ccm_tui.core.states import TaskState
from ccm_tui.daemon.dispatcher import Daemon
from ccm_tui.daemon.options import DaemonOptions
from ccm_tui.fleet.inventory import load_inventory
from ccm_tui.fleet.known_hosts import TrustStore
from ccm_tui.fleet.simulator import MB, SimHost, SimulatedFleet
from ccm_tui.fleet.ssh import SSHPool
from ccm_tui.hub import Hub, open_hub
from ccm_tui.ingest.parsers import parsers
from ccm_tui.ingest.pipeline import Ingestor


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[SimulatedFleet]:
    async with SimulatedFleet(tmp_path / "fleet", count=1, disk_bytes=10 * MB) as fleet:
        yield fleet


def connect(fleet: SimulatedFleet, host: SimHost) -> Any:
    """A plain asyncssh client connection to ``host`` (``async with``)."""
    return asyncssh.connect("127.0.0.1", host.port, known_hosts=str(fleet.known_hosts),
                            client_keys=[str(fleet.client_key)], agent_path=None,
                            username=os.environ.get("USER") or "root")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def gone(pid: int) -> bool:
    for _ in range(200):
        if not alive(pid):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_sftp_paths_start_at_the_hosts_home(sim: SimulatedFleet, tmp_path: Path) -> None:
    [host] = sim.hosts
    elsewhere = tmp_path / "absolute.txt"
    async with connect(sim, host) as conn, conn.start_sftp_client() as sftp:
        await sftp.makedirs(".local/share/ccm-agent", exist_ok=True)
        async with sftp.open(".local/share/ccm-agent/hello", "w") as fh:
            await fh.write("hi")
        async with sftp.open(str(elsewhere), "w") as fh:
            await fh.write("abs")
        assert await sftp.realpath(".") == str(host.home.resolve())
        home = (await conn.run("pwd", check=True)).stdout
    assert (host.home / ".local/share/ccm-agent/hello").read_text() == "hi"
    assert elsewhere.read_text() == "abs"  # absolute paths are the commands' paths too
    assert str(home).strip() == str(host.home)


@pytest.mark.parametrize("closing", ["session", "connection"])
async def test_a_command_ends_with_its_session(sim: SimulatedFleet, closing: str) -> None:
    [host] = sim.hosts
    async with connect(sim, host) as conn:
        proc = await conn.create_process("echo $$; exec sleep 600")
        pid = int(await proc.stdout.readline())
        detached = await conn.run("setsid sleep 600 </dev/null >/dev/null 2>&1 & echo $!",
                                  check=True)
        survivor = int(str(detached.stdout))
        try:
            assert alive(pid)
            if closing == "session":
                proc.close()
                assert await gone(pid)
            else:
                conn.abort()
                assert await gone(pid)
            assert alive(survivor)  # started in a session of its own: as tmux is
        finally:
            os.kill(survivor, signal.SIGKILL)


async def test_a_daemon_with_the_default_agent_path_works_a_simulated_host(
        sim: SimulatedFleet, tmp_path: Path) -> None:
    [host] = sim.hosts
    for i in range(6):  # ~92% of the 10 MB: rotated logs the disk-full runbook removes
        host.write(f"/var/log/app/app.log.{i + 1}", 1_000_000, age_days=10)
    socket = f"ccm-sim-{secrets.token_hex(3)}"
    try:
        async with open_hub(f"sqlite:///{tmp_path / 'hub.db'}") as hub:
            await hub.migrate()
            await hub.set_paused(True, actor="jordan")  # it waits for approval, then fixes
            first = await run_daemon(sim, hub, socket, tmp_path)
            report = await Ingestor(hub).ingest(parsers()["generic"]({
                "name": "DiskFull", "host": host.name, "severity": "critical",
                "labels": {"mountpoint": "/"}}).alerts)
            [task_id] = report.task_ids
            await wait_state(hub, task_id, TaskState.AWAITING_APPROVAL)
            assert (host.home / ".local/share/ccm-agent/agent.pyz").is_file()
            assert tails(sim), "the daemon follows the journal with agent.pyz tail"
            await first.stop()
            for _ in range(200):
                if not tails(sim):
                    break
                await asyncio.sleep(0.05)
            assert not tails(sim)  # the daemon is gone: so are its tails
            assert f"ccm-{task_id}" in tmux_sessions(socket)  # the agent waits on
            await hub.decide(task_id, "approve", actor="jordan")
            second = await run_daemon(sim, hub, socket, tmp_path)
            done = await wait_state(hub, task_id, TaskState.RESOLVED, TaskState.FAILED,
                                    TaskState.ESCALATED)
            await second.stop()
            assert done.state is TaskState.RESOLVED, done.outcome
            assert done.attempts == 2
            assert sorted(p.name for p in (host.root / "var/log/app").iterdir()) == ["app.log"]
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)


class Running:
    """A daemon running on the test's loop."""

    def __init__(self, task: asyncio.Task[None], stop: asyncio.Event) -> None:
        self.task, self.stop_event = task, stop

    async def stop(self) -> None:
        self.stop_event.set()
        await asyncio.wait_for(self.task, 30)


async def run_daemon(fleet: SimulatedFleet, hub: Hub, socket: str, tmp: Path) -> Running:
    inventory = load_inventory(fleet.inventory_path, ssh_config=None)
    pool = SSHPool(inventory, trust=TrustStore([fleet.known_hosts],
                                               write_to=tmp / "ccm_known_hosts"))
    daemon = Daemon(hub, pool, inventory, DaemonOptions(  # the default agent path
        owner=f"sim-{secrets.token_hex(3)}", lease_seconds=3.0, poll_interval=0.5,
        tmux_socket=socket, reconnect_backoff=0.2, health_interval=None))
    stop = asyncio.Event()

    async def run() -> None:
        try:
            await daemon.run(stop)
        finally:
            await pool.close()

    task = asyncio.create_task(run())
    await asyncio.wait_for(daemon.started.wait(), 20)
    return Running(task, stop)


async def wait_state(hub: Hub, task_id: str, *states: TaskState) -> Task:
    for _ in range(1200):
        task = await hub.get_task(task_id)
        if task.state in states:
            return task
        await asyncio.sleep(0.1)
    raise AssertionError(f"{task_id} still {task.state}: {task.outcome}")


def tails(fleet: SimulatedFleet) -> list[int]:
    """Processes running ``agent.pyz tail`` in the fleet's folders."""
    base = str(fleet.base.resolve())
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if any(a.endswith(b"agent.pyz") for a in argv) and b"tail" in argv \
                and cwd.startswith(base) and alive(int(proc.name)):
            found.append(int(proc.name))
    return found


def tmux_sessions(socket: str) -> list[str]:
    out = subprocess.run(["tmux", "-L", socket, "list-sessions", "-F", "#{session_name}"],
                         capture_output=True, text=True)
    return out.stdout.split() if out.returncode == 0 else []
