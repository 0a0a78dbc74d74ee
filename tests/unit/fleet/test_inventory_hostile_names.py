"""Host and group names holding whitespace or control characters, and host names or
addresses starting with ``-``, are refused at load, naming the file and line; legitimate
names (dots, dashes, underscores, IPv6 addresses) still load."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccm_tui.core.errors import InventoryError
from ccm_tui.fleet.inventory import load_inventory
from tests.unit.cli_support import ccm

E = "\x1b"


def _load(tmp_path: Path, name: str, text: str) -> list[str]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return list(load_inventory(path, ssh_config=None).hosts)


def _refused(tmp_path: Path, name: str, text: str) -> str:
    with pytest.raises(InventoryError) as err:
        _load(tmp_path, name, text)
    message = str(err.value)
    assert E not in message and "\x07" not in message and "\u202e" not in message, message
    return message


@pytest.mark.parametrize(("text", "line", "said"), [
    ('hosts:\n  ok-1: {}\n  "web\\e[2J01": {}\n', 3, "a control character (\\x1b)"),
    ('hosts:\n  "web 01": {}\n', 2, "a space (U+0020)"),
    ('hosts:\n  "db\\t01": {}\n', 2, "a control character (\\t)"),
    ('hosts:\n  "db\\u00a001": {}\n', 2, "a space (U+00A0)"),
    ('hosts:\n  "x\\u202eevil": {}\n', 2, "a control character (\\u202e)"),
    ('hosts:\n  "-oProxyCommand=touch /tmp/pwn": {}\n', 2, "starts with '-'"),
    ('hosts:\n  web-01:\n    address: "-oProxyCommand=x"\n', 2, "starts with '-'"),
    ('hosts:\n  web-01:\n    groups: ["ok", "bad\\u0085grp"]\n', 2, "a control character"),
])
def test_ccm_yaml_refuses_hostile_names(tmp_path: Path, text: str, line: int, said: str) -> None:
    message = _refused(tmp_path, "inventory.yaml", text)
    assert f"inventory.yaml:{line}:" in message and said in message, message


@pytest.mark.parametrize(("text", "line", "what"), [
    ("[web]\nweb-01\nweb\u202e10-bew\n", 3, "host name"),
    ("[web]\n-oProxyCommand=x ansible_port=22\n", 2, "host name"),
    ("[web\u2066x]\nweb-01\n", 1, "group name"),
    ("[all:children]\nweb\u200fz\n", 2, "group name"),
    ("[web]\nweb-01 ansible_host=-oProxyCommand=x\n", 2, "address"),
])
def test_ansible_ini_refuses_hostile_names(tmp_path: Path, text: str, line: int,
                                           what: str) -> None:
    message = _refused(tmp_path, "hosts.ini", text)
    assert f"hosts.ini:{line}: {what} '" in message, message


def test_ansible_yaml_refuses_a_hostile_group_and_host(tmp_path: Path) -> None:
    group = _refused(tmp_path, "a.yml", 'all:\n  children:\n    "web\\e[2J":\n      hosts:\n'
                     "        web-01:\n")
    assert "a.yml:3: group name 'web\\x1b[2J'" in group, group
    host = _refused(tmp_path, "b.yml", 'all:\n  hosts:\n    web-01:\n    "db 01":\n')
    assert "b.yml:4: host name 'db 01' holds a space" in host, host


@pytest.mark.parametrize(("name", "text", "said"), [
    ("e.yml", 'all:\n  hosts:\n    "":\n    web-01:\n', 'e.yml:3: a host name is empty'),
    ("n.yml", "all:\n  hosts:\n    ~:\n    web-01:\n", "n.yml:3: a host name is empty"),
    ("g.yml", 'all:\n  children:\n    ~:\n      hosts:\n        web-01:\n',
     "g.yml:3: a group name is empty"),
    ("inventory.yaml", 'hosts:\n  web-01:\n    groups: [""]\n',
     "inventory.yaml:2: a group name is empty"),
])
def test_empty_names_are_refused(tmp_path: Path, name: str, text: str, said: str) -> None:
    message = _refused(tmp_path, name, text)
    assert said in message, message


@pytest.mark.parametrize(("spec", "said"), [
    ('user: "-oProxyCommand=x"', "user name '-oProxyCommand=x' starts with '-'"),
    ('user: "ops\\e[2J"', "user name 'ops\\x1b[2J' holds a control character (\\x1b)"),
    ('jump: "-oProxyCommand=x"', "jump host name '-oProxyCommand=x' starts with '-'"),
    ('jump: "bastion,ops@-x:22"', "jump host name '-x' starts with '-'"),
    ('jump: "-ops@bastion"', "user name '-ops' starts with '-'"),
])
def test_users_and_jump_hosts_are_checked_too(tmp_path: Path, spec: str, said: str) -> None:
    message = _refused(tmp_path, "inventory.yaml", f"hosts:\n  web-01:\n    {spec}\n")
    assert f"inventory.yaml:2: {said}" in message, message


def test_ansible_users_and_jump_hosts_are_checked(tmp_path: Path) -> None:
    message = _refused(tmp_path, "hosts.ini", "[web]\nweb-01 ansible_user=-oX=y\n")
    assert "hosts.ini:2: user name '-oX=y' starts with '-'" in message, message
    message = _refused(tmp_path, "j.ini", "[web]\nweb-01 ansible_ssh_common_args='-J -oX=y'\n")
    assert "j.ini:2:" in message and "'-oX=y'" in message, message


def test_ssh_config_as_the_inventory_refuses_a_hostile_host(tmp_path: Path) -> None:
    message = _refused(tmp_path, "config",
                       "Host web-01\n  HostName 10.0.0.1\n\nHost -oProxyCommand=x\n  User a\n")
    assert "config:4: host name '-oProxyCommand=x' starts with '-'" in message, message


def test_legitimate_names_still_load(tmp_path: Path) -> None:
    assert _load(tmp_path, "inventory.yaml",
                 "hosts:\n  web-01.prod.example.com:\n    user: deploy_bot-2\n"
                 "    jump: ops@bastion-1:2222,[2001:db8::1]:22\n  db_02:\n    address: '2001:db8::1'\n"
                 "    groups: [db-primary, eu_west.1]\n  10.0.0.3: {}\n") == [
        "web-01.prod.example.com", "db_02", "10.0.0.3"]
    assert _load(tmp_path, "hosts.ini",
                 "[db-primary]\ndb_01 ansible_host=fe80::1%eth0\n[2001:db8::5]:2222\n"
                 "node-[1:2].example.org\n") == [
        "db_01", "2001:db8::5", "node-1.example.org", "node-2.example.org"]


@pytest.mark.parametrize(("name", "text", "line"), [
    ("inventory.yaml", f"hosts:\n  web-01: {{}}\n  web{E}[2J: {{}}\n", 3),
    ("inventory.yaml", f"# note{E}]52;c;eA==\x07\nhosts:\n  web-01: {{}}\n", 1),
    ("hosts.ini", f"[web]\nweb-01\nweb{E}]52;c;eA==\x07-02\n", 3),
    ("hosts.ini", "[all:children]\nweb\x7fz\n", 2),
    ("config", "Host web-01\n  HostName 10.0.0.1\x85\n", 2),
])
def test_a_raw_control_character_in_the_file_is_refused_at_its_line(
        tmp_path: Path, name: str, text: str, line: int) -> None:
    message = _refused(tmp_path, name, text)
    assert f"{name}:{line}: a control character (\\x" in message, message


@pytest.mark.usefixtures("isolated_env")
def test_the_command_line_names_file_and_line_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(f'hosts:\n  "web{E}[2J": {{}}\n', encoding="utf-8")
    out = ccm("--inventory", str(path), "fleet", "list")
    assert out.exit_code != 0
    assert "Traceback" not in out.output and E not in out.output, out.output
    assert f"{path}:2: a control character (\\x1b) in the inventory" in out.stderr, out.stderr
    path.write_text("hosts:\n  web-01:\n    address: '2001:db8::1 '\n", encoding="utf-8")
    out = ccm("--inventory", str(path), "fleet", "list")
    assert out.exit_code != 0 and "Traceback" not in out.output, out.output
    assert "address '2001:db8::1 ' holds a space" in out.stderr, out.stderr
    assert "IP address or DNS name" in out.stderr, out.stderr
