"""``ccm webhook`` losing its PostgreSQL hub mid-run: like ``ccm daemon``, its log gets
the driver's complaint in one line, not asyncpg's traceback every few seconds; and a
hub that is not up yet is named once in each "unreachable" line."""

from __future__ import annotations

import asyncio
import itertools
import re
import signal
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from ccm_tui.hub import open_hub
from tests.functional.daemon.test_review_daemon_cli import start_ccm, stopped, wait_for_line
from tests.functional.daemon.test_review_daemon_hub_outage import Cable
from tests.support.postgres import free_port


async def _health(port: int) -> int:
    async with aiohttp.ClientSession() as http, \
            http.get(f"http://127.0.0.1:{port}/healthz") as r:
        return r.status


async def _webhook_through_a_cut_cable(pg_url: str, tmp_path: Path,
                                       extra_env: dict[str, str] | None = None) -> str:
    """The webhook's log over an outage: connected, cable cut until the driver has
    failed to reconnect a few times, cable mended, hub healthy again, SIGTERM."""
    async with open_hub(pg_url) as hub:
        await hub.migrate()
    real_port = urlsplit(pg_url).port or 5432
    port = free_port()
    async with Cable(real_port) as cable:
        url = pg_url.replace(f":{real_port}/", f":{cable.port}/")
        log = tmp_path / "webhook.log"
        proc = start_ccm(tmp_path, "--hub", url, "webhook", "--listen", f"127.0.0.1:{port}",
                         log=log, extra_env=extra_env)
        try:
            await wait_for_line(proc, log, r"receiving on")
            for _ in range(300):
                if await _health(port) == 200:
                    break
                await asyncio.sleep(0.1)
            cable.sever()
            for _ in range(600):  # the pool retries its connection floor, and fails
                if cable.refused >= 4:
                    break
                if cable.refused == 0:
                    await _health(port)  # a request finds the connection gone
                assert proc.poll() is None, log.read_text()
                await asyncio.sleep(0.1)
            assert cable.refused >= 4, log.read_text()
            cable.cut = False
            for _ in range(600):
                if await _health(port) == 200:
                    break
                await asyncio.sleep(0.1)
            assert await _health(port) == 200, log.read_text()
            assert await stopped(proc, signal.SIGTERM) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
    return log.read_text()


async def test_a_hub_lost_mid_run_leaves_no_driver_tracebacks(pg_url: str,
                                                              tmp_path: Path) -> None:
    said = await _webhook_through_a_cut_cable(pg_url, tmp_path)
    assert "Traceback" not in said, said
    floor = [line for line in said.splitlines() if "connection floor" in line]
    assert all(line.startswith("ccm webhook: hub connection: ") for line in floor), said
    assert all(a != b for a, b in itertools.pairwise(floor)), said  # no repeats


async def test_ccm_debug_keeps_the_driver_tracebacks(pg_url: str, tmp_path: Path) -> None:
    said = await _webhook_through_a_cut_cable(pg_url, tmp_path, {"CCM_DEBUG": "1"})
    assert "Traceback" in said and "connection floor" in said, said


async def test_an_unreachable_hub_is_named_once_per_line(tmp_path: Path) -> None:
    port = free_port()
    hub = f"postgresql://ccm:s3cret@127.0.0.1:{free_port()}/ccm"
    log = tmp_path / "webhook.log"
    proc = start_ccm(tmp_path, "--hub", hub, "webhook", "--listen", f"127.0.0.1:{port}",
                     log=log)
    try:
        line = (await wait_for_line(proc, log, r"ccm webhook: hub .* unreachable .*\n")).group(0)
        assert await stopped(proc, signal.SIGTERM) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    shown = hub.replace("s3cret", "***")
    assert line.count("postgresql://") == 1 and line.count(shown) == 1, line
    assert "s3cret" not in log.read_text()
    assert re.search(r"retrying in 1s, alerts get 503 until then", line), line
