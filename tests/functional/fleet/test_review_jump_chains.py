"""Chains of jump hosts (``ProxyJump a,b``) through the pool and ``ccm fleet trust``,
against real asyncssh servers and a real OpenSSH sshd on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from ccm_tui.cli import app
from ccm_tui.fleet.inventory import FleetHost, Inventory, load_inventory
from ccm_tui.fleet.known_hosts import TrustStore
from ccm_tui.fleet.ssh import SSHPool
from tests.support.ssh import (
    LOOPBACK,
    AsyncsshFleet,
    KeyFiles,
    Sshd,
    free_port,
    write_ccm_inventory,
    write_known_hosts,
)


def host(name: str, port: int, key: KeyFiles, **kw: Any) -> FleetHost:
    return FleetHost(name, LOOPBACK, port, identity_files=(str(key.private),), **kw)


def trusting(tmp_path: Path, entries: list[tuple[int, str]]) -> TrustStore:
    return TrustStore([write_known_hosts(tmp_path / "known_hosts", entries)],
                      write_to=tmp_path / "ccm_known_hosts")


async def test_two_targets_go_through_both_hops_each_hop_connected_once(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path) -> None:
    p = fleet.ports
    inv = Inventory.of([host("a", p[10], client_key), host("b", p[11], client_key),
                        host("t1", p[12], client_key, jump="a,b"),
                        host("t2", p[13], client_key, jump="a,b")])
    before, accepted = len(fleet.forwards), list(fleet.accepted)
    async with SSHPool(inv, trust=trusting(tmp_path, fleet.known_hosts_entries())) as pool:
        one = await pool.run("t1", "echo $CCM_TEST_HOST_INDEX", timeout=15)
        two = await pool.run("t2", "echo $CCM_TEST_HOST_INDEX", timeout=15)
    assert (one.stdout, two.stdout) == ("12\n", "13\n"), (one.error, two.error)
    # a is reached directly, b from a, each target from b — as `ssh -J a,b` does
    assert fleet.forwards[before:] == [(10, LOOPBACK, p[11]), (11, LOOPBACK, p[12]),
                                       (11, LOOPBACK, p[13])]
    assert [fleet.accepted[i] - accepted[i] for i in (10, 11, 12, 13)] == [1, 1, 1, 1]


async def test_a_chain_of_literal_hops_through_a_real_sshd(
        fleet: AsyncsshFleet, sshd: Sshd, client_key: KeyFiles, tmp_path: Path,
        isolated_home: Path) -> None:
    shutil.copy(client_key.private, isolated_home / ".ssh" / "id_ed25519")  # the hops' key
    p = fleet.ports
    chain = f"ssh://{sshd.user}@{LOOPBACK}:{sshd.port}/, [{LOOPBACK}]:{p[14]}"
    inv = Inventory.of([host("t", p[15], client_key, jump=chain)])
    before = len(fleet.forwards)
    trust = trusting(tmp_path, [*fleet.known_hosts_entries(), (sshd.port, sshd.host_public_line)])
    async with SSHPool(inv, trust=trust) as pool:
        r = await pool.run("t", "echo $CCM_TEST_HOST_INDEX", timeout=20)
    assert r.ok and r.stdout == "15\n", r.error
    assert fleet.forwards[before:] == [(14, LOOPBACK, p[15])]  # the sshd forwarded to 14


async def test_an_unknown_key_of_the_second_hop_is_refused_naming_that_hop(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path) -> None:
    p = fleet.ports
    inv = Inventory.of([host("a", p[10], client_key), host("b", p[11], client_key),
                        host("t", p[12], client_key, jump="a,b")])
    known = [e for e in fleet.known_hosts_entries() if e[0] != p[11]]
    async with SSHPool(inv, trust=trusting(tmp_path, known)) as pool:
        r = await pool.run("t", "true", timeout=15)
    assert r.error_kind == "hostkey" and r.refused
    assert (r.error or "").startswith(f"jump host b ([127.0.0.1]:{p[11]}): host key unknown")
    assert (r.error or "").endswith("check and record its fingerprint with `ccm fleet trust b`")


async def test_the_error_names_the_hop_that_failed(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path) -> None:
    p, down = fleet.ports, free_port()
    trust = trusting(tmp_path, fleet.known_hosts_entries())
    inv = Inventory.of([host("a", p[10], client_key), host("gone", down, client_key),
                        host("t", p[12], client_key, jump="a,gone"),
                        host("u", p[13], client_key, jump="gone,a")])
    async with SSHPool(inv, trust=trust) as pool:
        second = await pool.run("t", "true", timeout=15)
        first = await pool.run("u", "true", timeout=15)
    assert second.error_kind == "unreachable"
    assert (second.error or "").startswith(
        f"jump host gone (127.0.0.1:{down} via a) unreachable: the jump host could not "
        "connect to it ("), second.error
    assert first.error == f"jump host gone (127.0.0.1:{down}) unreachable: connection refused"


def test_fleet_trust_of_a_later_hop_fetches_its_key_through_the_hops_before_it(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path,
        isolated_home: Path) -> None:
    p = fleet.ports
    hub = f"sqlite:///{tmp_path / 'hub.db'}"
    shutil.copy(client_key.private, isolated_home / ".ssh" / "id_ed25519")
    write_known_hosts(isolated_home / ".ssh" / "known_hosts",
                      [e for e in fleet.known_hosts_entries() if e[0] != p[11]])
    hop = f"{LOOPBACK}:{p[11]}"
    inv = write_ccm_inventory(tmp_path / "inv.yaml", [("a", p[10]), ("t", p[12])],
                              identity=client_key.private, jump={"t": f"a,{hop}"})
    args = ("--inventory", str(inv), "--hub", hub)
    runner = CliRunner()
    assert runner.invoke(app, ["db", "migrate", "--hub", hub]).exit_code == 0
    refused = runner.invoke(app, ["run", "true", "--hosts", "t", *args, "--json"])
    error = json.loads(refused.stdout)["hosts"][0]["error"]
    assert f"jump host {hop} ([127.0.0.1]:{p[11]}): host key unknown" in error
    assert f"`ccm fleet trust {hop}`" in error

    before = len(fleet.forwards)
    trusted = runner.invoke(app, ["fleet", "trust", hop, "--yes", *args, "--json"])
    assert trusted.exit_code == 0, trusted.stderr
    assert fleet.forwards[before:] == [(10, LOOPBACK, p[11])]  # fetched through a
    ok = runner.invoke(app, ["run", "echo $CCM_TEST_HOST_INDEX", "--hosts", "t", *args])
    assert ok.exit_code == 0 and "12" in ok.stdout, ok.stdout + ok.stderr


def test_an_inventory_chain_and_proxyjump_none_are_read_as_ssh_would(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path,
        isolated_home: Path) -> None:
    p = fleet.ports
    cfg = tmp_path / "ssh_config"
    cfg.write_text(f"Host a\n  ProxyJump none\nHost *\n  ProxyJump a,{LOOPBACK}:{p[11]}\n")
    inv = tmp_path / "hosts"
    inv.write_text(f"a ansible_host={LOOPBACK} ansible_port={p[10]}\n"
                   f"t ansible_host={LOOPBACK} ansible_port={p[12]}\n"
                   f"d ansible_host={LOOPBACK} ansible_port={p[13]} "
                   "ansible_ssh_common_args='-o ProxyJump=none'\n"
                   f"[all:vars]\nansible_ssh_private_key_file={client_key.private}\n")
    shutil.copy(client_key.private, isolated_home / ".ssh" / "id_ed25519")
    hosts = load_inventory(inv, ssh_config=cfg)
    assert [h.jump for h in hosts] == [None, f"a,{LOOPBACK}:{p[11]}", None]
    before = len(fleet.forwards)

    async def go() -> list[str]:
        async with SSHPool(hosts, trust=trusting(tmp_path, fleet.known_hosts_entries())) as pool:
            return [(await pool.run(n, "echo $CCM_TEST_HOST_INDEX", timeout=15)).stdout
                    for n in ("t", "d")]


    assert asyncio.run(go()) == ["12\n", "13\n"]
    assert fleet.forwards[before:] == [(10, LOOPBACK, p[11]), (11, LOOPBACK, p[12])]


def test_a_jump_host_known_only_to_the_ssh_config_is_reached_as_ssh_would(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path,
        isolated_home: Path) -> None:
    p = fleet.ports
    (isolated_home / ".ssh" / "config").write_text(
        f"Host bastion\n  HostName {LOOPBACK}\n  Port {p[10]}\n  IdentityFile {client_key.private}\n"
        f"Host inner-gw\n  HostName {LOOPBACK}\n  Port {p[11]}\n  ProxyJump bastion\n"
        f"  IdentityFile {client_key.private}\n")
    write_known_hosts(isolated_home / ".ssh" / "known_hosts",
                      [e for e in fleet.known_hosts_entries() if e[0] != p[11]])
    hub = f"sqlite:///{tmp_path / 'hub.db'}"
    inv = write_ccm_inventory(tmp_path / "inv.yaml", [("t", p[12])],
                              identity=client_key.private, jump={"t": "inner-gw"})
    args = ("--inventory", str(inv), "--hub", hub)
    runner = CliRunner()
    assert runner.invoke(app, ["db", "migrate", "--hub", hub]).exit_code == 0
    listed = runner.invoke(app, ["fleet", "list", "--json", *args])
    assert [h["name"] for h in json.loads(listed.stdout)] == ["t"]  # hops are no fleet hosts

    refused = runner.invoke(app, ["run", "true", "--hosts", "t", *args, "--json"])
    error = json.loads(refused.stdout)["hosts"][0]["error"]
    assert error.startswith(f"jump host inner-gw ([127.0.0.1]:{p[11]}): host key unknown"), error
    remedy = f"ccm fleet trust 127.0.0.1:{p[11]}"  # an alias `ccm fleet trust` cannot look up
    assert error.endswith(f"`{remedy}`")

    before = len(fleet.forwards)
    trusted = runner.invoke(app, [*remedy.split()[1:], "--yes", *args])
    assert trusted.exit_code == 0, trusted.stderr
    assert fleet.forwards[before:] == [(10, LOOPBACK, p[11])]  # through bastion, as ssh goes
    before = len(fleet.forwards)
    ok = runner.invoke(app, ["run", "echo $CCM_TEST_HOST_INDEX", "--hosts", "t", *args])
    assert ok.exit_code == 0 and "12" in ok.stdout, ok.stdout + ok.stderr
    assert fleet.forwards[before:] == [(10, LOOPBACK, p[11]), (11, LOOPBACK, p[12])]


async def test_a_chain_cut_by_the_servers_is_built_again_on_next_use(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path) -> None:
    p = fleet.ports
    inv = Inventory.of([host("a", p[16], client_key), host("b", p[17], client_key),
                        host("t", p[18], client_key, jump="a,b")])
    async with SSHPool(inv, trust=trusting(tmp_path, fleet.known_hosts_entries())) as pool:
        assert (await pool.run("t", "true", timeout=15)).ok
        accepted = list(fleet.accepted)
        assert fleet.drop_connections() >= 3  # a, b and t, as a restarted bastion does
        again = await pool.run("t", "echo $CCM_TEST_HOST_INDEX", timeout=15)
        assert again.ok and again.stdout == "18\n", again.error
        assert pool.is_connected("a") and pool.is_connected("t")
    assert [fleet.accepted[i] - accepted[i] for i in (16, 17, 18)] == [1, 1, 1]


async def test_every_host_behind_a_dead_bastion_is_told_why(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path) -> None:
    p, dead = fleet.ports, free_port()
    inv = Inventory.of([host("gw", dead, client_key)]
                       + [host(f"t{i}", p[i], client_key, jump="gw") for i in range(8)])
    async with SSHPool(inv, trust=trusting(tmp_path, fleet.known_hosts_entries())) as pool:
        results = await asyncio.gather(*(pool.run(f"t{i}", "true", timeout=10)
                                         for i in range(8)))
    # not 'timed out while connecting' for those that waited on the first one's handshake
    assert {(r.error_kind, r.error) for r in results} == {
        ("unreachable", f"jump host gw (127.0.0.1:{dead}) unreachable: connection refused")}


async def test_a_jump_host_that_refuses_our_login_says_where_its_key_goes(
        fleet: AsyncsshFleet, client_key: KeyFiles, tmp_path: Path) -> None:
    p = fleet.ports
    hop = f"ops@{LOOPBACK}:{p[10]}"  # no key of its own, none in ~/.ssh, no agent
    inv = Inventory.of([host("t", p[12], client_key, jump=hop)])
    async with SSHPool(inv, trust=trusting(tmp_path, fleet.known_hosts_entries())) as pool:
        r = await pool.run("t", "true", timeout=15)
    assert r.error_kind == "auth"
    assert (r.error or "").startswith(f"jump host {hop}: no key to log in as 'ops' with: ")
    assert (r.error or "").endswith(f"or give the jump host an IdentityFile in a `Host "
                                    f"{LOOPBACK}` block of ~/.ssh/config")
