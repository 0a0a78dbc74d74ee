"""``ccm daemon`` losing its PostgreSQL hub mid-run: the log says so once, with no
traceback, and says when the hub is back; the daemon goes on dispatching."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
from pathlib import Path
from urllib.parse import urlsplit

from ccm_tui.hub import open_hub
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
