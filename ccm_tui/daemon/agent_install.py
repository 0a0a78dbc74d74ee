"""Make sure a host has this version of the agent before a task starts there."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from ccm_tui.core.errors import FleetError
from ccm_tui.daemon.options import DaemonOptions
from ccm_tui.fleet.install import AgentBuild, build_agent, install_one
from ccm_tui.fleet.inventory import FleetHost
from ccm_tui.fleet.ssh import SSHPool

_build: AgentBuild | None = None
_build_lock = asyncio.Lock()
_ready: set[tuple[int, str]] = set()


async def _agent_build() -> AgentBuild:
    global _build
    async with _build_lock:
        if _build is None or not _build.path.exists():
            out = Path(tempfile.mkdtemp(prefix="ccm-agent-build-"))
            _build = await asyncio.to_thread(build_agent, out)
        return _build


async def ensure_agent(pool: SSHPool, host: FleetHost, options: DaemonOptions) -> None:
    """Install (or update) the agent on ``host`` once per pool; raise if impossible."""
    key = (id(pool), host.name)
    if key in _ready:
        return
    build = await _agent_build()
    remote_dir = options.agent_path.rsplit("/", 1)[0]
    result = await install_one(pool, host, build, remote_dir=remote_dir)
    if not result.ok:
        raise FleetError(f"{host.name}: the agent is not runnable there: "
                         f"{'; '.join(result.problems) or result.status}",
                         hint=f"run `ccm fleet install --hosts {host.name}` and fix what it reports")
    _ready.add(key)
