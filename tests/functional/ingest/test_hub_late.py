"""``ccm webhook`` started before its PostgreSQL: 503s until the hub answers, then tasks.

The hub is the test's real PostgreSQL, reached through a loopback port that forwards
to it only once the test opens it, as a database still booting would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from ccm_tui.hub import open_hub
from tests.support.postgres import free_port

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "late-token"
ALERT = {"name": "DiskFull", "host": "web-01", "severity": "critical"}


@contextlib.asynccontextmanager
async def forwarder(listen_port: int, target_port: int) -> AsyncIterator[None]:
    """127.0.0.1:listen_port → 127.0.0.1:target_port, byte for byte."""
    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    try:
        yield
    finally:
        server.close()


@dataclass
class LateHub:
    """The test's PostgreSQL, migrated, and a URL to it through a port not open yet."""

    url: str
    late_url: str
    real_port: int
    late_port: int
    home: Path

    def start(self, *args: str, log: str) -> tuple[subprocess.Popen[bytes], Path]:
        """``python -m ccm_tui ARGS`` on the late URL; its standard error goes to ``log``."""
        path = self.home / log
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("CCM_")},
               "HOME": str(self.home), "XDG_CONFIG_HOME": str(self.home / "config")}
        with path.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "ccm_tui", "--hub", self.late_url,
                                     *args], stdout=subprocess.DEVNULL, stderr=out, cwd=ROOT,
                                    env=env)
        return proc, path


@pytest.fixture
async def late(pg_url: str, tmp_path: Path) -> LateHub:
    async with open_hub(pg_url) as hub:
        await hub.migrate()
    real_port, late_port = urlsplit(pg_url).port or 5432, free_port()
    (tmp_path / "token").write_text(TOKEN + "\n")
    return LateHub(pg_url, pg_url.replace(f":{real_port}/", f":{late_port}/"), real_port,
                   late_port, tmp_path)


async def wait_for_line(proc: subprocess.Popen[bytes], log: Path, pattern: str) -> str:
    for _ in range(300):
        m = re.search(pattern, log.read_text())
        if m:
            return m.group(1)
        assert proc.poll() is None, log.read_text()
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {pattern!r} in:\n{log.read_text()}")


async def test_the_receiver_waits_for_a_late_hub_answering_503_meanwhile(
        late: LateHub) -> None:
    proc, log = late.start("webhook", "--listen", "127.0.0.1:0", "--token-file",
                           str(late.home / "token"), log="webhook.log")
    try:
        base = await wait_for_line(proc, log, r"receiving on (http://[^/ ]+)/alerts")
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{base}/alerts/generic", json=ALERT,
                                    headers=headers) as resp:
                assert resp.status == 503 and resp.headers["Retry-After"]
                assert (await resp.json())["reason"] == "hub_unavailable"
            async with session.get(f"{base}/healthz") as resp:
                assert resp.status == 503

            async with forwarder(late.late_port, late.real_port):
                status = 0
                for _ in range(400):  # the receiver retries after 1, 2, 4… seconds
                    async with session.post(f"{base}/alerts/generic", json=ALERT,
                                            headers=headers) as resp:
                        status = resp.status
                    if status == 200:
                        break
                    await asyncio.sleep(0.1)
                assert status == 200, log.read_text()
                async with session.get(f"{base}/healthz") as resp:
                    assert resp.status == 200
                async with open_hub(late.url) as hub:
                    [task] = await hub.list_tasks()
                    assert (task.host, task.alertname) == ("web-01", "DiskFull")
                proc.terminate()  # while its hub connection still has a way through
                assert await asyncio.to_thread(proc.wait, 30) == 0, log.read_text()
        said = log.read_text()
        assert "unreachable" in said and "alerts get 503 until then" in said
        assert re.search(r"hub postgresql://\S+ connected", said), said
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


async def test_ccm_up_receives_at_once_and_dispatches_once_the_hub_is_up(
        late: LateHub) -> None:
    (late.home / "inventory.yaml").write_text("hosts: {}\n")
    proc, log = late.start("--inventory", str(late.home / "inventory.yaml"), "up", "--listen",
                           "127.0.0.1:0", "--token-file", str(late.home / "token"),
                           "--no-notify", log="up.log")
    try:
        await wait_for_line(proc, log, r"(unreachable)")
        async with aiohttp.ClientSession() as session:
            # the receiver is listening before the hub is: 503, which senders retry
            base = ""
            for _ in range(100):
                for port in _listening_ports(proc.pid):
                    with contextlib.suppress(aiohttp.ClientError):
                        async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                            if resp.status == 503:
                                base = f"http://127.0.0.1:{port}"
                if base:
                    break
                await asyncio.sleep(0.1)
            assert base, log.read_text()
            assert "ccm daemon" not in log.read_text()  # no dispatching without a hub
            async with forwarder(late.late_port, late.real_port):
                await wait_for_line(proc, log, r"(ccm daemon \S+: 0 hosts)")
                async with session.get(f"{base}/healthz") as resp:
                    assert resp.status == 200
                proc.terminate()
                assert await asyncio.to_thread(proc.wait, 30) == 0, log.read_text()
        assert re.search(r"hub postgresql://\S+ connected", log.read_text())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _listening_ports(pid: int) -> list[int]:
    """TCP ports ``pid`` listens on (from /proc)."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                f = line.split()
                if f[3] == "0A" and f[9] in inodes:  # LISTEN
                    ports.append(int(f[1].rsplit(":", 1)[1], 16))
    return ports


def test_an_sqlite_hub_that_cannot_open_is_an_error_at_once(tmp_path: Path) -> None:
    """Its folder is a file: configuration to fix, not an outage to wait out."""
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    done = subprocess.run(
        [sys.executable, "-m", "ccm_tui", "webhook", "--listen", "127.0.0.1:0",
         "--hub", f"sqlite:///{blocker}/hub.db"], capture_output=True, text=True, cwd=ROOT,
        timeout=60, env={**{k: v for k, v in os.environ.items() if not k.startswith("CCM_")},
                         "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "c")})
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("ccm: error: cannot open SQLite hub")
