"""Inventories as users write them: what Ansible and ssh accept, CCM reads the same way."""

from __future__ import annotations

from pathlib import Path

from ccm_tui.fleet.inventory import FleetHost, load_inventory


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


def load(path: Path) -> dict[str, FleetHost]:
    return load_inventory(path, ssh_config=None).hosts


def test_ipv6_hosts_in_ini_keep_their_address_and_take_a_port_in_brackets(
        tmp_path: Path) -> None:
    hosts = load(write(tmp_path, "hosts", """\
[v6]
2001:db8::1
[2001:db8::2]:2222
[2001:db8::3]:2200 ansible_user=ops
host-a ansible_host=2001:db8::10 ansible_port=2201
web[01:02].example.com:2022
"""))
    assert list(hosts) == ["2001:db8::1", "2001:db8::2", "2001:db8::3", "host-a",
                           "web01.example.com", "web02.example.com"]
    assert hosts["2001:db8::1"].port == 22  # not host '2001:db8:' on port 1
    assert hosts["2001:db8::2"].port == 2222 and hosts["2001:db8::2"].groups == ("v6",)
    assert (hosts["2001:db8::3"].port, hosts["2001:db8::3"].user) == (2200, "ops")
    assert (hosts["host-a"].target, hosts["host-a"].port) == ("2001:db8::10", 2201)
    assert hosts["web02.example.com"].port == 2022


def test_ipv6_host_keys_in_yaml(tmp_path: Path) -> None:
    hosts = load(write(tmp_path, "hosts.yml", """\
all:
  hosts:
    "[2001:db8::2]:2222":
    "2001:db8::1":
"""))
    assert [(h.name, h.port) for h in hosts.values()] == [("2001:db8::2", 2222),
                                                          ("2001:db8::1", 22)]


def test_section_headers_may_end_in_a_comment(tmp_path: Path) -> None:
    hosts = load(write(tmp_path, "hosts", """\
[web]   # the web tier
web1
[web:vars] # shared
http_port=8080
[db] ; databases
db1
"""))
    assert hosts["web1"].groups == ("web",) and hosts["web1"].labels == {"http_port": "8080"}
    assert hosts["db1"].groups == ("db",)


def test_a_byte_order_mark_and_crlf_line_ends_are_not_part_of_the_inventory(
        tmp_path: Path) -> None:
    text = "[web]\r\nweb1 ansible_host=10.0.0.1\r\n[web:vars]\r\nansible_user = admin\r\n"
    hosts = load(write(tmp_path, "hosts", b"\xef\xbb\xbf" + text.encode()))
    assert list(hosts) == ["web1"]
    assert (hosts["web1"].target, hosts["web1"].user, hosts["web1"].groups) == (
        "10.0.0.1", "admin", ("web",))
    yml = load(write(tmp_path, "inv.yaml", b"\xef\xbb\xbfhosts:\n  a: {address: 10.0.0.2}\n"))
    assert yml["a"].target == "10.0.0.2"
    cfg = load(write(tmp_path, "config", b"\xef\xbb\xbfHost box\n  HostName 10.0.0.3\n"))
    assert cfg["box"].target == "10.0.0.3"
