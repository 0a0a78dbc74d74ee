"""The simulated hosts' CPU: a random walk around each role's usual load.

Simulated hosts share one machine, whose CPU (busy running the demo itself) says
nothing about any of them: every tile would show the same saturated machine. Each
host instead declares its CPU and load average in its quota file (see
:mod:`agent_runtime.hostroot`), which :class:`CpuWander` moves every
:data:`EVERY` seconds around the baseline of the host's role.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ccm_tui.fleet.simulator import SimHost

#: Typical CPU % of each role; a host wanders around it.
BASELINE = {"web": 22.0, "app": 38.0, "db": 30.0, "worker": 48.0}
#: Cores of a simulated host (the load average is CPU % × cores).
CORES = 4
#: Seconds between two declarations.
EVERY = 2.0
#: The load average's 1, 5 and 15 minute decay per step, as the kernel computes it.
_DECAY = [math.exp(-EVERY / (60.0 * m)) for m in (1, 5, 15)]


class CpuWander:
    """Moves and declares the CPU of ``hosts`` (``step`` once, or ``run`` until cancelled)."""

    def __init__(self, hosts: Sequence[SimHost], seed: int | None = None) -> None:
        self.hosts = list(hosts)
        self._rng = random.Random(seed)
        self.pct = {h.name: BASELINE.get(h.role, 25.0) for h in self.hosts}
        self.load = {name: [pct / 100 * CORES] * 3 for name, pct in self.pct.items()}

    def step(self) -> None:
        """One move of every host, declared in its quota file."""
        for h in self.hosts:
            base = BASELINE.get(h.role, 25.0)
            pct = self.pct[h.name]
            pct += self._rng.uniform(-7.0, 7.0) + 0.25 * (base - pct)  # pulled back to base
            pct = min(95.0, max(2.0, pct))
            running = pct / 100 * CORES
            load = [old * d + running * (1 - d)
                    for old, d in zip(self.load[h.name], _DECAY, strict=True)]
            self.pct[h.name], self.load[h.name] = pct, load
            h.declare(cpu=(pct, load))

    async def run(self) -> None:
        """Step every :data:`EVERY` seconds until cancelled."""
        while True:
            self.step()
            await asyncio.sleep(EVERY)


__all__ = ["BASELINE", "CORES", "EVERY", "CpuWander"]
