"""Broadcast commands through a host's warm shell behave as a plain exec does.

Against real asyncssh servers and a real OpenSSH sshd (whose login shell is the
test user's own, rc files and all).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from ccm_tui.fleet.inventory import FleetHost
from ccm_tui.fleet.known_hosts import TrustStore
from ccm_tui.fleet.ssh import SSHPool
from ccm_tui.fleet.ssh_types import RunResult
from ccm_tui.fleet.warm_shell import ShellSlot
from tests.support.ssh import LOOPBACK, AsyncsshFleet, KeyFiles, Sshd, write_known_hosts

#: Commands whose output and status must not depend on how they were run.
SAME = [
    "echo hi",
    "printf 'no newline'",
    "echo out; echo err >&2; exit 3",
    "exit 7",
    "cd / && pwd",
    "cat",  # standard input is empty, not the shell's command stream
    "printf 'x\\n%s 0\\n' fake-marker",
    "for i in 1 2 3; do echo line $i; echo warn $i >&2; done",
    "exec echo replaced",
    "head -c 300000 /dev/zero | tr '\\0' a",
    "set -e; false; echo never",
    "echo 'it''s' \"$((6 * 7))\" # a comment",
]


def _pool(tmp_path: Path, h: FleetHost, entries: list[tuple[int, str]]) -> SSHPool:
    trust = TrustStore([write_known_hosts(tmp_path / "known_hosts", entries)],
                       write_to=tmp_path / "ccm_known_hosts")
    return SSHPool([h], trust=trust)


@asynccontextmanager
async def _connected(fleet: AsyncsshFleet, key: KeyFiles, tmp_path: Path, index: int
                     ) -> AsyncIterator[SSHPool]:
    """A pool already connected to fleet host ``index`` (as ``h``): the warm shell is next."""
    h = FleetHost("h", LOOPBACK, fleet.ports[index], identity_files=(str(key.private),))
    async with _pool(tmp_path, h, fleet.known_hosts_entries()) as pool:
        await pool.run("h", "true")
        yield pool


async def _settled(fleet: AsyncsshFleet, index: int, *, at_most: int) -> int:
    """The commands server ``index`` runs, once no more than ``at_most`` (a killed or
    abandoned shell ends soon after) or when a generous bound says they never will.

    Server ``index`` alone: other tests' commands elsewhere on the shared fleet end at
    times of their own (an unsignalled 'sleep 30' of test_pool, say).
    """
    give_up = time.monotonic() + 60
    while (running := fleet.running_commands(index)) > at_most and time.monotonic() < give_up:
        await asyncio.sleep(0.05)
    return running


def _shape(r: RunResult) -> tuple[int | None, str, str, str | None]:
    return r.exit_status, r.stdout, r.stderr, r.error_kind


async def _check_same_as_exec(pool: SSHPool, name: str) -> None:
    await pool.run(name, "true", timeout=20)  # connected: what follows may use the shell
    for cmd in SAME:
        plain = await pool.run(name, cmd, timeout=20)
        warm = await pool.run(name, cmd, timeout=20, reuse_shell=True)
        assert _shape(warm) == _shape(plain), cmd
    pids = [(await pool.run(name, "echo $$", timeout=20, reuse_shell=True)).stdout
            for _ in range(3)]
    assert len(set(pids)) == 1, "the commands did not share one shell"


async def test_warm_shell_matches_exec_on_asyncssh_hosts(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path) -> None:
    h = FleetHost("h", LOOPBACK, fleet.ports[3], identity_files=(str(client_key.private),))
    async with _pool(tmp_path, h, fleet.known_hosts_entries()) as pool:
        await _check_same_as_exec(pool, "h")


async def test_warm_shell_matches_exec_on_openssh(
        sshd: Sshd, client_key: KeyFiles, tmp_path: Path) -> None:
    h = FleetHost("s", LOOPBACK, sshd.port, user=sshd.user,
                  identity_files=(str(client_key.private),))
    async with _pool(tmp_path, h, [(sshd.port, sshd.host_public_line)]) as pool:
        await _check_same_as_exec(pool, "s")


async def test_shell_state_does_not_leak_between_commands(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path) -> None:
    async with _connected(fleet, client_key, tmp_path, 4) as pool:
        for cmd in ("cd /tmp", "export CCM_LEAK=1", "trap 'echo trapped' EXIT",
                    "alias ls=false", "umask 077", "exit 0"):
            assert (await pool.run("h", cmd, reuse_shell=True)).ok, cmd
        r = await pool.run("h", 'pwd; echo "${CCM_LEAK:-unset}"; umask', reuse_shell=True)
        assert r.stdout.splitlines()[1:] == ["unset", "0022"] and r.stdout.split()[0] != "/tmp"


async def test_a_syntax_error_is_the_command_s_failure_not_the_session_s(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path) -> None:
    async with _connected(fleet, client_key, tmp_path, 5) as pool:
        for broken in ('echo "unterminated', "echo $(", "if then fi", ")"):
            r = await pool.run("h", broken, timeout=10, reuse_shell=True)
            assert r.exit_status == 2 and r.error is None and "rror" in r.stderr, broken
        assert (await pool.run("h", "echo still here", reuse_shell=True)).stdout == \
            "still here\n"


async def test_timeout_kills_the_shell_and_the_next_command_gets_a_new_one(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path) -> None:
    async with _connected(fleet, client_key, tmp_path, 6) as pool:
        first = (await pool.run("h", "echo $$", reuse_shell=True)).stdout
        slow = await pool.run("h", "sleep 30", timeout=1, reuse_shell=True)
        assert slow.error_kind == "timeout" and slow.exit_status is None
        after = await pool.run("h", "echo $$", timeout=10, reuse_shell=True)
        assert after.ok and after.stdout != first


async def test_a_command_that_kills_its_shell_is_lost_and_the_next_one_runs(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path) -> None:
    async with _connected(fleet, client_key, tmp_path, 7) as pool:
        gone = await pool.run("h", "kill -9 $$", timeout=10, reuse_shell=True)
        assert gone.error_kind == "lost" and "without an exit status" in (gone.error or "")
        assert (await pool.run("h", "echo back", timeout=10, reuse_shell=True)).stdout == \
            "back\n"


async def test_errexit_in_a_command_is_that_command_s_own(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path) -> None:
    async with _connected(fleet, client_key, tmp_path, 10) as pool:
        first = await pool.run("h", "set -e; false; echo never", reuse_shell=True)
        assert first.exit_status == 1 and first.stdout == ""
        again = await pool.run("h", "false; echo after", reuse_shell=True)
        assert again.stdout == "after\n" and again.exit_status == 0


async def test_concurrent_commands_on_one_host_all_answer(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path) -> None:
    async with _connected(fleet, client_key, tmp_path, 8) as pool:
        results = await asyncio.gather(*(pool.run("h", f"echo {i}", reuse_shell=True)
                                         for i in range(10)))
        assert [r.stdout for r in results] == [f"{i}\n" for i in range(10)]


@pytest.mark.parametrize("command", ["printf 'a\\0b'", "echo \\0"])
async def test_odd_bytes_pass_through(fleet: AsyncsshFleet, client_key: KeyFiles,
                                      tmp_path: Path, command: str) -> None:
    async with _connected(fleet, client_key, tmp_path, 9) as pool:
        plain = await pool.run("h", command)
        warm = await pool.run("h", command, reuse_shell=True)
        assert _shape(warm) == _shape(plain)


@pytest.mark.parametrize("deadline", [0.0005, 0.002, 0.005, 0.01])
async def test_a_deadline_while_the_shell_starts_leaves_one_shell_for_the_next_command(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path, deadline: float) -> None:
    async with _connected(fleet, client_key, tmp_path, 11) as pool:
        # the shells of this test's earlier pools end once their host sees them closed
        assert await _settled(fleet, 11, at_most=0) == 0
        late = await pool.run("h", "echo early", timeout=deadline, reuse_shell=True)
        assert late.error_kind == "timeout" or late.stdout == "early\n"
        pids = {(await pool.run("h", "echo $$", timeout=10, reuse_shell=True)).stdout
                for _ in range(3)}
        assert len(pids) == 1
        assert await _settled(fleet, 11, at_most=1) == 1  # the one warm shell, nothing stray


async def test_a_closed_connection_does_not_mark_the_host_shell_less(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path) -> None:
    async with _connected(fleet, client_key, tmp_path, 12) as pool, \
            pool.connection("h") as conn:
        slot = ShellSlot()
        conn.close()
        await conn.wait_closed()
        assert await slot.run(conn, "echo hi", 5) is None
        assert not slot.unsupported
