"""Jump host specs and chains as OpenSSH writes them: URIs, IPv6, ``none``, bad hops."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccm_tui.core.errors import InventoryError, SSHError
from ccm_tui.fleet.inventory import FleetHost, load_inventory
from ccm_tui.fleet.jump import as_reached, parse_jump_spec, route
from ccm_tui.fleet.ssh import parse_jump_spec as exported


@pytest.mark.parametrize(("spec", "user", "address", "port"), [
    ("bastion", "", "bastion", 22),
    ("ops@bastion:2222", "ops", "bastion", 2222),
    ("ssh://ops@bastion:2222", "ops", "bastion", 2222),
    ("ssh://ops@bastion:2222/", "ops", "bastion", 2222),
    ("SSH://bastion", "", "bastion", 22),
    ("[2001:db8::1]:2200", "", "2001:db8::1", 2200),
    ("ops@[2001:db8::1]", "ops", "2001:db8::1", 22),
    ("ssh://ops@[::1]:2022", "ops", "::1", 2022),
    ("2001:db8::7", "", "2001:db8::7", 22),
])
def test_a_jump_spec_in_every_form_ssh_takes(spec: str, user: str, address: str,
                                             port: int) -> None:
    h = exported(spec)
    assert (h.user, h.address, h.port) == (user, address, port)
    assert not h.name.lower().startswith("ssh://")  # the name `ccm fleet trust` is told


@pytest.mark.parametrize(("spec", "said"), [
    ("bastion:http", "port 'http' is not a number"),
    ("bastion:0", "port '0' is not a number"),
    ("[::1", "expected [IPv6]"),
    ("ops@", "no host name"),
    ("ssh://", "no host name"),
    ("gw:22:33", "more than one ':' and not an IPv6 address"),
])
def test_a_bad_jump_spec_says_what_is_wrong(spec: str, said: str) -> None:
    with pytest.raises(SSHError) as err:
        parse_jump_spec(spec)
    assert said in str(err.value) and "[user@]host[:port]" in err.value.hint


def write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text)
    return p


def test_a_chain_is_kept_whole_in_every_inventory_format(tmp_path: Path) -> None:
    chain = "a,ops@b:2222"
    cfg = load_inventory(write(tmp_path, "config", "Host app\n  ProxyJump a,ssh://ops@b:2222\n"))
    ini = load_inventory(write(tmp_path, "hosts", "app ansible_ssh_common_args='-J a,ops@b:2222'"
                               "\nweb ansible_ssh_extra_args='-o ProxyJump=a,ssh://ops@b:2222'\n"),
                         ssh_config=None)
    ccm = load_inventory(write(tmp_path, "inv.yaml", f"hosts:\n  app: {{jump: '{chain}'}}\n"),
                         ssh_config=None)
    assert cfg.get("app").jump == ini.get("app").jump == ini.get("web").jump == chain
    assert ccm.get("app").jump == chain


def test_jump_none_in_the_inventory_beats_a_proxyjump_of_the_ssh_config(tmp_path: Path) -> None:
    cfg = write(tmp_path, "ssh_config", "Host *\n  ProxyJump gw\n")
    inv = write(tmp_path, "inv.yaml", "hosts:\n  gw: {jump: none}\n  web: {}\n  db: {jump: NONE}\n")
    hosts = load_inventory(inv, ssh_config=cfg)
    assert [(h.name, h.jump) for h in hosts] == [("gw", None), ("web", "gw"), ("db", None)]


@pytest.mark.parametrize(("text", "said"), [
    ("hosts:\n  app: {jump: 'a,,b'}\n", ":2: `jump` of app: an empty jump host in 'a,,b'"),
    ("hosts:\n  app: {jump: 'gw:ssh'}\n", ":2: `jump` of app: jump host 'gw:ssh': port 'ssh'"),
])
def test_a_bad_hop_in_the_inventory_is_named_with_its_line(tmp_path: Path, text: str,
                                                           said: str) -> None:
    p = write(tmp_path, "inv.yaml", text)
    with pytest.raises(InventoryError) as err:
        load_inventory(p, ssh_config=None)
    assert str(err.value).startswith(f"{p}{said}"), str(err.value)


def test_a_bad_proxyjump_in_an_ssh_config_is_named_with_its_line(tmp_path: Path) -> None:
    p = write(tmp_path, "config", "Host app\n  HostName 10.0.0.1\n  ProxyJump gw:99999\n")
    with pytest.raises(InventoryError) as err:
        load_inventory(p)
    assert str(err.value).startswith(f"{p}:3: ProxyJump: jump host 'gw:99999': port '99999'")


def test_a_loop_through_a_chain_is_refused(tmp_path: Path) -> None:
    fine = write(tmp_path, "ok.yaml", "hosts:\n  a: {jump: 'x,b'}\n  b: {jump: a}\n  x: {}\n")
    assert load_inventory(fine, ssh_config=None).get("a").jump == "x,b"  # b is reached via x
    p = write(tmp_path, "inv.yaml", "hosts:\n  a: {jump: 'b,x'}\n  b: {jump: a}\n  x: {}\n")
    with pytest.raises(InventoryError, match=r"jump hosts form a loop \(a → x → b → a\)"):
        load_inventory(p, ssh_config=None)


def test_the_route_of_a_chain_reaches_later_hops_through_earlier_ones() -> None:
    inv = {h.name: h for h in [FleetHost("a", jump="gw"), FleetHost("gw"), FleetHost("b"),
                               FleetHost("t", jump="a,b,ops@c:2200")]}
    hops = route(inv["t"], inv)
    assert [(h.name, h.jump) for h in hops] == [("gw", None), ("a", "gw"), ("b", "a"),
                                                ("ops@c:2200", "a,b")]
    # `ccm fleet trust c:2200` and `ccm fleet trust b`: the way the fleet goes there
    assert as_reached(FleetHost("c:2200", "c", 2200), inv).jump == "a,b"
    assert as_reached(inv["b"], inv).jump == "a"
    assert as_reached(inv["a"], inv).jump == "gw"  # its own jump stays


def test_hops_that_are_ssh_config_aliases_take_its_settings(tmp_path: Path) -> None:
    cfg = write(tmp_path, "ssh_config", "Host bastion\n  HostName 10.0.0.1\n  User ops\n"
                "Host gw2\n  Port 2022\n  User root\n  IdentityFile /keys/gw\n")
    inv = write(tmp_path, "inv.yaml", "hosts:\n  app: {jump: 'bastion,me@gw2:2200'}\n"
                "  db: {jump: plain.example}\n")
    loaded = load_inventory(inv, ssh_config=cfg)
    assert [h.name for h in loaded] == ["app", "db"]  # hops are not fleet hosts
    hops = loaded.hops
    assert set(hops) == {"bastion", "me@gw2:2200"}  # nothing says more of plain.example
    assert (hops["bastion"].target, hops["bastion"].user, hops["bastion"].port) == (
        "10.0.0.1", "ops", 22)
    gw2 = hops["me@gw2:2200"]
    assert (gw2.target, gw2.user, gw2.port) == ("gw2", "me", 2200)  # what the spec says wins
    assert gw2.identity_files == ("/keys/gw",)
    assert [h.name for h in route(loaded.get("app"), {**hops, **loaded.hosts})] == [
        "bastion", "me@gw2:2200"]


@pytest.mark.parametrize(("command", "jump"), [
    ("ssh -W %h:%p bastion", "bastion"),
    ("ssh -W [%h]:%p -l ops bastion", "ops@bastion"),
    ("exec /usr/bin/ssh -q -W %h:%p -l ops -p 2222 bastion", "ops@bastion:2222"),
    ("ssh -W%h:%p -oUser=ops -o Port=22 -i ~/.ssh/k gw", "ops@gw:22"),
    ("ssh -J a -W %h:%p b", "a,b"),
    ("ssh -p 2200 -W %h:%p 2001:db8::1", "[2001:db8::1]:2200"),
    ("ssh ops@bastion nc %h %p", "ops@bastion"),
    ("nc -X connect -x proxy:3128 %h %p", None),
    ("aws ssm start-session --target %h", None),
    ("ssh -W %h:%p", None),
    ("ssh 'unclosed", None),
])
def test_a_proxycommand_through_ssh_is_read_as_its_jump_host(command: str,
                                                             jump: str | None) -> None:
    from ccm_tui.fleet.jump import proxy_command_jump

    assert proxy_command_jump(command) == jump


def test_proxycommand_in_an_ssh_config_is_a_jump_host_first_one_wins(tmp_path: Path) -> None:
    cfg = write(tmp_path, "config", "Host old\n  ProxyCommand ssh -W %h:%p -l ops gw\n"
                "Host ssm\n  ProxyCommand aws ssm start-session --target %h\n"
                "Host direct\n  ProxyCommand none\n"
                "Host *\n  ProxyJump bastion\n")
    inv = load_inventory(cfg)
    assert [(h.name, h.jump) for h in inv] == [("old", "ops@gw"), ("ssm", None), ("direct", None)]
    assert inv.notes == (f"{cfg}:4: ProxyCommand not applied (CCM runs no proxy command; it "
                         "reads `ssh -W %h:%p HOST` as a jump host): the hosts it is for are "
                         "reached directly",)
