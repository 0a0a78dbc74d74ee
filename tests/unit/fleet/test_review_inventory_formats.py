"""Inventories as users write them: what Ansible and ssh accept, CCM reads the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccm_tui.core.errors import InventoryError
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


# -- ~/.ssh/config as ssh reads it -------------------------------------------------------------
def test_ssh_config_trailing_comments_and_quoted_values(tmp_path: Path) -> None:
    hosts = load(write(tmp_path, "config", """\
Host foo bar # the app servers
  HostName 10.0.0.1 # primary
  Port 2222 # not the default
  IdentityFile "~/.ssh/my key"
  User=deploy
Host esc
  IdentityFile ~/.ssh/with\\ space
  ProxyCommand sh -c "nc %h %p # it's as ssh keeps it
"""))
    assert list(hosts) == ["foo", "bar", "esc"]  # not '#', 'the', 'app', 'servers'
    foo = hosts["foo"]
    assert (foo.target, foo.port, foo.user) == ("10.0.0.1", 2222, "deploy")
    assert foo.identity_files[0].endswith("/.ssh/my key")
    assert hosts["esc"].identity_files[0].endswith("/.ssh/with space")


def test_ssh_config_unclosed_quote_is_named_with_its_line(tmp_path: Path) -> None:
    p = write(tmp_path, "config", 'Host a\n  IdentityFile "~/.ssh/k\n')
    with pytest.raises(InventoryError) as err:
        load(p)
    assert str(err.value) == f'{p}:2: unclosed " quote'


def test_match_blocks_are_listed_as_not_applied(tmp_path: Path) -> None:
    p = write(tmp_path, "config", "Host a\n  User u\nMatch host a exec true\n  User m\n")
    inv = load_inventory(p, ssh_config=None)
    assert inv.hosts["a"].user == "u"
    assert inv.notes == (f"{p}:3: Match block not applied (CCM cannot evaluate Match "
                         "conditions; use a Host block for what CCM needs)",)
    # the same when the config only fills in an inventory's hosts
    ini = write(tmp_path, "hosts", "a\n")
    assert load_inventory(ini, ssh_config=p).notes == inv.notes


def test_an_include_that_matches_a_folder_is_an_error_naming_the_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ssh" / "conf.d" / "sub").mkdir(parents=True)
    (tmp_path / ".ssh" / "conf.d" / "a.conf").write_text("Host inc\n  HostName 10.1.1.1\n")
    p = write(tmp_path, "config", "Include conf.d/a.conf\nInclude conf.d/*\n")
    with pytest.raises(InventoryError) as err:
        load(p)
    assert str(err.value).startswith(f"{p}:2: cannot read included ")
    assert "Is a directory" in str(err.value)
    ok = write(tmp_path, "config", "Include conf.d/*.conf\n")
    assert load(ok)["inc"].target == "10.1.1.1"


# -- hosts Ansible does not reach over SSH -------------------------------------------------------
def test_hosts_with_a_non_ssh_connection_are_left_out_with_a_note(tmp_path: Path) -> None:
    p = write(tmp_path, "hosts", """\
localhost ansible_connection=local
[linux]
web1 ansible_connection=ssh
web2
[windows]
win1
[windows:vars]
ansible_connection=winrm
""")
    inv = load_inventory(p, ssh_config=None)
    assert list(inv.hosts) == ["web1", "web2"]
    assert inv.notes == (
        f"{p}:1: localhost left out: ansible_connection=local is not SSH",
        f"{p}:6: win1 left out: ansible_connection=winrm is not SSH")
    assert [h.name for h in inv.select("all")] == ["web1", "web2"]
    with pytest.raises(InventoryError) as err:
        inv.select("web1,win1")
    assert str(err.value) == (f"host 'win1' is not in the fleet: {p}:6: win1 left out: "
                              "ansible_connection=winrm is not SSH")
    yml = write(tmp_path, "hosts.yml", "all:\n  hosts:\n    local: {ansible_connection: local}\n"
                "    box: {ansible_connection: paramiko}\n")
    assert list(load(yml)) == ["box"]


def test_ssh_config_value_with_an_unquoted_space_is_refused_as_ssh_does(tmp_path: Path) -> None:
    p = write(tmp_path, "config", "Host a\n  IdentityFile ~/.ssh/my key\n")
    with pytest.raises(InventoryError) as err:
        load(p)
    assert str(err.value) == (f"{p}:2: IdentityFile takes one value, got '~/.ssh/my key' "
                              "(quote a value with spaces)")


def test_yaml_inventories_with_vault_and_unsafe_values_load(tmp_path: Path) -> None:
    hosts = load(write(tmp_path, "hosts.yml", """\
all:
  hosts:
    web1:
      ansible_host: 10.0.0.1
      ansible_become_password: !vault |
          $ANSIBLE_VAULT;1.1;AES256
          6231336539666234306139346433616338376437376461363365363430623138
      db_password: !vault |
          $ANSIBLE_VAULT;1.1;AES256
          6231336539666234306139346433616338376437376461363365363430623138
    web2:
      ansible_user: !vault |
          $ANSIBLE_VAULT;1.1;AES256
          6231336539666234306139346433616338376437376461363365363430623138
  vars:
    ansible_user: ops
    motd: !unsafe '{{ not a template }}'
    extra: !unsafe {a: 1}
"""))
    web1 = hosts["web1"]
    assert (web1.target, web1.user) == ("10.0.0.1", "ops")
    assert web1.labels == {"motd": "{{ not a template }}"}  # secrets never become labels
    assert hosts["web2"].user == ""  # encrypted: unknown to CCM, not '<vault-encrypted>'


# -- group_vars/ and host_vars/, and inventory folders ------------------------------------------
def test_group_vars_and_host_vars_next_to_the_inventory_apply_as_in_ansible(
        tmp_path: Path) -> None:
    inv = tmp_path / "prod"
    (inv / "group_vars" / "web").mkdir(parents=True)
    (inv / "host_vars").mkdir()
    write(inv, "hosts", "[web]\nweb1 ansible_host=10.0.0.1\nweb2 ansible_user=inline\n"
          "[db]\ndb1\n[web:vars]\ntier=frontend\nansible_port=2200\n")
    write(inv, "group_vars/all.yml", "ansible_user: deploy\nansible_ssh_private_key_file: "
          "~/.ssh/deploy\nenv: prod\n")
    write(inv, "group_vars/web/main.yml", "ansible_port: 2222\n")
    write(inv, "group_vars/web/other.yaml", "tier: web\n")
    write(inv, "group_vars/db.yml", "$ANSIBLE_VAULT;1.1;AES256\n6231\n")
    write(inv, "host_vars/web2.yml", "---\nansible_host: 10.0.0.2\n")
    write(inv, "host_vars/db1", "ansible_host: 10.0.0.9\n")
    loaded = load_inventory(inv, ssh_config=None)  # the folder, as `ansible -i prod`
    hosts = loaded.hosts
    # what `ansible-inventory -i prod --list` gives
    assert [(h.name, h.target, h.port, h.user) for h in hosts.values()] == [
        ("web1", "10.0.0.1", 2222, "deploy"), ("web2", "10.0.0.2", 2222, "inline"),
        ("db1", "10.0.0.9", 22, "deploy")]
    assert hosts["web1"].labels == {"env": "prod", "tier": "web"}
    assert hosts["db1"].identity_files == ("~/.ssh/deploy",)
    assert loaded.notes == (f"{inv}/group_vars/db.yml: vault-encrypted, its variables are "
                            "not used",)
    assert loaded.sources == (str(inv / "hosts"),)


def test_a_bad_vars_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "group_vars").mkdir()
    write(tmp_path, "group_vars/all.yml", "- a list\n")
    with pytest.raises(InventoryError) as err:
        load(write(tmp_path, "hosts", "web1\n"))
    assert str(err.value) == f"{tmp_path}/group_vars/all.yml:1: expected a mapping of variable " \
        "names to values"


def test_a_folder_with_several_inventories_asks_for_one(tmp_path: Path) -> None:
    write(tmp_path, "hosts", "a\n")
    write(tmp_path, "staging", "b\n")
    write(tmp_path, "ansible.cfg", "[defaults]\n")
    with pytest.raises(InventoryError) as err:
        load(tmp_path)
    assert str(err.value) == f"{tmp_path} is a folder with 2 inventory files (hosts, staging)"
    assert "--inventory PATH/FILE" in err.value.hint


def test_groups_of_one_depth_apply_their_vars_in_name_order_as_ansible_does(
        tmp_path: Path) -> None:
    text = ("[alpha]\nh1\n[zeta]\nh1\n[zeta:vars]\nansible_user=zeta\n"
            "[alpha:vars]\nansible_user=alpha\n")
    assert load(write(tmp_path, "hosts", text))["h1"].user == "zeta"  # zeta sorts last
    text += "ansible_group_priority=10\n"
    assert load(write(tmp_path, "hosts", text))["h1"].user == "alpha"


def test_a_host_written_twice_is_an_error_in_ccm_yaml_and_a_note_in_ansible_yaml(
        tmp_path: Path) -> None:
    ccm = write(tmp_path, "inv.yaml", "hosts:\n  web-01: {address: 10.0.0.1}\n  web-02: {}\n"
                "  web-01: {address: 10.0.0.3}\n")
    with pytest.raises(InventoryError) as err:
        load(ccm)
    assert str(err.value) == f"{ccm}:4: 'web-01' is written twice (also on line 2); remove one"
    ansible = write(tmp_path, "hosts.yml", "all:\n  hosts:\n    web-01: {ansible_host: 10.0.0.1}"
                    "\n    web-01: {ansible_port: 2222}\n")
    inv = load_inventory(ansible, ssh_config=None)
    assert (inv.hosts["web-01"].target, inv.hosts["web-01"].port) == ("web-01", 2222)  # Ansible's
    assert inv.notes == (f"{ansible}:4: 'web-01' is written twice (also on line 3); the later "
                         "one wins",)
    # overriding what `<<: *anchor` brings in is not writing a key twice
    merged = write(tmp_path, "inv.yaml", "hosts:\n  base: &b {user: ops, port: 2222}\n"
                   "  web-01:\n    <<: *b\n    port: 22\n")
    assert (load(merged)["web-01"].user, load(merged)["web-01"].port) == ("ops", 22)


@pytest.mark.parametrize(("line", "reason"), [
    ("web[1:3:0]", "the step of the host range [1:3:0] must be 1 or more"),  # was a traceback
    ("web[01:1000000]", "the host range [01:1000000] makes 1000000 hosts; more than 10000"),
    ("web[1:]", "cannot read the host range in 'web[1:]'; write [START:END]"),
])
def test_host_ranges_that_cannot_be_meant_are_refused_with_the_line(
        tmp_path: Path, line: str, reason: str) -> None:
    p = write(tmp_path, "hosts", f"[web]\n{line}\n")
    with pytest.raises(InventoryError) as err:
        load(p)
    assert str(err.value).startswith(f"{p}:2: {reason}")


def test_an_ssh_config_written_with_equals_signs_is_read_as_one(tmp_path: Path) -> None:
    hosts = load(write(tmp_path, "work.conf", "Host=db1\n  Hostname=10.0.0.5\n  User = dba\n"))
    assert [(h.name, h.target, h.user) for h in hosts.values()] == [("db1", "10.0.0.5", "dba")]


def test_ssh_config_blocks_for_the_address_apply_as_ansibles_ssh_would(tmp_path: Path) -> None:
    cfg = write(tmp_path, "ssh_config", "Host 10.20.*\n  ProxyJump bastion\n  User ops\n"
                "Host web1\n  Port 2222\nHost *\n  User default\n")
    inv = write(tmp_path, "hosts", "web1 ansible_host=10.20.0.5\nweb2 ansible_host=10.20.0.6 "
                "ansible_user=me\nweb3 ansible_host=192.0.2.7\n")
    hosts = load_inventory(inv, ssh_config=cfg).hosts
    assert (hosts["web1"].jump, hosts["web1"].user, hosts["web1"].port) == ("bastion", "ops", 2222)
    assert (hosts["web2"].jump, hosts["web2"].user) == ("bastion", "me")  # the inventory's wins
    assert (hosts["web3"].jump, hosts["web3"].user) == (None, "default")


def test_ansible_templates_and_interpreter_discovery(tmp_path: Path) -> None:
    p = write(tmp_path, "hosts.yml", """\
all:
  vars:
    ansible_python_interpreter: auto_silent
    ansible_user: "{{ lookup('env', 'USER') }}"
  hosts:
    web1:
      ansible_host: "{{ inventory_hostname }}.example.com"
    db1.corp.example.com:
      ansible_host: "{{inventory_hostname_short}}.internal"
      ansible_python_interpreter: /usr/bin/python3.11
""")
    inv = load_inventory(p, ssh_config=None)
    web, db = inv.hosts["web1"], inv.hosts["db1.corp.example.com"]
    assert (web.target, web.user, web.python) == ("web1.example.com", "", "python3")
    assert (db.target, db.python) == ("db1.internal", "/usr/bin/python3.11")
    assert inv.notes == (f"{p}:6: web1: ansible_user={{{{ lookup('env', 'USER') }}}} is a "
                         "template CCM does not evaluate; left unset",)  # once, not per host


# -- dynamic inventories, exported -----------------------------------------------------------
def test_ansible_inventory_list_output_is_an_inventory(tmp_path: Path) -> None:
    """`ansible-inventory -i aws_ec2.yml --list > fleet.json`: the way in for plugins."""
    listed = """{
    "_meta": {"hostvars": {
        "web1": {"ansible_host": "10.0.0.1", "ansible_user": "ops", "env": "prod"},
        "db1": {"ansible_port": 2222},
        "local": {"ansible_connection": "local"}}},
    "all": {"children": ["ungrouped", "prod"]},
    "prod": {"children": ["web"]},
    "web": {"hosts": ["web1"], "vars": {"tier": "front"}},
    "ungrouped": {"hosts": ["db1", "local"]}
}"""
    for name in ("fleet.json", "fleet"):  # with or without the suffix
        inv = load_inventory(write(tmp_path, name, listed), ssh_config=None)
        web, db = inv.hosts["web1"], inv.hosts["db1"]
        assert list(inv.hosts) == ["web1", "db1"]
        assert (web.target, web.user, web.groups) == ("10.0.0.1", "ops", ("web", "prod"))
        assert web.labels == {"env": "prod", "tier": "front"} and db.port == 2222
    script = load(write(tmp_path, "old.json", '{"web": ["a", "b"], "_meta": {"hostvars": {}}}'))
    assert [(h.name, h.groups) for h in script.values()] == [("a", ("web",)), ("b", ("web",))]


def test_an_inventory_plugin_config_says_how_to_export_it(tmp_path: Path) -> None:
    p = write(tmp_path, "aws_ec2.yml", "plugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n")
    with pytest.raises(InventoryError) as err:
        load(p)
    assert str(err.value) == (f"{p}:1: this configures the Ansible inventory plugin "
                              "'amazon.aws.aws_ec2', which CCM cannot run")
    assert f"ansible-inventory -i {p} --list > fleet.json" in err.value.hint
    bad = write(tmp_path, "bad.json", '{"_meta": {}, "web": 5}')
    with pytest.raises(InventoryError, match=r"bad.json:1: group 'web' must be a mapping"):
        load(bad)


def test_variables_named_like_secrets_never_become_labels(tmp_path: Path) -> None:
    hosts = load(write(tmp_path, "hosts", """\
[db]
db1 mysql_root_password=hunter2 env=prod
[db:vars]
api_key=abc123
github_token=ghp_x
aws_secret_access_key=s3cr3t
tls_private_key=/etc/ssl/k.pem
passenger_workers=4
private_ip=10.0.0.1
"""))
    assert hosts["db1"].labels == {"env": "prod", "passenger_workers": "4",
                                   "private_ip": "10.0.0.1"}


def test_proxyjump_in_its_uri_form_names_the_user_and_port(tmp_path: Path) -> None:
    cfg = load(write(tmp_path, "config", "Host app\n  ProxyJump ssh://ops@bastion:2222\n"))
    ini = load(write(tmp_path, "hosts", "app ansible_ssh_common_args='-J ssh://ops@bastion:2222'\n"))
    ccm = load(write(tmp_path, "inv.yaml", "hosts:\n  app: {jump: 'ssh://ops@bastion:2222'}\n"))
    assert cfg["app"].jump == ini["app"].jump == ccm["app"].jump == "ops@bastion:2222"


def test_a_file_that_is_not_utf8_is_named_with_its_line(tmp_path: Path) -> None:
    p = write(tmp_path, "hosts", b"[web]\nweb1 owner=Ren\xe9\n")
    with pytest.raises(InventoryError) as err:
        load(p)
    assert str(err.value) == f"{p}:2: not UTF-8 text (byte 0xe9)"
    assert "save the file as UTF-8" in err.value.hint


def test_git_hosting_services_in_an_ssh_config_are_not_fleet_hosts(tmp_path: Path) -> None:
    p = write(tmp_path, "config", """\
Host github.com
  IdentityFile ~/.ssh/gh
Host gh-work
  HostName ssh.github.com
Host gitlab.com
Host web-01
  HostName 10.0.0.1
Host github.com
  User git
""")
    inv = load_inventory(p, ssh_config=None)
    assert list(inv.hosts) == ["web-01"]
    assert inv.notes == tuple(f"{p}:{n}: {name} left out: a git hosting service, not a server"
                              for n, name in ((1, "github.com"), (3, "gh-work"),
                                              (5, "gitlab.com")))
    with pytest.raises(InventoryError, match=r"host 'gitlab\.com' is not in the fleet"):
        inv.select("gitlab.com")


def test_ini_booleans_read_as_ansible_reads_them(tmp_path: Path) -> None:
    ini = load(write(tmp_path, "hosts", "[web]\nweb1 canary=True flag=true q=\"'x'\"\n"
                     "[web:vars]\nenabled=False\n"))
    yml = load(write(tmp_path, "hosts.yml", "web:\n  hosts:\n    web1: {canary: yes}\n"))
    assert ini["web1"].labels == {"canary": "true", "flag": "true", "q": "x", "enabled": "false"}
    assert yml["web1"].labels["canary"] == ini["web1"].labels["canary"]  # label:canary=true
