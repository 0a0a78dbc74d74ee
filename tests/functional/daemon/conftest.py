"""A simulated fleet for daemon tests: asyncssh servers (real SSH, real subprocesses),
real tmux on the "host" side, sandboxed filesystem roots, and a real hub."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ccm_tui.core.model import Task, TaskState
from ccm_tui.daemon.dispatcher import Daemon
from ccm_tui.daemon.options import DaemonOptions
from ccm_tui.fleet.inventory import FleetHost, Inventory, load_inventory
from ccm_tui.fleet.known_hosts import TrustStore
from ccm_tui.fleet.ssh import SSHPool
from ccm_tui.hub import Hub
from ccm_tui.ingest.parsers import parsers
from ccm_tui.ingest.pipeline import Ingestor
from tests.support.ssh import (
    AsyncsshFleet,
    KeyFiles,
    make_keypair,
    write_ccm_inventory,
    write_known_hosts,
)
from tests.unit.agent_runtime.runtime_helpers import put, sandbox

MB = 1024 * 1024


def full_disk(root: Path) -> Path:
    """A 10 MB quota, 92% full: 8 rotated logs 10 days old plus a live log."""
    sandbox(root, total_bytes=10 * MB)
    for i in range(8):
        put(root, f"/var/log/app/app.log.{i + 1}", size=1_140_000, age_days=10)
    put(root, "/var/log/app/app.log", size=80_000, age_days=0)
    return root


@dataclass
class FleetEnv:
    """Everything a daemon test needs; ``close`` tears it all down."""

    tmp: Path
    hub: Hub
    fleet: AsyncsshFleet
    key: KeyFiles
    inventory_path: Path
    known_hosts: Path
    tmux_socket: str
    roots: dict[str, Path]
    daemons: list[tuple[asyncio.Task[None], asyncio.Event]] = field(default_factory=list)

    @property
    def inventory(self) -> Inventory:
        return load_inventory(self.inventory_path, ssh_config=None)

    def options(self, **kw: Any) -> DaemonOptions:
        base: dict[str, Any] = dict(owner=f"test-daemon-{secrets.token_hex(3)}",
                                    lease_seconds=3.0, poll_interval=0.5,
                                    tmux_socket=self.tmux_socket, reconnect_backoff=0.2)
        base.update(kw)
        return DaemonOptions(**base)

    def pool(self) -> SSHPool:
        return SSHPool(self.inventory, trust=TrustStore([self.known_hosts],
                                                        write_to=self.tmp / "ccm_known_hosts"))

    async def start_daemon(self, hosts: Iterable[FleetHost] | None = None, **kw: Any) -> Daemon:
        """A daemon on this fleet (its inventory is ``hosts`` when given), running."""
        pool = self.pool()
        d = Daemon(self.hub, pool, self.inventory if hosts is None else list(hosts),
                   self.options(**kw))
        stop = asyncio.Event()

        async def run() -> None:
            try:
                await d.run(stop)
            finally:
                await pool.close()

        self.daemons.append((asyncio.create_task(run()), stop))
        await asyncio.wait_for(d.started.wait(), 20)
        return d

    async def stop_daemons(self) -> None:
        for _task, stop in self.daemons:
            stop.set()
        for task, _ in self.daemons:
            try:
                await asyncio.wait_for(task, 20)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        self.daemons.clear()

    async def alert(self, host: str, name: str = "DiskFull", **labels: str) -> Task:
        """Raise an alert through the real ingest path; return its task."""
        body = {"name": name, "host": host, "severity": "critical",
                "labels": {"mountpoint": "/", **labels}}
        report = await Ingestor(self.hub).ingest(parsers()["generic"](body).alerts)
        [task_id] = report.task_ids
        return await self.hub.get_task(task_id)

    async def wait_state(self, task_id: str, *states: TaskState, timeout: float = 60) -> Task:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            task = await self.hub.get_task(task_id)
            if task.state in states:
                return task
            if asyncio.get_running_loop().time() > deadline:
                events = [e.type for e in await self.hub.list_events(task_id)]
                raise AssertionError(f"{task_id} still {task.state} ({task.outcome}); "
                                     f"events {events}")
            await asyncio.sleep(0.1)

    def tmux_sessions(self) -> list[str]:
        out = subprocess.run(["tmux", "-L", self.tmux_socket, "list-sessions", "-F",
                              "#{session_name}"], capture_output=True, text=True)
        return out.stdout.split() if out.returncode == 0 else []

    async def close(self) -> None:
        await self.stop_daemons()
        subprocess.run(["tmux", "-L", self.tmux_socket, "kill-server"], capture_output=True)
        self.kill_agents()
        self.fleet.stop()

    def kill_agents(self) -> None:
        """End agents still running in this fleet's home (a test that failed midway
        leaves one waiting for approval: agents outlive their daemon and tmux by design)."""
        home = str((self.tmp / "home").resolve())
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes()
                cwd = os.readlink(proc / "cwd")
            except OSError:
                continue
            if b"agent.pyz" in cmdline and (cwd == home or cwd.startswith(home + "/")):
                with contextlib.suppress(OSError):
                    os.kill(int(proc.name), signal.SIGKILL)


def make_env(tmp: Path, hub: Hub, hosts: int = 1, groups: dict[str, list[str]] | None = None,
             roots: bool = True) -> FleetEnv:
    key = make_keypair(tmp / "client")
    home = tmp / "home"
    home.mkdir()
    fleet = AsyncsshFleet(hosts, authorized_keys=[key.public_line], home=home).start()
    names = [(f"web-{i + 1:02d}", port) for i, (_n, port) in enumerate(fleet.hosts())]
    host_roots = {name: tmp / "roots" / name for name, _ in names}
    labels = {name: {"ccm_root": str(root)} for name, root in host_roots.items()} if roots \
        else {}
    inv = write_ccm_inventory(
        tmp / "inventory.yaml", names, identity=key.private, python="/usr/bin/python3",
        groups=groups or {name: ["web"] for name, _ in names}, labels=labels)
    kh = write_known_hosts(tmp / "known_hosts", fleet.known_hosts_entries())
    return FleetEnv(tmp, hub, fleet, key, inv, kh, f"ccm-test-{secrets.token_hex(4)}",
                    host_roots)


@pytest.fixture
async def one_host(tmp_path: Path) -> AsyncIterator[FleetEnv]:
    """A one-host fleet (web-01) on an SQLite hub of its own."""
    from ccm_tui.hub import open_hub

    async with open_hub(f"sqlite:///{tmp_path / 'hub.db'}") as hub:
        e = make_env(tmp_path, hub, hosts=1)
        try:
            yield e
        finally:
            await e.close()


@pytest.fixture
async def env(hub: Hub, tmp_path: Path) -> AsyncIterator[FleetEnv]:
    e = make_env(tmp_path, hub, hosts=2)
    try:
        yield e
    finally:
        await e.close()


@pytest.fixture(autouse=True)
def _no_stray_tmux() -> Iterator[None]:
    yield
