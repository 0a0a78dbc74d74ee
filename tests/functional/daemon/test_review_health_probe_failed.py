"""A host CCM logs in to but cannot probe is not silently unwatched.

Before, a host whose probe failed (python3 gone after an upgrade, a broken agent)
raised nothing — a HostUnreachable even resolved — so its disks and services went
unwatched with no word to anyone. Now HealthProbeFailed (severity info: Slack and the
report, never a page) fires after two probes and resolves once the probe works.
Real SSH into a sandboxed host, the real ingest path.
"""

from __future__ import annotations

import dataclasses
import stat
import sys

from ccm_tui.commands.probe import health_alert_sink
from ccm_tui.core.model import AlertStatus
from ccm_tui.core.states import TaskState
from ccm_tui.daemon.health import HealthMonitor
from ccm_tui.daemon.health_rules import fingerprint
from ccm_tui.fleet.inventory import sync_to_hub
from ccm_tui.fleet.known_hosts import TrustStore
from ccm_tui.fleet.ssh import SSHPool
from ccm_tui.ingest.pipeline import Ingestor
from tests.functional.daemon.conftest import FleetEnv
from tests.unit.agent_runtime.runtime_helpers import sandbox


async def test_a_host_whose_probe_fails_says_so_and_clears_when_it_works(
        one_host: FleetEnv) -> None:
    env, hub = one_host, one_host.hub
    sandbox(env.roots["web-01"])
    gone = env.tmp / "gone-python"
    gone.write_text("#!/bin/sh\necho \"sh: 1: python3: not found\" >&2\nexit 127\n")
    gone.chmod(gone.stat().st_mode | stat.S_IXUSR)
    real = dataclasses.replace(env.inventory.get("web-01"), python=sys.executable)
    broken = dataclasses.replace(real, python=str(gone))
    await sync_to_hub(hub, [real])
    fp = fingerprint("web-01", "HealthProbeFailed")
    async with SSHPool([real], trust=TrustStore([env.known_hosts],
                                                write_to=env.tmp / "ccm_known_hosts")) as pool:
        mon = HealthMonitor(hub, pool, [broken], env.options(health_interval=30),
                            health_alert_sink(Ingestor(hub)))
        first = await mon.probe_once("web-01")
        assert first.reachable and "python3: not found" in first.data["error"]
        assert await hub.list_alerts(fingerprint=fp) == []  # for: 2 probes
        await mon.probe_once("web-01")
        [alert] = await hub.list_alerts(fingerprint=fp)
        assert alert.status is AlertStatus.FIRING and alert.severity.value == "info"
        assert alert.annotations["summary"] == (
            "CCM reaches web-01 but cannot read its health: the probe failed")
        assert "python3: not found" in alert.annotations["description"]
        task = await hub.find_open_task("web-01", "HealthProbeFailed")
        assert task is not None and task.severity.value == "info"

        mon.hosts["web-01"] = real  # python3 is back
        assert "error" not in (await mon.probe_once("web-01")).data
        statuses = [a.status for a in await hub.list_alerts(fingerprint=fp)]
        assert statuses == [AlertStatus.RESOLVED, AlertStatus.FIRING]
        assert (await hub.get_task(task.id)).state is TaskState.RESOLVED_UPSTREAM
