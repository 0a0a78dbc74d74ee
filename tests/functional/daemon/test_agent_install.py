"""The daemon installs the agent once per pool and host — and never takes a new pool for an old one."""

from __future__ import annotations

import gc
from pathlib import Path

from ccm_tui.daemon.agent_install import ensure_agent
from ccm_tui.fleet.known_hosts import TrustStore
from ccm_tui.fleet.ssh import SSHPool
from tests.functional.daemon.conftest import FleetEnv


async def test_a_pool_allocated_where_a_freed_one_lived_installs_again(
        env: FleetEnv, tmp_path: Path) -> None:
    inventory = env.inventory
    trust = TrustStore([env.known_hosts], write_to=tmp_path / "ccm_known_hosts")
    host = inventory.get("web-01")
    options = env.options()
    agent = env.tmp / "home" / options.agent_path  # the test hosts' home folder

    first = SSHPool(inventory, trust=trust)
    await ensure_agent(first, host, options)
    assert agent.exists()
    await ensure_agent(first, host, options)  # once per pool: nothing to do
    await first.close()
    del first
    gc.collect()  # a new pool may now be allocated where the first one lived
    agent.unlink()  # the host lost it (reinstalled, say)

    second = SSHPool(inventory, trust=trust)
    try:
        await ensure_agent(second, host, options)
        assert agent.exists(), "a new pool skipped the install"
    finally:
        await second.close()
