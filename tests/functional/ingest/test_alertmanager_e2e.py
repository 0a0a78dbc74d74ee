"""A real Prometheus Alertmanager posting to the real ``ccm webhook``, end to end.

Debian's ``prometheus-alertmanager`` routes every alert to a webhook receiver that
points at ``ccm webhook`` (a subprocess) with bearer auth read from a file;
``amtool alert add`` fires an alert, and the test finds the task in the hub; it then
resolves the alert (``--end`` = now) and finds the task ``resolved_upstream``. A
second receiver with a wrong token shows that ccm answers it only with 401s and
stores nothing. Every wait is a poll with a deadline; every process is stopped
(terminate, then kill) and every temporary file removed, even when the test fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import aiohttp
import pytest

from ccm_tui.core import Task, TaskState
from ccm_tui.hub import Hub, TaskQuery
from tests.functional.ingest.conftest import FLEET

ROOT = Path(__file__).resolve().parents[3]
ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
AMTOOL = shutil.which("amtool") or "/usr/bin/amtool"

pytestmark = pytest.mark.skipif(
    not (os.access(ALERTMANAGER, os.X_OK) and os.access(AMTOOL, os.X_OK)),
    reason="needs Debian's prometheus-alertmanager (apt-get install prometheus-alertmanager)",
)

TOKEN = "am-e2e-token-7f3c"
START_TIMEOUT = 30.0
DELIVERY_TIMEOUT = 30.0
POLL = 0.1
T = TypeVar("T")


@dataclass
class Proc:
    """A child process whose output goes to a log file, for failure messages."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self, limit: int = 4000) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return text[-limit:]


@dataclass
class Processes:
    """The processes a test started; ``stop_all`` terminates, then kills, each one."""

    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, argv: list[str], workdir: Path,
              env: dict[str, str] | None = None) -> Proc:
        log = workdir / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, cwd=ROOT, env=env,
                                     start_new_session=True)
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def check_alive(self) -> None:
        for p in self.procs:
            if p.popen.poll() is not None:
                raise AssertionError(f"{p.name} exited with {p.popen.returncode}:\n{p.output()}")

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.output()}" for p in self.procs)

    def stop_all(self) -> None:
        for p in reversed(self.procs):
            if p.popen.poll() is None:
                p.popen.terminate()
        for p in reversed(self.procs):
            try:
                p.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.popen.kill()
                p.popen.wait(timeout=10)


@contextlib.contextmanager
def processes() -> Iterator[Processes]:
    procs = Processes()
    try:
        yield procs
    finally:
        procs.stop_all()


async def eventually(check: Callable[[], Awaitable[T | None]], what: str, procs: Processes,
                     timeout: float = DELIVERY_TIMEOUT) -> T:
    """Poll ``check`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        procs.check_alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n"
                                 f"{procs.logs()}")
        await asyncio.sleep(POLL)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def http_get(session: aiohttp.ClientSession, url: str) -> tuple[int, str] | None:
    """``(status, text)``, or ``None`` while nothing listens yet."""
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as resp:
            return resp.status, await resp.text()
    except (TimeoutError, aiohttp.ClientError):
        return None


def amtool(am_url: str, *args: str) -> None:
    """Run ``amtool`` against the test Alertmanager (bounded by a timeout)."""
    done = subprocess.run([AMTOOL, f"--alertmanager.url={am_url}", "--timeout=10s", *args],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, f"amtool {' '.join(args)} failed:\n{done.stdout}{done.stderr}"


def alertmanager_yml(ccm_port: int, good: Path, wrong: Path) -> str:
    """Everything goes to ccm; ``WrongTokenProbe`` goes to ccm with a wrong token."""
    def receiver(name: str, token_file: Path) -> str:
        return (f"  - name: {name}\n"
                f"    webhook_configs:\n"
                f"      - url: http://127.0.0.1:{ccm_port}/alerts/alertmanager\n"
                f"        send_resolved: true\n"
                f"        http_config:\n"
                f"          authorization: {{type: Bearer, credentials_file: '{token_file}'}}\n")

    return ("global:\n  resolve_timeout: 5m\n"
            "route:\n  receiver: ccm\n  group_by: ['alertname', 'instance']\n"
            "  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n"
            "  routes:\n    - receiver: ccm-wrong-token\n"
            "      matchers: ['alertname=\"WrongTokenProbe\"']\n"
            "receivers:\n" + receiver("ccm", good) + receiver("ccm-wrong-token", wrong))


def metric(text: str, series: str) -> float:
    """The value of one exposition line (``name{labels}``), 0 when absent."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0.0


def request_codes(text: str) -> set[str]:
    """The HTTP codes ccm answered on /alerts/alertmanager so far."""
    return set(re.findall(
        r'^ccm_ingest_requests_total\{code="(\d+)",endpoint="alertmanager"\} ', text, re.M))


def child_env(home: Path) -> dict[str, str]:
    """The environment without the developer's CCM settings or config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCM_")}
    env.update(XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
               HOME=str(home), PYTHONUNBUFFERED="1")
    return env


async def start_ccm_webhook(procs: Processes, session: aiohttp.ClientSession, hub_url: str,
                            workdir: Path, token_file: Path) -> str:
    """``ccm webhook`` on a port the kernel picks; its base URL once /healthz answers 200."""
    proc = procs.start("ccm-webhook", [
        sys.executable, "-m", "ccm_tui", "--hub", hub_url, "webhook",
        "--listen", "127.0.0.1:0", "--token-file", str(token_file),
    ], workdir, env=child_env(workdir))

    async def bound_url() -> str | None:
        m = re.search(r"receiving on (http://127\.0\.0\.1:\d+)/alerts/", proc.output(100_000))
        return m.group(1) if m else None

    base = await eventually(bound_url, "ccm webhook to report its address", procs,
                            START_TIMEOUT)

    async def healthy() -> bool:
        got = await http_get(session, f"{base}/healthz")
        return got is not None and got[0] == 200

    await eventually(healthy, "ccm webhook GET /healthz = 200", procs, START_TIMEOUT)
    return base


async def start_alertmanager(procs: Processes, session: aiohttp.ClientSession, workdir: Path,
                             config: str) -> str:
    """A real Alertmanager with ``config``; its URL once ``/-/ready`` answers 200."""
    (workdir / "alertmanager.yml").write_text(config)
    (workdir / "am-data").mkdir()
    port = free_port()
    procs.start("alertmanager", [
        ALERTMANAGER, f"--config.file={workdir / 'alertmanager.yml'}",
        f"--storage.path={workdir / 'am-data'}", f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=", "--log.level=debug",
    ], workdir)
    url = f"http://127.0.0.1:{port}"

    async def ready() -> bool:
        got = await http_get(session, f"{url}/-/ready")
        return got is not None and got[0] == 200

    await eventually(ready, "Alertmanager /-/ready", procs, START_TIMEOUT)
    return url


async def test_alertmanager_fires_and_resolves_a_task_through_ccm_webhook(
        hub: Hub, hub_url: str) -> None:
    """amtool → Alertmanager → ccm webhook (bearer) → hub task; resolve → resolved_upstream."""
    await hub.upsert_hosts(FLEET)
    labels = ["alertname=DiskFull", "instance=web-01:9100", "severity=critical"]
    summary = "--annotation=summary=Disk / is 97% full"
    with tempfile.TemporaryDirectory(prefix="ccm-am-e2e-") as tmp, processes() as procs:
        workdir = Path(tmp)
        good, wrong = workdir / "token", workdir / "wrong-token"
        good.write_text(f"{TOKEN}\n")  # Alertmanager sends the whole file, trimmed
        wrong.write_text("not-the-token\n")
        async with aiohttp.ClientSession() as session:
            ccm = await start_ccm_webhook(procs, session, hub_url, workdir, good)
            port = int(ccm.rsplit(":", 1)[1])
            am = await start_alertmanager(procs, session, workdir,
                                          alertmanager_yml(port, good, wrong))

            async def metrics() -> str:
                got = await http_get(session, f"{ccm}/metrics")
                assert got is not None and got[0] == 200, got
                return got[1]

            # 1. A receiver with the wrong token gets only 401s, and nothing is stored.
            amtool(am, "alert", "add", "alertname=WrongTokenProbe", "instance=web-02:9100",
                   "severity=critical")

            async def rejected() -> str | None:
                text = await metrics()
                unauthorized = 'ccm_ingest_rejected_total{reason="unauthorized"}'
                return text if metric(text, unauthorized) >= 1 else None

            text = await eventually(rejected, "a 401 for the wrong-token receiver", procs)
            assert request_codes(text) == {"401"}, text
            assert await hub.list_alerts() == []
            assert await hub.list_tasks(TaskQuery()) == []

            # 2. The real receiver: the alert becomes a task for web-01.
            amtool(am, "alert", "add", *labels, summary)

            async def created() -> Task | None:
                found = [t for t in await hub.list_tasks(TaskQuery()) if t.alertname == "DiskFull"]
                return found[0] if found else None

            task = await eventually(created, "the DiskFull task in the hub", procs)
            assert (task.host, task.state, task.managed) == ("web-01", TaskState.NEW, True)
            assert task.summary == "Disk / is 97% full"
            assert task.severity.value == "critical"
            [stored] = [a for a in await hub.list_alerts() if a.alertname == "DiskFull"]
            assert stored.source == "alertmanager" and stored.task_id == task.id
            assert stored.labels == {"alertname": "DiskFull", "instance": "web-01:9100",
                                     "severity": "critical"}

            # 3. Resolved in Alertmanager (endsAt = now): the task that never started closes.
            now = datetime.now(UTC).isoformat(timespec="microseconds")
            amtool(am, "alert", "add", *labels, summary, f"--end={now}")

            async def closed() -> Task | None:
                current = await hub.get_task(task.id)
                return current if current.state is TaskState.RESOLVED_UPSTREAM else None

            await eventually(closed, f"task {task.id} to become resolved_upstream", procs)
            tasks = await hub.list_tasks(TaskQuery())
            assert [t.id for t in tasks] == [task.id], "the resolve must not make a new task"

            # The wrong-token receiver never got past auth: still only 401s for it.
            text = await metrics()
            assert request_codes(text) <= {"200", "401"}, text
            assert not [a for a in await hub.list_alerts() if a.alertname == "WrongTokenProbe"]
            assert metric(text, 'ccm_ingest_tasks_created_total') == 1, text

            # What the receiver's log says (one line each, with the task id).
            said = next(p for p in procs.procs if p.name == "ccm-webhook").output()
            assert f"ccm webhook: {task.id}: new task · web-01 DiskFull\n" in said, said
            assert (f"ccm webhook: {task.id}: closed · web-01 DiskFull resolved upstream "
                    "before work started\n") in said, said
