"""The SSH pool against real asyncssh servers and a real OpenSSH sshd on 127.0.0.1."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncssh
import pytest

from ccm_tui.core.errors import HostKeyError, SSHError
from ccm_tui.fleet.inventory import FleetHost, Inventory
from ccm_tui.fleet.known_hosts import TrustStore
from ccm_tui.fleet.ssh import PoolOptions, SSHPool
from tests.support.ssh import (
    LOOPBACK,
    AsyncsshFleet,
    KeyFiles,
    Sshd,
    free_port,
    known_hosts_line,
    write_known_hosts,
)


def host(name: str, port: int, key: KeyFiles, **kw: object) -> FleetHost:
    return FleetHost(name, LOOPBACK, port, identity_files=(str(key.private),), **kw)  # type: ignore[arg-type]


def trusting(tmp_path: Path, entries: list[tuple[int, str]]) -> TrustStore:
    return TrustStore([write_known_hosts(tmp_path / "known_hosts", entries)],
                      write_to=tmp_path / "ccm_known_hosts")


async def test_one_connection_serves_many_commands(fleet: AsyncsshFleet, client_key: KeyFiles,
                                                   tmp_path: Path) -> None:
    port = fleet.ports[0]
    before = fleet.accepted[0]
    h = host("h0", port, client_key)
    async with SSHPool([h], trust=trusting(tmp_path, fleet.known_hosts_entries())) as pool:
        results = await asyncio.gather(*(pool.run("h0", ["echo", str(i)], timeout=10)
                                         for i in range(12)))
        results.append(await pool.run("h0", "echo last", timeout=10))
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(12)] + ["last\n"]
    assert all(r.ok for r in results)
    assert pool.connects("h0") == 1 and fleet.accepted[0] - before == 1


async def test_argv_is_quoted_and_strings_go_to_the_shell(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path) -> None:
    h = host("h1", fleet.ports[1], client_key)
    async with SSHPool([h], trust=trusting(tmp_path, fleet.known_hosts_entries())) as pool:
        argv = await pool.run(h, ["printf", "%s|", "a b", "$HOME", "it's; rm -rf /"])
        shell = await pool.run(h, "echo $CCM_TEST_HOST_INDEX; echo oops >&2; exit 4")
        fed = await pool.run(h, ["wc", "-l"], stdin="one\ntwo\n")
    assert argv.stdout == "a b|$HOME|it's; rm -rf /|" and argv.exit_status == 0
    assert (shell.stdout, shell.stderr, shell.exit_status, shell.ok) == ("1\n", "oops\n", 4,
                                                                         False)
    assert fed.stdout.strip() == "2"


async def test_timeout_returns_partial_output_and_frees_the_host(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path) -> None:
    h = host("h2", fleet.ports[2], client_key)
    async with SSHPool([h], trust=trusting(tmp_path, fleet.known_hosts_entries())) as pool:
        r = await pool.run(h, "echo started; sleep 30", timeout=1.0)
        after = await pool.run(h, "echo still fine", timeout=5)
    assert r.error_kind == "timeout" and r.exit_status is None and "timed out" in (r.error or "")
    assert r.stdout == "started\n" and 0.9 < r.duration < 25  # stopped, not slept out
    assert after.ok and pool.connects(h) == 1


async def test_reconnects_after_the_server_drops_the_connection(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path) -> None:
    h = host("h3", fleet.ports[3], client_key)
    async with SSHPool([h], trust=trusting(tmp_path, fleet.known_hosts_entries())) as pool:
        assert (await pool.run(h, "echo one", timeout=5)).ok
        assert fleet.drop_connections() >= 1
        second = await pool.run(h, "echo two", timeout=5)
        assert second.ok and second.stdout == "two\n"
        assert pool.connects(h) == 2


async def test_unreachable_host_is_reported_after_backoff(client_key: KeyFiles,
                                                          tmp_path: Path) -> None:
    h = host("dead", free_port(), client_key)
    opts = PoolOptions(connect_retries=2, backoff_initial=0.05)
    async with SSHPool([h], options=opts, trust=trusting(tmp_path, [])) as pool:
        r = await pool.run(h, "true", timeout=5)
        with pytest.raises(SSHError, match="connection refused"):
            async with pool.connection(h):
                pass
    assert r.error_kind == "unreachable" and "connection refused" in (r.error or "")
    assert r.duration >= 0.05 + 0.1  # two backoff waits between three attempts


async def test_unknown_host_key_is_refused_naming_the_remedy(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path) -> None:
    h = host("web-07", fleet.ports[4], client_key)
    async with SSHPool([h], trust=trusting(tmp_path, [])) as pool:
        r = await pool.run(h, "echo never", timeout=5)
        with pytest.raises(HostKeyError) as err:
            async with pool.connection(h):
                pass
    assert r.error_kind == "hostkey" and r.exit_status is None
    assert "host key unknown" in (r.error or "") and "ccm fleet trust web-07" in (r.error or "")
    assert not err.value.changed and err.value.hint.endswith("`ccm fleet trust web-07`")
    assert f"[127.0.0.1]:{fleet.ports[4]}" in str(err.value)


async def test_changed_host_key_is_refused(fleet: AsyncsshFleet, client_key: KeyFiles,
                                           tmp_path: Path) -> None:
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    h = host("db-01", fleet.ports[5], client_key)
    async with SSHPool([h], trust=trusting(tmp_path, [(fleet.ports[5], impostor)])) as pool:
        with pytest.raises(HostKeyError) as err:
            async with pool.connection(h):
                pass
    assert err.value.changed and "CHANGED" in str(err.value)
    assert "ccm fleet trust db-01" in err.value.hint


async def test_bracketed_host_port_entries_are_what_gets_matched(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path) -> None:
    port = fleet.ports[6]
    kh = tmp_path / "known_hosts"
    kh.write_text(f"# other hosts first\n[127.0.0.1]:{free_port()} "
                  f"{asyncssh.generate_private_key('ssh-ed25519').export_public_key().decode()}"
                  f"{known_hosts_line(port, fleet.host_public_line)}\n")
    h = host("h6", port, client_key)
    async with SSHPool([h], trust=TrustStore([kh], write_to=tmp_path / "ccm")) as pool:
        assert (await pool.run(h, "echo ok", timeout=5)).ok


async def test_jump_host_through_one_server_to_another(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path) -> None:
    jump = host("bastion", fleet.ports[7], client_key)
    target = host("inner", fleet.ports[8], client_key, jump="bastion")
    inv = Inventory.of([jump, target])
    before = len(fleet.forwards)
    async with SSHPool(inv, trust=trusting(tmp_path, fleet.known_hosts_entries())) as pool:
        r = await pool.run("inner", "echo $CCM_TEST_HOST_INDEX", timeout=10)
        assert pool.is_connected("bastion") and pool.is_connected("inner")
    assert r.ok and r.stdout == "8\n"  # ran on server 8 …
    assert fleet.forwards[before:] == [(7, LOOPBACK, fleet.ports[8])]  # … reached via server 7


async def test_a_target_the_jump_host_cannot_reach_says_so(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path) -> None:
    jump = host("bastion", fleet.ports[7], client_key)
    target = host("inner", free_port(), client_key, jump="bastion")
    async with SSHPool(Inventory.of([jump, target]),
                       trust=trusting(tmp_path, fleet.known_hosts_entries())) as pool:
        r = await pool.run("inner", "true", timeout=10)
    assert r.error_kind == "unreachable"
    assert "unreachable: the jump host could not connect to it (" in (r.error or ""), r.error


async def test_login_refused_says_which_key(fleet: AsyncsshFleet, tmp_path: Path) -> None:
    from tests.support.ssh import make_keypair

    stranger = make_keypair(tmp_path / "stranger")
    h = host("h9", fleet.ports[9], stranger, user="ops")
    async with SSHPool([h], trust=trusting(tmp_path, fleet.known_hosts_entries())) as pool:
        r = await pool.run(h, "true", timeout=5)
    assert r.error_kind == "auth" and "refused our key for user 'ops'" in (r.error or "")
    assert f"(offered: {stranger.private}, no ssh-agent (SSH_AUTH_SOCK is not set))" in (
        r.error or "")


async def test_real_sshd_runs_commands_and_sftp(sshd: Sshd, client_key: KeyFiles,
                                                tmp_path: Path) -> None:
    h = FleetHost("real", LOOPBACK, sshd.port, sshd.user, identity_files=(str(client_key.private),))
    trust = trusting(tmp_path, [(sshd.port, sshd.host_public_line)])
    async with SSHPool([h], trust=trust) as pool:
        r = await pool.run(h, ["sh", "-c", 'echo "$1"; exit 7', "x", "quoted arg"], timeout=20)
        async with pool.connection(h) as conn, conn.start_sftp_client() as sftp:
            await sftp.put(str(client_key.public), str(tmp_path / "copied.pub"))
        again = await pool.run(h, "true", timeout=20)
    assert (r.stdout.splitlines()[-1], r.exit_status) == ("quoted arg", 7)
    assert (tmp_path / "copied.pub").read_text() == client_key.public.read_text()
    assert again.ok and pool.connects(h) == 1
