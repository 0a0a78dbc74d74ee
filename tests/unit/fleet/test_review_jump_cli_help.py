"""The global help says where the fleet comes from, and a group's command typed without
its group (``ccm probe``) is pointed at the group."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ccm_tui.cli import app


def ccm(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args), env={"COLUMNS": "400"})
    return r.exit_code, r.stdout, r.stderr


@pytest.mark.parametrize(("typed", "meant"), [
    ("probe", "'fleet probe'"), ("trust", "'fleet trust'"), ("migrate", "'db migrate'"),
    ("lint", "'runbooks lint'"), ("aprove", "'approve'"),  # a look-alike still suggested
])
def test_a_command_typed_without_its_group_is_pointed_at_it(isolated_env: Path, typed: str,
                                                            meant: str) -> None:
    code, _, err = ccm(typed)
    assert code == 2
    assert f"No such command '{typed}'. Did you mean {meant}?" in err


def test_a_name_several_groups_have_lists_them_all(isolated_env: Path) -> None:
    _, _, err = ccm("list")
    assert "Did you mean 'tasks list', 'runbooks list'" in err and "'fleet list'" in err


def test_the_inventory_help_says_what_is_read_when(isolated_env: Path) -> None:
    _, out, _ = ccm("--help")
    text = " ".join(out.replace("│", " ").split())
    assert "--inventory PATH The fleet: CCM's inventory.yaml, an Ansible inventory (INI or YAML, " \
           "or a folder holding one; its group_vars/ and host_vars/ are read too) or an ssh " \
           "config." in text
    assert "Default: ~/.config/ccm/inventory.yaml, or the hosts of ~/.ssh/config while that " \
           "file does not exist (env CCM_INVENTORY)." in text


def test_what_the_help_says_is_what_happens(isolated_env: Path, tmp_path: Path) -> None:
    ssh = isolated_env / ".ssh"
    ssh.mkdir()
    (ssh / "config").write_text("Host app\n  HostName 10.0.0.5\n  ProxyJump gw1,ops@gw2:2222\n"
                                "Host *\n  User ops\n")
    code, out, err = ccm("fleet", "list", "--json")  # no inventory.yaml: ~/.ssh/config
    assert code == 0, err
    assert [(h["name"], h["jump"]) for h in json.loads(out)] == [("app", "gw1,ops@gw2:2222")]

    folder = tmp_path / "inventories" / "prod"
    (folder / "group_vars").mkdir(parents=True)
    (folder / "hosts").write_text("[web]\nweb1 ansible_host=10.0.1.1\n")
    (folder / "group_vars" / "web.yml").write_text("ansible_port: 2200\n")
    code, out, err = ccm("fleet", "list", "--json", "--inventory", str(folder))
    assert code == 0, err
    web1 = json.loads(out)[0]
    assert (web1["name"], web1["port"], web1["user"]) == ("web1", 2200, "ops")  # ~/.ssh/config


def test_fleet_trust_of_a_mistyped_address_says_what_is_wrong(isolated_env: Path,
                                                             tmp_path: Path) -> None:
    inv = tmp_path / "inv.yaml"
    inv.write_text("hosts:\n  web: {address: 127.0.0.1}\n")
    code, _, err = ccm("fleet", "trust", "web:ssh", "--yes", "--inventory", str(inv))
    assert code == 1
    assert err == ("ccm: error: 'web:ssh': port 'ssh' is not a number from 1 to 65535 — write "
                   "it as NAME, [user@]host[:port], ssh://user@host:port or [IPv6]:port\n")


def test_the_top_level_help_says_where_the_health_probe_is(isolated_env: Path) -> None:
    _, out, _ = ccm("--help")
    assert "The fleet: inventory, host keys, health probes (`ccm fleet probe`)" in out


def test_fleet_trust_of_an_ssh_config_jump_alias_names_the_way_that_works(
        isolated_env: Path, tmp_path: Path) -> None:
    (isolated_env / ".ssh").mkdir()
    (isolated_env / ".ssh" / "config").write_text("Host bastion\n  HostName 10.9.9.9\n"
                                                  "  Port 2222\n")
    inv = tmp_path / "inv.yaml"
    inv.write_text("hosts:\n  web: {address: 10.0.0.5, jump: bastion}\n")
    code, _, err = ccm("fleet", "trust", "bastion", "--yes", "--inventory", str(inv))
    assert code == 1
    assert err == ("ccm: error: 'bastion' is a jump host from the ssh config, not an inventory "
                   "host — name it by its address, as in `ccm fleet trust 10.9.9.9:2222`\n")
