"""What a warm-shell command cut off by its deadline says: true to what became of it.

A real asyncssh server whose login shell (``$SHELL``, a POSIX ``sh`` by name) waits
for a gate file before it becomes ``/bin/sh``: the deadline of the first command passes
while the warm shell is still starting, so that command never started and must not
read "may still be running"; once the gate opens, a command cut off while it runs is
killed and confirmed stopped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ccm_tui.fleet.inventory import FleetHost
from ccm_tui.fleet.known_hosts import TrustStore
from ccm_tui.fleet.ssh import SSHPool
from ccm_tui.fleet.stopping import STILL_RUNNING
from tests.support.ssh import LOOPBACK, AsyncsshFleet, KeyFiles, write_known_hosts

NOT_STARTED = "while the host's shell was starting: the command did not start"


@pytest.fixture
def gated(tmp_path: Path) -> Path:
    """The folder of a login shell that starts once ``gate`` exists (``starting``: it has
    begun to wait)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shell = bin_dir / "sh"  # the name START runs as a POSIX shell
    shell.write_text(f'#!/bin/sh\ntouch "{tmp_path}/starting"\n'
                     f'while [ ! -e "{tmp_path}/gate" ]; do sleep 0.05; done\n'
                     'exec /bin/sh "$@"\n')
    shell.chmod(0o755)
    return tmp_path


@pytest.fixture
def slow_shell_fleet(gated: Path, client_key: KeyFiles) -> Iterator[AsyncsshFleet]:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
           "SHELL": str(gated / "bin" / "sh")}
    with AsyncsshFleet(1, authorized_keys=[client_key.public_line], env=env,
                       home=gated) as fleet:
        yield fleet


async def _until(what: str, ready: Callable[[], bool]) -> None:
    give_up = time.monotonic() + 30
    while not ready():
        assert time.monotonic() < give_up, what
        await asyncio.sleep(0.05)


async def test_a_deadline_while_the_shell_starts_says_the_command_did_not_start(
        slow_shell_fleet: AsyncsshFleet, gated: Path, client_key: KeyFiles,
        tmp_path: Path) -> None:
    fleet = slow_shell_fleet
    h = FleetHost("h", LOOPBACK, fleet.ports[0], identity_files=(str(client_key.private),))
    trust = TrustStore([write_known_hosts(tmp_path / "known_hosts",
                                          fleet.known_hosts_entries())],
                       write_to=tmp_path / "ccm_known_hosts")
    ran = gated / "ran"
    async with SSHPool([h], trust=trust) as pool:
        assert (await pool.run("h", "true", timeout=20)).ok  # connected: the shell is next
        late = await pool.run("h", f'touch "{ran}"', timeout=1, reuse_shell=True)
        assert (gated / "starting").exists()  # the deadline did pass during the start
        assert late.error_kind == "timeout" and late.exit_status is None
        assert late.error is not None and late.error.startswith("timed out after ")
        assert late.error.endswith(NOT_STARTED) and STILL_RUNNING not in late.error

        (gated / "gate").touch()
        # the shell the pool went on starting serves the next commands, in order: had
        # the cut-off command been written to it, it would have run first
        pids = {(await pool.run("h", "echo $$", timeout=20, reuse_shell=True)).stdout
                for _ in range(2)}
        assert len(pids) == 1 and not ran.exists()

        cut = await pool.run("h", "sleep 30", timeout=1, reuse_shell=True)
        assert cut.error_kind == "timeout"
        assert cut.error is not None and cut.error.startswith("timed out after ")
        assert NOT_STARTED not in cut.error and STILL_RUNNING not in cut.error  # stopped
        await _until("the cut-off shell is still running",
                     lambda: fleet.running_commands(0) == 0)
