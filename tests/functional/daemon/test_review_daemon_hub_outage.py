"""``ccm daemon`` losing its PostgreSQL hub mid-run: the log says so once, with no
traceback, and says when the hub is back; the daemon goes on dispatching."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
from pathlib import Path
from urllib.parse import urlsplit

from ccm_tui.core.states import TaskState
from ccm_tui.daemon.dispatcher import Daemon
from ccm_tui.daemon.options import DaemonOptions
from ccm_tui.fleet.inventory import load_inventory
from ccm_tui.fleet.ssh import SSHPool
from ccm_tui.hub import open_hub
from tests.functional.daemon.conftest import full_disk, make_env
from tests.functional.daemon.test_review_daemon_cli import start_ccm, stopped, wait_for_line
from tests.support.postgres import free_port


class Cable:
    """127.0.0.1:port → the hub's port, byte for byte, that the test can cut and mend.
    Cut, it accepts connections and closes them at once (counted in ``refused``)."""

    def __init__(self, target: int) -> None:
        self.port, self.target = free_port(), target
        self.cut = False
        self.refused = 0
        self._open: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Cable:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self.sever()

    def sever(self) -> None:
        self.cut = True
        for w in list(self._open):
            w.close()
        self._open.clear()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            self.refused += 1
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self._open |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))


async def test_a_hub_lost_mid_run_is_said_once_then_its_return(pg_url: str,
                                                               tmp_path: Path) -> None:
    async with open_hub(pg_url) as hub:
        await hub.migrate()
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("hosts: {}\n")
    real_port = urlsplit(pg_url).port or 5432
    async with Cable(real_port) as cable:
        url = pg_url.replace(f":{real_port}/", f":{cable.port}/")
        log = tmp_path / "daemon.log"
        proc = start_ccm(tmp_path, "--hub", url, "--inventory", str(inventory), "daemon",
                         "--owner", "outage", "--no-notify", log=log)
        try:
            await wait_for_line(proc, log, r"ccm daemon outage: 0 hosts")
            cable.sever()
            await wait_for_line(proc, log, r"hub unavailable: .*retrying every 2s")
            for _ in range(600):  # several more polls and pool retries fail
                if cable.refused >= 8:
                    break
                assert proc.poll() is None, log.read_text()
                await asyncio.sleep(0.1)
            assert cable.refused >= 8, log.read_text()
            cable.cut = False
            await wait_for_line(proc, log, r"hub reachable again after \d+")
            async with open_hub(pg_url) as hub:  # and it dispatches again
                await hub.set_paused(True, actor="sam")
            await wait_for_line(proc, log, r"paused by sam: holding automatic fixes")
            assert await stopped(proc, signal.SIGTERM) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
    said = log.read_text()
    # once per outage, not at every poll: each "unavailable" is followed by its "again"
    said_of_hub = [("again" if "reachable again" in line else "lost")
                   for line in said.splitlines()
                   if "hub unavailable" in line or "hub reachable again" in line]
    assert said_of_hub[:2] == ["lost", "again"], said
    assert all(a != b for a, b in itertools.pairwise(said_of_hub)), said
    assert "Traceback" not in said, said
    assert "ccm daemon outage: stopped; no task was running" in said


async def test_a_running_task_says_once_that_its_lease_cannot_be_renewed(
        pg_url: str, tmp_path: Path) -> None:
    async with open_hub(pg_url) as hub:
        await hub.migrate()
        env = make_env(tmp_path, hub, hosts=1)
        try:
            full_disk(env.roots["web-01"])
            await hub.set_paused(True, actor="sam")
            task = await env.alert("web-01")
            real_port = urlsplit(pg_url).port or 5432
            async with Cable(real_port) as cable:
                url = pg_url.replace(f":{real_port}/", f":{cable.port}/")
                log = tmp_path / "daemon.log"
                proc = start_ccm(tmp_path, "--hub", url, "--inventory", str(env.inventory_path),
                                 "daemon", "--owner", "renewer", "--tmux-socket",
                                 env.tmux_socket, "--known-hosts", str(env.known_hosts),
                                 "--no-notify", log=log,
                                 extra_env={"CCM_POLICY__LEASE_SECONDS": "3"})
                try:
                    await env.wait_state(task.id, TaskState.AWAITING_APPROVAL, timeout=60)
                    cable.sever()
                    await wait_for_line(proc, log, rf"{task.id}: could not renew the lease")
                    for _ in range(600):  # renewals every second keep failing meanwhile
                        if cable.refused >= 12:
                            break
                        await asyncio.sleep(0.1)
                    assert cable.refused >= 12, log.read_text()
                    cable.cut = False
                    await wait_for_line(proc, log, rf"{task.id}: lease renewed again")
                    assert await stopped(proc, signal.SIGTERM) == 0, log.read_text()
                finally:
                    if proc.poll() is None:
                        proc.kill()
        finally:
            await env.close()
    said = log.read_text()
    assert said.count(f"{task.id}: could not renew the lease") == 1, said
    assert f"handed back 1 running task ({task.id})" in said


async def test_a_hub_lost_as_the_daemon_starts_is_waited_for(pg_url: str,
                                                             tmp_path: Path) -> None:
    """It used to stop with 'ccm: error: lost the PostgreSQL hub' when the hub dropped
    between connecting and the first sync of the inventory."""
    async with open_hub(pg_url) as hub:
        await hub.migrate()
    real_port = urlsplit(pg_url).port or 5432
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("hosts: {}\n")
    async with Cable(real_port) as cable:
        hub = open_hub(pg_url.replace(f":{real_port}/", f":{cable.port}/"))
        async with hub, SSHPool(load_inventory(inventory, ssh_config=None)) as pool:
            cable.sever()
            d = Daemon(hub, pool, [], DaemonOptions(owner="early", poll_interval=0.2,
                                                    health_interval=None))
            stop = asyncio.Event()
            running = asyncio.create_task(d.run(stop))
            for _ in range(600):
                if cable.refused >= 5 or running.done():
                    break
                await asyncio.sleep(0.1)
            assert not running.done(), running.exception()
            cable.cut = False
            await asyncio.wait_for(d.started.wait(), 60)
            stop.set()
            await asyncio.wait_for(running, 30)
