"""A trace recorded from a real Prometheus Alertmanager, as docs/ingest.md tells a user to,
replays to the task that alert would have made."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import aiohttp
import pytest

from tests.functional.ingest.test_alertmanager_e2e import (
    ALERTMANAGER,
    AMTOOL,
    START_TIMEOUT,
    amtool,
    child_env,
    eventually,
    processes,
    start_alertmanager,
)

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.skipif(
    not (os.access(ALERTMANAGER, os.X_OK) and os.access(AMTOOL, os.X_OK)),
    reason="needs Debian's prometheus-alertmanager (apt-get install prometheus-alertmanager)",
)


def alertmanager_yml(record_url: str) -> str:
    """The receiver of docs/ingest.md, "Recording a trace" (the recorder's webhook only)."""
    return ("route:\n  receiver: ccm\n  group_by: ['alertname', 'instance']\n"
            "  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n"
            "receivers:\n  - name: ccm\n    webhook_configs:\n"
            f"      - url: {record_url}/alerts/alertmanager\n        send_resolved: true\n")


def lines(trace: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in trace.read_text().splitlines() if x.strip()]


async def test_a_night_recorded_from_alertmanager_replays_to_its_task() -> None:
    with tempfile.TemporaryDirectory(prefix="ccm-record-") as tmp, processes() as procs:
        workdir = Path(tmp)
        inventory = workdir / "inventory.yaml"
        inventory.write_text("hosts:\n  web-01: {address: 10.0.0.1, groups: [web]}\n")
        trace = workdir / "night.jsonl"
        recorder = procs.start("ccm-ingest-record", [
            sys.executable, "-m", "ccm_tui", "--inventory", str(inventory), "ingest", "record",
            str(trace), "--listen", "127.0.0.1:0"], workdir, env=child_env(workdir))

        async def bound() -> str | None:
            m = re.search(r"POST (http://127\.0\.0\.1:\d+)/alerts/<source>", recorder.output())
            return m.group(1) if m else None

        async with aiohttp.ClientSession() as session:
            url = await eventually(bound, "ccm ingest record to listen", procs, START_TIMEOUT)
            am = await start_alertmanager(procs, session, workdir, alertmanager_yml(url))
            labels = ["alertname=DiskFull", "instance=web-01:9100", "severity=critical"]
            amtool(am, "alert", "add", *labels)

            async def recorded(status: str) -> bool:
                return any(x["endpoint"] == "alertmanager"
                           and x["body"]["status"] == status  # type: ignore[index]
                           for x in lines(trace))

            async def firing() -> bool:
                return await recorded("firing")

            async def resolved() -> bool:
                return await recorded("resolved")

            await eventually(firing, "the firing notification in the trace", procs)
            amtool(am, "alert", "add", *labels, "--end=2000-01-01T00:00:00Z")
            await eventually(resolved, "the resolved notification in the trace", procs)

        assert lines(trace)[0]["endpoint"] == "inventory"
        done = subprocess.run([sys.executable, "-m", "ccm_tui", "ingest", "replay", str(trace),
                               "--json"], capture_output=True, text=True, cwd=ROOT,
                              env=child_env(workdir), timeout=120)
        assert done.returncode == 0, done.stderr
        s = json.loads(done.stdout)
        assert s["received_by_source"]["alertmanager"] >= 2 and s["rejected_requests"] == {}
        [task] = s["tasks"]
        assert (task["host"], task["alertname"], task["managed"]) == ("web-01", "DiskFull", True)
        assert task["state"] == "resolved_upstream"
