"""A command that runs out of time: CCM stops it, or says it may still be running.

Against a real OpenSSH sshd. OpenSSH refuses to deliver signals to a root login's
commands ("session signalling requires privilege separation"), and CI logs in as root,
so what these tests hold to is the promise, whoever logs in: a result that does not say
"may still be running" belongs to a command that really ended.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from ccm_tui.fleet.inventory import FleetHost
from ccm_tui.fleet.known_hosts import TrustStore
from ccm_tui.fleet.ssh import SSHPool
from ccm_tui.fleet.stopping import STILL_RUNNING
from tests.support.ssh import LOOPBACK, KeyFiles, Sshd, write_known_hosts

#: The command's own length: longer than a timeout plus CCM's grace to stop it.
SLEEP = 4
#: Long enough past the command's own end for its file to have appeared.
SETTLE = SLEEP + 1.0


def _pool(sshd: Sshd, key: KeyFiles, tmp_path: Path) -> SSHPool:
    h = FleetHost("s", LOOPBACK, sshd.port, user=sshd.user,
                  identity_files=(str(key.private),))
    known = write_known_hosts(tmp_path / "known_hosts", [(sshd.port, sshd.host_public_line)])
    return SSHPool([h], trust=TrustStore([known], write_to=tmp_path / "ccm_known_hosts"))


def _late_write(marker: Path) -> str:
    return f"echo started; sleep {SLEEP}; echo late > {marker}"


async def test_a_timed_out_exec_is_reported_stopped_only_if_it_stopped(
        sshd: Sshd, client_key: KeyFiles, tmp_path: Path) -> None:
    marker = tmp_path / "exec-marker"
    async with _pool(sshd, client_key, tmp_path) as pool:
        r = await pool.run("s", _late_write(marker), timeout=0.5)
        assert not marker.exists(), "the run waited for the command it gave up on"
        assert r.error_kind == "timeout" and r.exit_status is None
        assert r.stdout == "started\n" and (r.error or "").startswith("timed out after ")
        await asyncio.sleep(SETTLE)
        assert (STILL_RUNNING in (r.error or "")) == marker.exists(), r.error
        assert (await pool.run("s", "echo next", timeout=10)).stdout == "next\n"


async def test_a_timed_out_warm_shell_command_is_stopped_even_on_a_root_login(
        sshd: Sshd, client_key: KeyFiles, tmp_path: Path) -> None:
    marker = tmp_path / "warm-marker"
    async with _pool(sshd, client_key, tmp_path) as pool:
        assert (await pool.run("s", "true", timeout=10, reuse_shell=True)).ok
        assert (await pool.run("s", "true", timeout=10, reuse_shell=True)).ok
        r = await pool.run("s", _late_write(marker), timeout=0.5, reuse_shell=True)
        assert r.error_kind == "timeout" and r.exit_status is None
        assert STILL_RUNNING not in (r.error or ""), r.error
        await asyncio.sleep(SETTLE)
        assert not marker.exists(), "the command outlived its timeout"
        after = await pool.run("s", "echo next", timeout=10, reuse_shell=True)
        assert after.stdout == "next\n"
