"""Inventory parsing: CCM YAML, Ansible INI and YAML, ~/.ssh/config; one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccm_tui.commands.init import INVENTORY_EXAMPLE
from ccm_tui.core.errors import InventoryError
from ccm_tui.fleet.inventory import FleetHost, detect_format, load_inventory
from ccm_tui.fleet.inventory_ansible import expand_range
from ccm_tui.fleet.inventory_sshconfig import SSHConfig
from ccm_tui.fleet.ssh_args import proxy_jump


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def load(path: Path) -> dict[str, FleetHost]:
    return load_inventory(path, ssh_config=None).hosts


# -- CCM's own format --------------------------------------------------------------------------
def test_the_example_that_ccm_init_writes_reads_back(tmp_path: Path) -> None:
    hosts = load(write(tmp_path, "inventory.yaml", INVENTORY_EXAMPLE))
    assert list(hosts) == ["web-01", "web-02", "web-03", "app-01", "db-01", "worker-01"]
    db = hosts["db-01"]
    assert (db.address, db.port, db.user, db.groups) == ("192.0.2.31", 2222, "dba", ("db",))
    assert db.labels == {"env": "prod", "dc": "fra1", "role": "primary"}
    assert hosts["web-01"].user == "ops" and hosts["web-01"].port == 22
    assert db.to_host().group == "db" and db.known_hosts_name == "[192.0.2.31]:2222"


def test_ccm_yaml_with_jump_identity_and_python(tmp_path: Path) -> None:
    hosts = load(write(tmp_path, "inv.yaml", """\
defaults: {user: ops, identity_file: ~/.ssh/ops}
hosts:
  bastion: {address: 198.51.100.1}
  app-1:
    address: 10.0.0.5
    jump: bastion
    python: /opt/py/bin/python3
    identity_files: [~/.ssh/a, ~/.ssh/b]
  bare:
"""))
    app = hosts["app-1"]
    assert app.jump == "bastion" and app.python == "/opt/py/bin/python3"
    assert app.identity_files == ("~/.ssh/a", "~/.ssh/b")
    assert hosts["bastion"].identity_files == ("~/.ssh/ops",)
    assert hosts["bare"].target == "bare" and hosts["bare"].source.endswith("inv.yaml:9")


@pytest.mark.parametrize(("text", "where", "reason"), [
    ("hosts:\n  web-01:\n    adress: 10.0.0.1\n", ":3:", "unknown setting 'adress'"),
    ("hosts:\n  web-01:\n    port: 99999\n", ":3:", "port 99999 is not a number"),
    ("hosts:\n  web-01: [1, 2]\n", ":2:", "must be a mapping"),
    ("hosts:\n  web-01:\n    address: [oops\n", ":", "inv.yaml:"),
    ("hosts:\n  web-01:\n    labels: [a]\n", ":3:", "`labels` of web-01 must be a mapping"),
])
def test_ccm_yaml_errors_name_file_and_line(tmp_path: Path, text: str, where: str,
                                             reason: str) -> None:
    p = write(tmp_path, "inv.yaml", text)
    with pytest.raises(InventoryError) as err:
        load(p)
    msg = str(err.value)
    assert msg.startswith(str(p) + where) and reason in msg and "\n" not in msg


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(InventoryError) as err:
        load(tmp_path / "nope.yaml")
    assert "no such inventory file" in str(err.value) and "ccm init" in err.value.hint


def test_jump_loops_are_refused(tmp_path: Path) -> None:
    p = write(tmp_path, "inv.yaml", "hosts:\n  a: {jump: b}\n  b: {jump: a}\n")
    with pytest.raises(InventoryError, match="loop"):
        load(p)


# -- Ansible INI -------------------------------------------------------------------------------
ANSIBLE_INI = """\
# an ungrouped host first
bastion ansible_host=203.0.113.9 ansible_port=2200 ansible_user=jump

[web]
web-[01:03].example.com ansible_host=10.0.0.1 env=prod
web-legacy:2222 ansible_python_interpreter=/usr/bin/python3.9

[db]
db-[a:b] ansible_user=dba ; trailing comment

[db:vars]
ansible_ssh_private_key_file=~/.ssh/db_ed25519
tier="gold"

[prod:children]
web
db

[prod:vars]
ansible_user=ops
env=prod
ansible_ssh_common_args='-o ProxyJump=bastion'

[all:vars]
ansible_port=22
dc=fra1
"""


def test_ansible_ini_hosts_groups_children_and_vars(tmp_path: Path) -> None:
    p = write(tmp_path, "hosts", ANSIBLE_INI)
    assert detect_format(p, ANSIBLE_INI) == "ansible-ini"
    hosts = load(p)
    assert list(hosts) == ["bastion", "web-01.example.com", "web-02.example.com",
                           "web-03.example.com", "web-legacy", "db-a", "db-b"]
    b = hosts["bastion"]
    assert (b.address, b.port, b.user, b.groups, b.jump) == ("203.0.113.9", 2200, "jump", (),
                                                             None)
    w = hosts["web-02.example.com"]
    assert (w.address, w.user, w.groups, w.jump) == ("10.0.0.1", "ops", ("web", "prod"),
                                                     "bastion")
    assert w.labels == {"env": "prod", "dc": "fra1"}
    legacy = hosts["web-legacy"]
    assert legacy.port == 2222 and legacy.python == "/usr/bin/python3.9"
    db = hosts["db-a"]
    # host vars beat child group vars, which beat parent group vars
    assert db.user == "dba" and db.identity_files == ("~/.ssh/db_ed25519",)
    assert db.labels == {"tier": "gold", "env": "prod", "dc": "fra1"}
    assert db.source == f"{p}:9"


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("[web\nweb-01\n", 1, "cannot read section header"),
    ("[web]\nweb-01 ansible_port\n", 2, "expected KEY=VALUE"),
    ("[web]\nweb-01 ansible_port=abc\n", 2, "port 'abc' is not a number"),
    ("[web:vars]\njust words here\n", 2, "expected KEY=VALUE"),
    ("[web]\nweb-[1:x]\n", 2, "cannot expand the host range"),
])
def test_ansible_ini_errors_name_file_and_line(tmp_path: Path, text: str, line: int,
                                                reason: str) -> None:
    p = write(tmp_path, "hosts.ini", text)
    with pytest.raises(InventoryError) as err:
        load(p)
    assert str(err.value).startswith(f"{p}:{line}:") and reason in str(err.value)


def test_ranges_and_proxy_jump_forms() -> None:
    assert expand_range("web-[08:10]", "x") == ["web-08", "web-09", "web-10"]
    assert expand_range("r[1:2]-[a:b]", "x") == ["r1-a", "r1-b", "r2-a", "r2-b"]
    assert expand_range("n[0:6:3]", "x") == ["n0", "n3", "n6"]
    assert proxy_jump("-J ops@bastion:22") == "ops@bastion:22"
    assert proxy_jump("-o ProxyJump=b1,b2") == "b1,b2"  # the whole chain, as ssh goes through it
    assert proxy_jump("-oProxyJump=b3") == "b3"
    assert proxy_jump("-o ProxyCommand='ssh -W %h:%p -q ops@gw'") == "ops@gw"
    assert proxy_jump("-o StrictHostKeyChecking=no") is None


# -- Ansible YAML ------------------------------------------------------------------------------
ANSIBLE_YAML = """\
all:
  vars:
    ansible_user: root
    region: eu
  hosts:
    solo:
      ansible_host: 192.0.2.1
  children:
    web:
      hosts:
        web-[1:2]:
          ansible_port: 2201
      vars:
        role: frontend
    prod:
      children:
        web:
        db:
          hosts:
            db-1: {ansible_host: 192.0.2.9, ansible_user: dba}
      vars:
        ansible_user: ops
        env: prod
"""


def test_ansible_yaml_hosts_groups_children_and_vars(tmp_path: Path) -> None:
    p = write(tmp_path, "inventory.yml", ANSIBLE_YAML)
    assert detect_format(p, ANSIBLE_YAML) == "ansible-yaml"
    hosts = load(p)
    assert list(hosts) == ["solo", "web-1", "web-2", "db-1"]
    assert hosts["solo"].user == "root" and hosts["solo"].labels == {"region": "eu"}
    w = hosts["web-1"]
    assert (w.port, w.user, w.groups) == (2201, "ops", ("web", "prod"))
    assert w.labels == {"region": "eu", "role": "frontend", "env": "prod"}
    assert hosts["db-1"].user == "dba" and hosts["db-1"].groups == ("db", "prod")


def test_ansible_yaml_error_names_line(tmp_path: Path) -> None:
    p = write(tmp_path, "inv.yml", "all:\n  hosts:\n    a: {}\n  childs:\n    x: {}\n")
    with pytest.raises(InventoryError) as err:
        load(p)
    assert str(err.value).startswith(f"{p}:4:") and "'childs'" in str(err.value)


# -- ~/.ssh/config -----------------------------------------------------------------------------
SSH_CONFIG = """\
# personal hosts
Host bastion
    HostName 198.51.100.7
    User jump
    Port 2222

Host web1 web2
    HostName %h.internal.example
    ProxyJump bastion

Host db-primary
    HostName=10.1.0.5
    IdentityFile ~/.ssh/db_key

Host *.example *-staging
    User staging

Match host foo
    User nobody

Host *
    User ops
    IdentityFile ~/.ssh/id_fleet
"""


def test_ssh_config_hosts(tmp_path: Path) -> None:
    p = write(tmp_path, "config", SSH_CONFIG)
    hosts = load(p)
    assert list(hosts) == ["bastion", "web1", "web2", "db-primary"]
    b = hosts["bastion"]
    assert (b.address, b.port, b.user, b.jump) == ("198.51.100.7", 2222, "jump", None)
    assert b.identity_files == (str(Path("~/.ssh/id_fleet").expanduser()),)
    w = hosts["web2"]
    assert (w.address, w.user, w.jump) == ("web2.internal.example", "ops", "bastion")
    db = hosts["db-primary"]
    assert db.address == "10.1.0.5"
    assert db.identity_files == tuple(str(Path(f).expanduser()) for f in
                                      ("~/.ssh/db_key", "~/.ssh/id_fleet"))


def test_ssh_config_fills_in_what_an_inventory_leaves_unset(tmp_path: Path) -> None:
    cfg = write(tmp_path, "ssh_config", "Host web-*\n  User deploy\n  ProxyJump gw\n")
    inv = write(tmp_path, "inv.yaml", "hosts:\n  web-01: {address: 10.0.0.1}\n"
                "  web-02: {address: 10.0.0.2, user: root}\n  db-01: {}\n")
    hosts = load_inventory(inv, ssh_config=cfg).hosts
    assert (hosts["web-01"].user, hosts["web-01"].jump) == ("deploy", "gw")
    assert hosts["web-02"].user == "root"  # the inventory wins
    assert hosts["db-01"].user == "" and hosts["db-01"].jump is None


def test_ssh_config_include_and_negation(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    write(tmp_path / "conf.d", "extra", "Host extra-1\n  HostName 10.9.9.9\n")
    text = f"Include {tmp_path}/conf.d/*\nHost * !extra-1\n  User base\n"
    cfg = SSHConfig.parse(text, tmp_path / "config")
    assert [h.name for h in cfg.hosts()] == ["extra-1"]
    assert cfg.lookup("other")["user"] == ["base"] and "user" not in cfg.lookup("extra-1")


def test_ssh_config_bad_port_names_line(tmp_path: Path) -> None:
    p = write(tmp_path, "config", "Host a\n  Port many\n")
    with pytest.raises(InventoryError, match=r"config:2: port 'many'"):
        load(p)
