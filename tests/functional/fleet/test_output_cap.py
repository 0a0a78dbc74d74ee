"""A command that prints far more than CCM keeps: the first part is kept, the rest is
read (the command finishes, nothing blocks) and counted, and the host stays usable —
against asyncssh servers and a real OpenSSH sshd."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ccm_tui.cli import app
from ccm_tui.fleet.inventory import FleetHost
from ccm_tui.fleet.known_hosts import TrustStore
from ccm_tui.fleet.output_cap import CappedOutput, read_framed
from ccm_tui.fleet.ssh import PoolOptions, SSHPool
from tests.support.ssh import (
    LOOPBACK,
    AsyncsshFleet,
    KeyFiles,
    Sshd,
    write_ccm_inventory,
    write_known_hosts,
)

#: 2,000,000 characters on stdout (100,000 lines of 20), 3 lines on stderr, exit 3.
FLOOD = "yes 0123456789abcdefghi | head -n 100000; echo e1 >&2; echo e2 >&2; echo e3 >&2; exit 3"


def trust(tmp_path: Path, entries: list[tuple[int, str]]) -> TrustStore:
    return TrustStore([write_known_hosts(tmp_path / "known_hosts", entries)],
                      write_to=tmp_path / "ccm_known_hosts")


def capped_pool(fleet: AsyncsshFleet, index: int, key: KeyFiles, tmp_path: Path
                ) -> tuple[FleetHost, SSHPool]:
    """One asyncssh host and a pool that keeps 50,000 characters of each stream."""
    h = FleetHost(f"host-{index}", LOOPBACK, fleet.ports[index],
                  identity_files=(str(key.private),))
    return h, SSHPool([h], options=PoolOptions(max_output=50_000, agent_path=None),
                      trust=trust(tmp_path, fleet.known_hosts_entries()))


def test_capped_output_keeps_the_first_part_and_counts_the_rest() -> None:
    out = CappedOutput(10)
    for chunk in ("abc", "defghij", "klm", "nop"):
        out.add(chunk)
    assert (out.kept, out.dropped) == (10, 6)
    assert out.text() == ("abcdefghij\n… 6 more characters not kept (CCM keeps the first 10 "
                          "of each host's output)\n")
    whole = CappedOutput(10)
    whole.add("0123456789")
    assert whole.text() == "0123456789" and whole.dropped == 0


async def test_a_flood_is_cut_to_the_limit_and_the_command_still_finishes(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path) -> None:
    h, pool = capped_pool(fleet, 3, client_key, tmp_path)
    async with pool:
        r = await pool.run(h, FLOOD, timeout=60)
        after = await pool.run(h, "echo next", timeout=10)
    kept, note = r.stdout[:50_000], r.stdout[50_000:]
    assert r.exit_status == 3 and kept.startswith("0123456789abcdefghi\n")
    assert note == ("… 1950000 more characters not kept (CCM keeps the first 50000 of each "
                    "host's output)\n")  # kept ends a line here: no blank line added
    assert r.stderr == "e1\ne2\ne3\n"  # the other stream is whole: under its own limit
    assert after.stdout == "next\n" and pool.connects(h) == 1


async def test_the_default_limit_against_a_real_sshd(sshd: Sshd, client_key: KeyFiles,
                                                     tmp_path: Path) -> None:
    h = FleetHost("real", LOOPBACK, sshd.port, sshd.user, identity_files=(str(client_key.private),))
    async with SSHPool([h], trust=trust(tmp_path, [(sshd.port, sshd.host_public_line)])) as pool:
        r = await pool.run(h, FLOOD, timeout=60)
        after = await pool.run(h, "echo next", timeout=10)
    limit = 1 << 20  # the default: 1 MiB of ASCII
    assert r.exit_status == 3 and r.stderr == "e1\ne2\ne3\n"
    assert r.stdout[:limit] == ("0123456789abcdefghi\n" * (limit // 20 + 1))[:limit]
    assert r.stdout[limit:] == (f"\n… {2_000_000 - limit} more characters not kept (CCM keeps "
                                f"the first {limit} of each host's output)\n")
    assert after.stdout == "next\n"


async def test_the_warm_shell_cuts_a_flood_too_and_stays_in_step(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path) -> None:
    h, pool = capped_pool(fleet, 4, client_key, tmp_path)
    async with pool:
        await pool.run(h, "true", timeout=10)  # connected: later runs may use the warm shell
        first = await pool.run(h, "echo $$", timeout=10, reuse_shell=True)
        r = await pool.run(h, FLOOD, timeout=60, reuse_shell=True)
        after = await pool.run(h, "echo next; echo $$", timeout=10, reuse_shell=True)
    assert r.exit_status == 3 and r.stderr == "e1\ne2\ne3\n"
    assert r.stdout == ("0123456789abcdefghi\n" * 2500 + "… 1950000 more bytes not kept (CCM "
                        "keeps the first 50000 of each host's output)\n")
    assert after.stdout == f"next\n{first.stdout}"  # the same shell, in step after the flood


async def test_read_framed_keeps_what_comes_after_the_marker_for_next_time() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(b"abc" * 10 + b"\nMARK 7\n" + b"late\nmore")
    end = re.compile(rb"\nMARK ([0-9]{1,3})\n")
    kept, dropped, found, rest = await read_framed(reader, end, 12, limit=10)
    assert (kept, dropped, found.group(1), rest) == (b"abcabcabca", 20, b"7", b"late\nmore")
    reader.feed_data(b" output\nMARK 0\n")
    kept, dropped, found, rest = await read_framed(reader, end, 12, limit=100, pending=rest)
    assert (kept, dropped, found.group(1), rest) == (b"late\nmore output", 0, b"0", b"")
    reader.feed_eof()
    with pytest.raises(asyncio.IncompleteReadError):
        await read_framed(reader, end, 12, limit=100)


def test_ccm_run_takes_the_limit_from_the_ssh_settings(
        fleet: AsyncsshFleet, client_key: KeyFiles, isolated_home: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCM_SSH__MAX_OUTPUT", "2048")
    write_known_hosts(isolated_home / ".ssh" / "known_hosts", fleet.known_hosts_entries())
    inventory = write_ccm_inventory(tmp_path / "inventory.yaml", fleet.hosts()[5:7],
                                    identity=client_key.private)
    res = CliRunner().invoke(app, [
        "run", "head -c 10000 /dev/zero | tr '\\0' y", "--hosts", "all", "--inventory",
        str(inventory), "--hub", f"sqlite:///{tmp_path / 'hub.db'}", "--json"])
    doc = json.loads(res.stdout)
    assert res.exit_code == 0 and doc["summary"] == "2 identical", res.output
    assert doc["groups"][0]["stdout"] == ("y" * 2048 + "\n… 7952 more characters not kept "
                                          "(CCM keeps the first 2048 of each host's output)\n")
