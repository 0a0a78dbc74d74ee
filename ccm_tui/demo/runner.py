"""``ccm demo``: assemble the whole pipeline on this machine, run it, clean it up.

:class:`Demo` puts together, in one temporary folder: an SQLite hub (or the hub the
caller names, kept afterwards), a :class:`~ccm_tui.fleet.simulator.SimulatedFleet`,
the webhook receiver, a daemon whose health probes send their alerts *through the
webhook* (as Alertmanager would), agent sessions in tmux on a private server, and
the :class:`~ccm_tui.demo.faults.FaultInjector`. :meth:`Demo.close` stops them in
order and removes every trace: the tmux server, the SSH servers and their
processes, the temporary folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import subprocess
import tempfile
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ccm_tui.core.model import utcnow
from ccm_tui.core.policy import Policy
from ccm_tui.daemon.agent_install import ensure_agent
from ccm_tui.daemon.dispatcher import Daemon
from ccm_tui.daemon.health_rules import HealthAlert
from ccm_tui.daemon.options import DaemonOptions
from ccm_tui.demo.faults import FaultInjector, Scenario, plan
from ccm_tui.demo.outcome import outcome
from ccm_tui.fleet.inventory import Inventory, load_inventory
from ccm_tui.fleet.known_hosts import TrustStore
from ccm_tui.fleet.simulator import SimulatedFleet
from ccm_tui.fleet.ssh import SSHPool
from ccm_tui.hub import open_hub
from ccm_tui.hub.base import Hub
from ccm_tui.ingest.auth import Credentials
from ccm_tui.ingest.server import ReceiverConfig
from ccm_tui.ingest.service import RunningReceiver, start_receiver

log = logging.getLogger("ccm.demo")
RUNBOOKS = Path(__file__).with_name("runbooks")
#: The demo runs with the default policy: what it shows is what a fresh install does.
DEMO_POLICY = Policy()


@dataclass(frozen=True)
class DemoOptions:
    """What ``ccm demo`` was asked for."""

    hosts: int = 12
    seed: int | None = None
    hub_url: str | None = None
    health_interval: float = 1.0
    verbose: bool = False


def _alert_body(a: HealthAlert) -> dict[str, Any]:
    """A health alert in CCM's generic webhook schema (its fingerprint kept)."""
    body: dict[str, Any] = {
        "name": a.alertname, "host": a.host, "status": a.status.value,
        "severity": a.severity.value, "labels": dict(a.labels),
        "annotations": dict(a.annotations), "fingerprint": a.fingerprint,
        "starts_at": a.starts_at.isoformat()}
    if a.ends_at is not None:
        body["ends_at"] = a.ends_at.isoformat()
    return body


class Demo:
    """The assembled demo. ``async with Demo(options) as demo:`` starts it."""

    def __init__(self, options: DemoOptions) -> None:
        self.options = options
        self.tmp = Path(tempfile.mkdtemp(prefix="ccm-demo-"))
        self.tmux_socket = f"ccm-demo-{secrets.token_hex(4)}"
        self.hub_url = options.hub_url or f"sqlite:///{self.tmp / 'hub.db'}"
        self.started_at: datetime = utcnow()
        self.scenarios: list[Scenario] = []
        self.stop = asyncio.Event()
        self._stack = AsyncExitStack()
        self._daemon_stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._saved_tempdir = tempfile.tempdir
        self._log_handler: logging.Handler | None = None
        self.hub: Hub | None = None
        self.fleet: SimulatedFleet | None = None
        self.pool: SSHPool | None = None
        self.receiver: RunningReceiver | None = None
        self.injector: FaultInjector | None = None
        self.daemon: Daemon | None = None

    # -- start ----------------------------------------------------------------------------
    async def __aenter__(self) -> Demo:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def inventory_path(self) -> Path:
        assert self.fleet is not None
        return self.fleet.inventory_path

    @property
    def known_hosts(self) -> Path:
        assert self.fleet is not None
        return self.fleet.known_hosts

    async def start(self) -> None:
        """Start the hub, fleet, webhook and daemon, then the fault injector."""
        import aiohttp

        # The agent zipapp is built under tempfile's folder: keep it inside ours.
        (self.tmp / "tmp").mkdir()
        tempfile.tempdir = str(self.tmp / "tmp")
        self._log_handler = logging.FileHandler(self.tmp / "demo.log")
        self._log_handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        ccm_log = logging.getLogger("ccm")
        ccm_log.addHandler(self._log_handler)
        ccm_log.setLevel(logging.INFO)
        ccm_log.propagate = self.options.verbose

        self.hub = await self._stack.enter_async_context(open_hub(self.hub_url))
        self.fleet = SimulatedFleet(self.tmp / "fleet", self.options.hosts)
        await self.fleet.start()
        token = secrets.token_urlsafe(24)
        self.receiver = await start_receiver(
            self.hub, "127.0.0.1:0", ReceiverConfig(credentials=Credentials(tokens=(token,))))
        http = await self._stack.enter_async_context(aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {token}"},
            timeout=aiohttp.ClientTimeout(total=20)))
        url = self.receiver.url

        async def post(path: str, body: dict[str, Any]) -> None:
            async with http.post(url + path, json=body) as resp:
                if resp.status >= 300:
                    raise RuntimeError(f"webhook {path}: HTTP {resp.status}: "
                                       f"{(await resp.text())[:300]}")

        async def sink(alerts: list[HealthAlert]) -> object:
            await post("/alerts/generic", {"alerts": [_alert_body(a) for a in alerts]})
            return None

        inventory = load_inventory(self.inventory_path, ssh_config=None)
        self.pool = SSHPool(inventory, trust=TrustStore(
            [self.known_hosts], write_to=self.tmp / "ccm_known_hosts"))
        options = DaemonOptions(
            owner=f"ccm-demo:{os.getpid()}", lease_seconds=15.0, poll_interval=0.5,
            tmux_socket=self.tmux_socket, health_interval=self.options.health_interval,
            agent_path=str(self.tmp / "agent" / "agent.pyz"),
            state_dir=str(self.tmp / "agent-state"), runbook_dirs=(str(RUNBOOKS),),
            reconnect_backoff=0.2, policy=DEMO_POLICY)
        await self._install_agent(inventory, options)
        self.daemon = Daemon(self.hub, self.pool, inventory, options, health_sink=sink)
        self._tasks.append(asyncio.create_task(self.daemon.run(self._daemon_stop),
                                               name="ccm-demo-daemon"))
        await asyncio.wait_for(self.daemon.started.wait(), 30)
        self.started_at = utcnow()
        self.scenarios = plan(self.fleet, self.options.seed)
        self.injector = FaultInjector(self.fleet, self.scenarios, post)
        self._tasks.append(asyncio.create_task(self.injector.run(self.stop),
                                               name="ccm-demo-faults"))

    async def _install_agent(self, inventory: Inventory, options: DaemonOptions) -> None:
        """Push the agent once, host by host (they share one path on this machine)."""
        assert self.pool is not None
        for host in inventory:
            await ensure_agent(self.pool, host, options)

    # -- run ------------------------------------------------------------------------------
    async def run_headless(self, duration: float) -> dict[str, Any]:
        """Run until ``duration`` seconds pass, every scenario settles, or :attr:`stop`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + duration
        last_at = max((s.at for s in self.scenarios), default=0.0)
        t0 = loop.time()
        result = await self.outcome()
        while not self.stop.is_set() and loop.time() < deadline:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), 0.5)
            if loop.time() - t0 > last_at + 1:
                result = await self.outcome()
                if result["ok"]:
                    break
        interrupted = self.stop.is_set()
        result = await self.outcome()
        result["interrupted"] = interrupted
        result["ran_seconds"] = round(loop.time() - t0, 1)
        return result

    async def run_tui(self, *, actor: str, theme: str) -> None:
        """Show the control centre over the running demo until the operator quits."""
        from ccm_tui.app import CCMApp
        from ccm_tui.app.fleet_access import FleetAccess

        assert self.hub is not None

        class DemoApp(CCMApp):
            """The control centre; Ctrl-C quits too (it ends the demo)."""

            BINDINGS = [("ctrl+c", "quit", "Quit")]

        app = DemoApp(self.hub, actor=actor, theme=theme, fleet=FleetAccess(
            self.inventory_path, (self.known_hosts,), trust_write_to=self.tmp / "trust",
            ssh_config=None))

        async def watch_stop() -> None:
            await self.stop.wait()
            app.exit()

        watcher = asyncio.create_task(watch_stop())
        try:
            await app.run_async()
        finally:
            watcher.cancel()

    async def outcome(self) -> dict[str, Any]:
        """The demo's outcome so far (see :func:`ccm_tui.demo.outcome.outcome`)."""
        assert self.hub is not None and self.pool is not None and self.fleet is not None
        doc = await outcome(self.hub, self.pool, self.fleet, self.scenarios, self.started_at)
        doc.update(hosts=len(self.fleet.hosts), seed=self.options.seed,
                   tmux_socket=self.tmux_socket, temp_dir=str(self.tmp),
                   hub=self.hub_url if self.options.hub_url else None,
                   injector_errors=list(self.injector.errors) if self.injector else [])
        return doc

    # -- stop -----------------------------------------------------------------------------
    async def close(self) -> None:
        """Stop everything and remove the temporary folder (idempotent)."""
        self.stop.set()
        self._daemon_stop.set()
        for task in self._tasks:
            try:
                await asyncio.wait_for(task, 20)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
            except Exception:
                log.exception("demo: %s ended with an error", task.get_name())
        self._tasks.clear()
        await asyncio.to_thread(self.kill_tmux)
        if self.pool is not None:
            with contextlib.suppress(Exception):
                await self.pool.close()
        if self.receiver is not None:
            with contextlib.suppress(Exception):
                await self.receiver.stop()
            self.receiver = None
        if self.fleet is not None:
            await self.fleet.stop()
        with contextlib.suppress(Exception):
            await self._stack.aclose()
        await asyncio.to_thread(self.kill_tmux)  # an agent started while we stopped
        if self._log_handler is not None:
            logging.getLogger("ccm").removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None
        tempfile.tempdir = self._saved_tempdir
        shutil.rmtree(self.tmp, ignore_errors=True)

    def kill_tmux(self) -> None:
        """Kill the demo's private tmux server, and every agent that ran on this machine
        for it (agents outlive their tmux session by design: they are found by the
        demo's temporary folder in their command line)."""
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(["tmux", "-L", self.tmux_socket, "kill-server"],
                           capture_output=True, timeout=10)
        base = os.environ.get("TMUX_TMPDIR") or "/tmp"
        with contextlib.suppress(OSError):
            (Path(base) / f"tmux-{os.getuid()}" / self.tmux_socket).unlink()
        kill_processes_under(self.tmp)


def kill_processes_under(folder: Path) -> list[int]:
    """SIGKILL every process of ours whose command line names ``folder``; their pids."""
    import signal

    needle = str(folder).encode()
    killed = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "cmdline").read_bytes():
                continue
            os.kill(int(entry.name), signal.SIGKILL)
            killed.append(int(entry.name))
        except OSError:
            continue
    return killed


__all__ = ["RUNBOOKS", "Demo", "DemoOptions"]
