"""A host's own key exchanges and ciphers: from CCM's inventory, Ansible's ssh arguments
and ``~/.ssh/config`` (OpenSSH syntax), applied on top of ``[ssh]`` for that host alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccm_tui.core.errors import InventoryError
from ccm_tui.fleet.algorithms import DEFAULT_CIPHERS, AlgorithmChoice, default_algorithms
from ccm_tui.fleet.inventory import FleetHost, load_inventory
from ccm_tui.fleet.ssh import SSHPool
from ccm_tui.fleet.ssh_types import PoolOptions


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_ccm_yaml_takes_a_string_or_a_list(tmp_path: Path) -> None:
    inv = write(tmp_path, "inv.yaml", """\
defaults: {ciphers: "-chacha20*"}
hosts:
  legacy-db: {kex_algs: "+diffie-hellman-group1-sha1", ciphers: [aes256-ctr, aes128-ctr]}
  web-01: {}
""")
    hosts = load_inventory(inv, ssh_config=None).hosts
    assert hosts["legacy-db"].kex_algs == "+diffie-hellman-group1-sha1"
    assert hosts["legacy-db"].ciphers == "aes256-ctr,aes128-ctr"
    assert (hosts["web-01"].kex_algs, hosts["web-01"].ciphers) == ("", "-chacha20*")


def test_ccm_yaml_refuses_what_is_not_an_algorithm_list(tmp_path: Path) -> None:
    inv = write(tmp_path, "inv.yaml", "hosts:\n  db:\n    port: 22\n"
                "    kex_algs: 'curve25519-sha256 $(reboot)'\n")
    with pytest.raises(InventoryError) as err:
        load_inventory(inv, ssh_config=None)
    assert str(err.value).startswith(f"{inv}:4: `kex_algs` of db: ")
    assert "is not a list of SSH algorithm names" in str(err.value)


def test_ansible_ssh_arguments_carry_them(tmp_path: Path) -> None:
    inv = write(tmp_path, "hosts.ini", """\
[db]
legacy ansible_host=10.0.0.9 ansible_ssh_common_args='-o KexAlgorithms=+diffie-hellman-group1-sha1 -c aes256-ctr'
modern ansible_host=10.0.0.10 ansible_ssh_extra_args="-oCiphers=^aes256-gcm@openssh.com -J gw"
plain ansible_host=10.0.0.11
joined ansible_host=10.0.0.12 ansible_ssh_extra_args='-caes128-ctr'
""")
    hosts = load_inventory(inv, ssh_config=None).hosts
    assert (hosts["legacy"].kex_algs, hosts["legacy"].ciphers) == (
        "+diffie-hellman-group1-sha1", "aes256-ctr")
    assert (hosts["modern"].kex_algs, hosts["modern"].ciphers, hosts["modern"].jump) == (
        "", "^aes256-gcm@openssh.com", "gw")
    assert (hosts["plain"].kex_algs, hosts["plain"].ciphers) == ("", "")
    assert hosts["joined"].ciphers == "aes128-ctr"


def test_ssh_config_blocks_carry_them_and_fill_in_an_inventory(tmp_path: Path) -> None:
    cfg = write(tmp_path, "ssh_config", "Host legacy-*\n  KexAlgorithms +diffie-hellman-group1-sha1\n"
                "  Ciphers aes256-ctr\nHost *\n  Ciphers -chacha20*\n")
    inv = write(tmp_path, "inv.yaml", "hosts:\n  legacy-db: {}\n  web-01: {ciphers: aes128-ctr}\n")
    hosts = load_inventory(inv, ssh_config=cfg).hosts
    assert (hosts["legacy-db"].kex_algs, hosts["legacy-db"].ciphers) == (
        "+diffie-hellman-group1-sha1", "aes256-ctr")  # first value wins, as in ssh
    assert hosts["web-01"].ciphers == "aes128-ctr"  # the inventory's own wins
    bad = write(tmp_path, "bad_config", "Host x\n  HostName 10.0.0.1\n  Ciphers aes 256\n")
    with pytest.raises(InventoryError, match=r"bad_config:3: Ciphers: 'aes 256' is not a list"):
        load_inventory(bad, ssh_config=None)


def test_a_hosts_lists_change_the_pools_for_that_host_alone() -> None:
    choice = AlgorithmChoice(PoolOptions(kex_algs="-mlkem*", encryption_algs="-chacha20*"))
    plain = FleetHost("web-01")
    legacy = FleetHost("legacy-db", kex_algs="+diffie-hellman-group1-sha1",
                       ciphers="^aes256-ctr")
    kex, ciphers = choice.for_host(plain)
    assert kex is not None and not any(k.startswith("mlkem") for k in kex)
    assert "chacha20-poly1305@openssh.com" not in ciphers
    legacy_kex, legacy_ciphers = choice.for_host(legacy)
    assert legacy_kex == (*kex, "diffie-hellman-group1-sha1")  # on top of [ssh]'s list
    assert legacy_ciphers == ("aes256-ctr", *(c for c in ciphers if c != "aes256-ctr"))
    assert choice.for_host(FleetHost("other", kex_algs="+diffie-hellman-group1-sha1")) == (
        legacy_kex, ciphers)
    # with [ssh] empty, a host's '+' adds to the library's own key exchanges
    kex_only, default_ciphers = AlgorithmChoice(PoolOptions()).for_host(
        FleetHost("h", kex_algs="+diffie-hellman-group1-sha1"))
    assert kex_only == (*default_algorithms("kex_algs"), "diffie-hellman-group1-sha1")
    assert default_ciphers == DEFAULT_CIPHERS


def test_a_pool_refuses_a_host_list_naming_nothing_it_has_at_the_hosts_line() -> None:
    bad = FleetHost("legacy-db", kex_algs="+ecdh-sha9-nistp999", source="inv.yaml:7")
    with pytest.raises(InventoryError) as err:
        SSHPool([FleetHost("web-01"), bad])
    assert str(err.value) == ("inv.yaml:7: host legacy-db: 'ecdh-sha9-nistp999' is not a "
                              "key exchange algorithm this CCM supports")
    assert "ssh -Q kex" in err.value.hint
