"""A simulated host's memory and CPU are its own, as the probe and the agent see them.

The demo's memory hog must show on the host's tile and in the agent's evidence, and
drop once the service is restarted (by the stand-in ``systemctl``, as the agent does).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from agent_runtime.actions import ActionContext, run_action
from agent_runtime.hostroot import HostRoot
from ccm_tui.fleet.simulator import MB, MEMORY_MB, OS_MEMORY_MB, SimulatedFleet


async def test_memory_follows_the_units_and_a_restart(tmp_path: Path) -> None:
    async with SimulatedFleet(tmp_path, count=1) as fleet:
        [host] = fleet.hosts
        root = HostRoot(str(host.root))
        service_mb = host.unit(host.service)["mem_mb"]
        assert root.declared_memory() == (MEMORY_MB * MB, (OS_MEMORY_MB + service_mb) * MB)

        host.set_unit(host.service, mem_mb=7300)
        hog = run_action("memory_usage", {}, ActionContext(root=root))
        assert hog.ok and hog.data["used_pct"] == round(100 * (OS_MEMORY_MB + 7300) / MEMORY_MB, 1)
        assert hog.summary.startswith("memory 93.4% used")

        subprocess.run([str(host.bin / "systemctl"), "restart", host.service], check=True)
        assert root.declared_memory() == (MEMORY_MB * MB, (OS_MEMORY_MB + service_mb) * MB)

        subprocess.run([str(host.bin / "systemctl"), "stop", host.service], check=True)
        assert root.declared_memory() == (MEMORY_MB * MB, OS_MEMORY_MB * MB)


async def test_each_host_declares_a_cpu_of_its_own(tmp_path: Path) -> None:
    from agent_runtime.probe import snapshot
    from ccm_tui.fleet.simulator_load import BASELINE, CpuWander

    async with SimulatedFleet(tmp_path, count=4) as fleet:
        # the fleet declared a first step at start: that is what the probe reports
        probed = {h.name: snapshot(HostRoot(str(h.root)), sample=0.01) for h in fleet.hosts}
        wander = CpuWander(fleet.hosts, seed=7)
        seen: dict[str, list[float]] = {h.name: [] for h in fleet.hosts}
        for _ in range(30):  # no await in between: the fleet's own wander cannot interleave
            wander.step()
            for h in fleet.hosts:
                declared = HostRoot(str(h.root)).declared_cpu()
                assert declared == (round(wander.pct[h.name], 1),
                                    [round(x, 2) for x in wander.load[h.name]])
                seen[h.name].append(declared[0])
        memory = HostRoot(str(fleet.hosts[0].root)).declared_memory()
    for h in fleet.hosts:
        assert abs(probed[h.name]["cpu_pct"] - BASELINE[h.role]) <= 7.05
        assert len(probed[h.name]["load"]) == 3
        values = seen[h.name]
        assert len(set(values)) > 10 and all(2.0 <= v <= 95.0 for v in values)  # it moves …
        assert abs(sum(values) / len(values) - BASELINE[h.role]) < 15  # … around its role
    assert memory == (MEMORY_MB * MB, (OS_MEMORY_MB + 120) * MB)  # untouched by the CPU's
