"""A command that runs out of time: CCM stops it, or says it may still be running.

Against a real OpenSSH sshd. OpenSSH refuses to deliver signals to a root login's
commands ("session signalling requires privilege separation"), and CI logs in as root,
so what these tests hold to is the promise, whoever logs in: a result that does not say
"may still be running" belongs to a command that really ended.

The command prints a line, then waits on a FIFO (the gate) that only the test opens:
it never ends on its own, so nothing here depends on how fast a busy machine runs it.
Whether it is still running afterwards is read from the gate: a command still waiting
on it is let go (and writes its file); a command that was stopped left nobody reading.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shlex
from pathlib import Path

import pytest

from ccm_tui.fleet.inventory import FleetHost
from ccm_tui.fleet.known_hosts import TrustStore
from ccm_tui.fleet.ssh import SSHPool
from ccm_tui.fleet.ssh_types import RunResult
from ccm_tui.fleet.stopping import STILL_RUNNING
from tests.support.ssh import LOOPBACK, KeyFiles, Sshd, write_known_hosts

#: The deadline under test: ample for a warm connection to start the command and hear
#: its first line on a busy machine; the command itself would wait for ever.
TIMEOUT = 3.0
#: Bounds on what must happen long before them; reaching one is the failure.
GIVE_UP = 60.0


def _pool(sshd: Sshd, key: KeyFiles, tmp_path: Path) -> SSHPool:
    h = FleetHost("s", LOOPBACK, sshd.port, user=sshd.user,
                  identity_files=(str(key.private),))
    known = write_known_hosts(tmp_path / "known_hosts", [(sshd.port, sshd.host_public_line)])
    return SSHPool([h], trust=TrustStore([known], write_to=tmp_path / "ccm_known_hosts"))


def _gated_write(gate: Path, marker: Path) -> str:
    """Prints 'started', waits until the test opens ``gate``, then writes ``marker``."""
    return (f"echo started; read go < {shlex.quote(str(gate))}; "
            f"echo late > {shlex.quote(str(marker))}")


def _let_go(gate: Path) -> bool:
    """Open ``gate`` for the command waiting on it; False when nobody waits any more."""
    try:
        fd = os.open(gate, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a FIFO with no reader: the command is gone
            return False
        raise
    try:
        os.write(fd, b"go\n")
    finally:
        os.close(fd)
    return True


async def _run_gated(pool: SSHPool, gate: Path, marker: Path, *, reuse_shell: bool
                     ) -> RunResult:
    """The gated command under :data:`TIMEOUT`; fails the test if the run waits for it."""
    os.mkfifo(gate)
    try:
        async with asyncio.timeout(GIVE_UP):
            return await pool.run("s", _gated_write(gate, marker), timeout=TIMEOUT,
                                  reuse_shell=reuse_shell)
    except TimeoutError:
        _let_go(gate)
        pytest.fail("the run waited for the command it gave up on")


async def _appears(path: Path) -> bool:
    async with asyncio.timeout(GIVE_UP):
        while not path.exists():
            await asyncio.sleep(0.02)
    return True


async def test_a_timed_out_exec_is_reported_stopped_only_if_it_stopped(
        sshd: Sshd, client_key: KeyFiles, tmp_path: Path) -> None:
    gate, marker = tmp_path / "exec-gate", tmp_path / "exec-marker"
    async with _pool(sshd, client_key, tmp_path) as pool:
        # connected first: the deadline below is the command's alone, not the handshake's
        assert (await pool.run("s", "true", timeout=GIVE_UP)).ok
        r = await _run_gated(pool, gate, marker, reuse_shell=False)
        assert r.error_kind == "timeout" and r.exit_status is None
        assert r.stdout == "started\n" and (r.error or "").startswith("timed out after ")
        still_running = _let_go(gate)
        assert (STILL_RUNNING in (r.error or "")) == still_running, r.error
        if still_running:
            assert await _appears(marker)
        assert (await pool.run("s", "echo next", timeout=10)).stdout == "next\n"


async def test_a_timed_out_warm_shell_command_is_stopped_even_on_a_root_login(
        sshd: Sshd, client_key: KeyFiles, tmp_path: Path) -> None:
    gate, marker = tmp_path / "warm-gate", tmp_path / "warm-marker"
    async with _pool(sshd, client_key, tmp_path) as pool:
        assert (await pool.run("s", "true", timeout=10, reuse_shell=True)).ok
        assert (await pool.run("s", "true", timeout=10, reuse_shell=True)).ok
        r = await _run_gated(pool, gate, marker, reuse_shell=True)
        assert r.error_kind == "timeout" and r.exit_status is None
        assert STILL_RUNNING not in (r.error or ""), r.error
        assert not _let_go(gate), "the command outlived its timeout"
        after = await pool.run("s", "echo next", timeout=10, reuse_shell=True)
        assert after.stdout == "next\n"
