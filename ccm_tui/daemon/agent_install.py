"""Make sure a host has this version of the agent before a task starts there."""

from __future__ import annotations

import asyncio
import tempfile
import weakref
from pathlib import Path

from ccm_tui.core.errors import FleetError, SSHError
from ccm_tui.core.model import ACCESS_REFUSED_KINDS
from ccm_tui.daemon.options import DaemonOptions
from ccm_tui.fleet.install import AgentBuild, build_agent, install_one
from ccm_tui.fleet.inventory import FleetHost
from ccm_tui.fleet.ssh import SSHPool

_build: AgentBuild | None = None
_build_lock = asyncio.Lock()
#: Per pool, the (host, agent path) pairs known to have this build. Keyed by the pool
#: itself (weakly): keying by ``id(pool)`` let a new pool, allocated where a freed one
#: had been, skip the install on a host that never got the agent.
_ready: weakref.WeakKeyDictionary[SSHPool, set[tuple[str, str]]] = weakref.WeakKeyDictionary()


async def _agent_build() -> AgentBuild:
    global _build
    async with _build_lock:
        if _build is None or not _build.path.exists():
            out = Path(tempfile.mkdtemp(prefix="ccm-agent-build-"))
            _build = await asyncio.to_thread(build_agent, out)
        return _build


async def ensure_agent(pool: SSHPool, host: FleetHost, options: DaemonOptions) -> None:
    """Install (or update) the agent on ``host`` once per pool; raise if impossible."""
    done = _ready.setdefault(pool, set())
    key = (host.name, options.agent_path)
    if key in done:
        return
    build = await _agent_build()
    remote_dir = options.agent_path.rsplit("/", 1)[0]
    result = await install_one(pool, host, build, remote_dir=remote_dir)
    if result.error_kind:  # nothing ran there, not the agent's fault: say what SSH said
        refused = result.error_kind in ACCESS_REFUSED_KINDS  # the message names the remedy
        raise SSHError("; ".join(result.problems), hint="" if refused else None)
    if not result.ok:
        raise FleetError(f"{host.name}: the agent is not runnable there: "
                         f"{'; '.join(result.problems) or result.status}",
                         hint=f"run `ccm fleet install --hosts {host.name}` and fix what it reports")
    done.add(key)
