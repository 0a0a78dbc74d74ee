"""`ccm run`, `ccm fleet list|trust|install` end to end: real servers, a real SQLite hub."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ccm_tui.cli import app
from ccm_tui.core.records import AuditEntry
from ccm_tui.hub import open_hub
from tests.support.ssh import (
    AsyncsshFleet,
    KeyFiles,
    Sshd,
    free_port,
    write_ansible_ini,
    write_ccm_inventory,
    write_known_hosts,
)

ROOT = Path(__file__).resolve().parents[3]


def ccm(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def audit(url: str) -> list[AuditEntry]:
    async def go() -> list[AuditEntry]:
        hub = open_hub(url)
        async with hub:
            return await hub.list_audit()
    return asyncio.run(go())


@pytest.fixture
def hub(url: str) -> str:
    return url  # a hub that exists: `ccm fleet sync` and `trust` do not make one


@pytest.fixture
def inventory(tmp_path: Path, fleet: AsyncsshFleet, client_key: KeyFiles,
              isolated_home: Path) -> Path:
    """20 fleet hosts (host-00…host-19) + one that is down, keys trusted in ~/.ssh."""
    hosts = [*fleet.hosts()[:20], ("host-dead", free_port())]
    groups = {n: ["web" if i % 2 else "db"] for i, (n, _) in enumerate(hosts)}
    write_known_hosts(isolated_home / ".ssh" / "known_hosts", fleet.known_hosts_entries())
    return write_ccm_inventory(tmp_path / "inventory.yaml", hosts, identity=client_key.private,
                               groups=groups, labels={"host-00": {"env": "prod"}})


DIVERGE = ('if [ "$CCM_TEST_HOST_INDEX" -lt 2 ]; then echo "different $CCM_TEST_HOST_INDEX"; '
           'exit 3; fi; echo same')


def test_run_groups_identical_outputs_and_records_the_broadcast(inventory: Path,
                                                               hub: str) -> None:
    res = ccm("run", DIVERGE, "--hosts", "all", "--inventory", str(inventory), "--hub", hub,
              "--json", "--timeout", "10")
    assert res.exit_code == 1, res.stderr
    doc = json.loads(res.stdout)
    assert doc["summary"] == "18 identical · 2 differ · 1 unreachable"
    assert doc["counts"]["total"] == 21 and doc["recorded"] is True
    top = doc["groups"][0]
    assert top["stdout"] == "same\n" and top["exit_status"] == 0 and len(top["hosts"]) == 18
    codes = {h["host"]: h["exit_status"] for h in doc["hosts"]}
    assert codes["host-00"] == codes["host-01"] == 3 and codes["host-05"] == 0
    assert codes["host-dead"] is None
    dead = next(h for h in doc["hosts"] if h["host"] == "host-dead")
    assert dead["error_kind"] == "unreachable" and "connection refused" in dead["error"]

    entry = next(e for e in audit(hub) if e.action == "run")
    assert entry.target == "all" and entry.detail["command"] == DIVERGE
    assert entry.detail["summary"] == doc["summary"]
    assert sorted(entry.detail["failed"]) == ["host-00", "host-01", "host-dead"]
    assert len(entry.detail["hosts"]) == 21

    again = ccm("run", "--retry-failed", "--inventory", str(inventory), "--hub", hub, "--json",
                "--timeout", "5")
    redo = json.loads(again.stdout)
    assert sorted(h["host"] for h in redo["hosts"]) == ["host-00", "host-01", "host-dead"]
    assert redo["summary"] == "2 differ · 1 unreachable" and again.exit_code == 1

    # narrowed to hosts none of which failed: said so, not "every host succeeded"
    none = ccm("run", "--retry-failed", "--hosts", "host-1*", "--inventory", str(inventory),
               "--hub", hub)
    assert none.exit_code == 0 and none.stdout.strip() == (
        "nothing to retry: none of the 3 hosts that failed last time (host-00, host-01, "
        "host-dead) matches 'host-1*'")
    narrowed = ccm("run", "--retry-failed", "--hosts", "host-0*", "--inventory",
                   str(inventory), "--hub", hub, "--json", "--timeout", "5")
    assert json.loads(narrowed.stdout)["pattern"] == "retry-failed:all ∩ host-0*"


def test_run_as_a_process_with_its_start_up_trimmed(inventory: Path, hub: str,
                                                    isolated_home: Path) -> None:
    """The real entry point (collector paused, X.509 left out) against real servers."""
    env = {k: v for k, v in os.environ.items() if k != "CCM_SSH_X509"}
    proc = subprocess.run(
        [sys.executable, "-m", "ccm_tui", "run", "echo hi", "--hosts", "host-0*",
         "--inventory", str(inventory), "--hub", hub, "--json", "--timeout", "20"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["summary"] == "10 identical" and doc["recorded"] is True


def test_a_hub_that_cannot_be_opened_costs_the_record_not_the_run(
        inventory: Path, tmp_path: Path) -> None:
    """The hub opens while the hosts run (after the first is done): its failure arrives
    late and is reported, but the broadcast itself stands."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the hub's folder should be")
    res = ccm("run", "echo hi", "--hosts", "host-0*", "--inventory", str(inventory),
              "--hub", f"sqlite:///{blocked / 'hub.db'}", "--json", "--timeout", "20")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["summary"] == "10 identical" and doc["recorded"] is False
    told = ccm("run", "echo hi", "--hosts", "host-01", "--inventory", str(inventory),
               "--hub", f"sqlite:///{blocked / 'hub.db'}", "--timeout", "20")
    assert told.exit_code == 0 and "warning: this run was not recorded in the hub" in told.stderr


def test_run_human_summary_and_pattern(inventory: Path, hub: str) -> None:
    res = ccm("run", "echo hello", "--hosts", "group:web,!host-0[1-5]", "--inventory",
              str(inventory), "--hub", hub, "--forks", "3")
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("7 hosts · exit 0 · identical ─")
    assert lines[1:3] == ["host-[07,09,11,13,15,17,19]", "  hello"]  # folded, as pdsh does
    assert lines[-2].startswith("7 identical  (")
    assert lines[-1] == "  exit 0: host-[07,09,11,13,15,17,19]"
    again = ccm("run", "echo hello", "--hosts", "host-[07,09,11,13,15,17,19]", "--inventory",
                str(inventory), "--hub", hub, "--json")  # the folded list, pasted back
    assert again.exit_code == 0, again.stderr
    assert [h["host"] for h in json.loads(again.stdout)["hosts"]] == [
        "host-07", "host-09", "host-11", "host-13", "host-15", "host-17", "host-19"]


def test_run_human_summary_names_a_failed_host_once(inventory: Path, hub: str) -> None:
    res = ccm("run", "echo hello", "--hosts", "host-00,host-dead", "--inventory",
              str(inventory), "--hub", hub, "--timeout", "10")
    assert res.exit_code == 1, res.stderr
    lines = res.stdout.splitlines()
    assert any(line.startswith("1 not run to completion ─") for line in lines)
    [dead] = [line for line in lines if line.startswith("host-dead")]
    assert dead.startswith("host-dead  (127.0.0.1:") and dead.count("host-dead") == 1
    assert dead.endswith("unreachable: connection refused")
    assert lines[-1] == "  unreachable: host-dead"


def test_run_needs_hosts_and_a_known_pattern(inventory: Path, hub: str) -> None:
    res = ccm("run", "uptime", "--inventory", str(inventory), "--hub", hub)
    assert res.exit_code == 1 and "--hosts all" in res.stderr
    res = ccm("run", "uptime", "--hosts", "web-99", "--inventory", str(inventory), "--hub", hub)
    assert res.exit_code == 1 and "no host named 'web-99'" in res.stderr
    assert len(res.stderr.splitlines()) == 1
    res = ccm("run", "--retry-failed", "--inventory", str(inventory), "--hub", hub)
    assert res.exit_code == 1 and "no earlier `ccm run`" in res.stderr


def test_fleet_list_text_json_and_ansible(tmp_path: Path, inventory: Path, fleet: AsyncsshFleet,
                                          client_key: KeyFiles) -> None:
    res = ccm("fleet", "list", "--inventory", str(inventory), "--hosts", "label:env=prod")
    assert res.exit_code == 0 and "host-00" in res.stdout and "env=prod" in res.stdout
    assert "1 of 21 hosts" in res.stdout
    ini = write_ansible_ini(tmp_path / "hosts.ini", fleet.hosts()[:3], identity=client_key.private)
    res = ccm("fleet", "list", "--inventory", str(ini), "--json")
    rows = json.loads(res.stdout)
    assert [r["name"] for r in rows] == ["host-00", "host-01", "host-02"]
    assert rows[0]["groups"] == ["fleet"] and rows[0]["identity_files"] == [str(client_key.private)]
    assert "SSH ALGORITHMS" not in ccm("fleet", "list", "--inventory", str(ini)).stdout


def test_fleet_list_shows_the_algorithms_of_hosts_that_set_their_own(tmp_path: Path) -> None:
    inv = tmp_path / "inv.yaml"
    inv.write_text("hosts:\n  legacy-db: {kex_algs: '+diffie-hellman-group1-sha1', "
                   "ciphers: aes256-ctr}\n  web-01: {}\n")
    res = ccm("fleet", "list", "--inventory", str(inv))
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert "SSH ALGORITHMS" in lines[0]
    legacy = next(line for line in lines if line.startswith("legacy-db"))
    assert legacy.endswith("kex +diffie-hellman-group1-sha1 ciphers aes256-ctr")
    assert next(line for line in lines if line.startswith("web-01")).rstrip().endswith("-")
    rows = json.loads(ccm("fleet", "list", "--inventory", str(inv), "--json").stdout)
    assert rows[0]["kex_algs"] == "+diffie-hellman-group1-sha1" and rows[1]["ciphers"] == ""


def test_inventory_error_is_one_line_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "inv.yaml"
    bad.write_text("hosts:\n  web-01:\n    port: http\n")
    res = ccm("fleet", "list", "--inventory", str(bad))
    assert res.exit_code == 1
    assert res.stderr.startswith(f"ccm: error: {bad}:3: port 'http' is not a number")
    assert len(res.stderr.splitlines()) == 1


def test_trust_then_run(tmp_path: Path, fleet: AsyncsshFleet, client_key: KeyFiles,
                        hub: str, isolated_home: Path) -> None:
    inv = write_ccm_inventory(tmp_path / "inv.yaml", fleet.hosts()[20:21],
                              identity=client_key.private)
    args = ("--inventory", str(inv), "--hub", hub)
    refused = ccm("run", "echo hi", "--hosts", "host-20", *args, "--json")
    doc = json.loads(refused.stdout)
    assert refused.exit_code == 1 and doc["counts"]["hostkey_refused"] == 1
    assert doc["summary"] == "1 host key refused"
    assert "ccm fleet trust host-20" in doc["hosts"][0]["error"]

    unconfirmed = ccm("fleet", "trust", "host-20", *args)
    assert unconfirmed.exit_code == 1 and "--yes" in unconfirmed.stderr

    trusted = ccm("fleet", "trust", "host-20", "--yes", *args, "--json")
    assert trusted.exit_code == 0, trusted.stderr
    rec = json.loads(trusted.stdout)
    kh = isolated_home / ".config" / "ccm" / "known_hosts"
    assert rec["recorded"] and rec["file"] == str(kh) and rec["fingerprint"].startswith("SHA256:")
    assert kh.read_text().startswith(f"[127.0.0.1]:{fleet.ports[20]} ssh-ed25519 ")
    entry = next(e for e in audit(hub) if e.action == "fleet.trust")
    assert entry.target == "host-20" and entry.detail["fingerprint"] == rec["fingerprint"]
    assert entry.detail["status"] == "unknown"

    ok = ccm("run", "echo hi", "--hosts", "host-20", *args)
    assert ok.exit_code == 0 and "1 identical" in ok.stdout
    closed = free_port()  # an address outside the inventory: no inventory advice
    nobody = ccm("fleet", "trust", f"127.0.0.1:{closed}", "--yes", *args)
    assert nobody.exit_code == 1 and "connection refused" in nobody.stderr
    assert nobody.stderr.strip().endswith(
        f"check that 127.0.0.1 listens for SSH on port {closed} (ADDRESS:PORT for another "
        "port)")
    already = ccm("fleet", "trust", "host-20", *args)
    assert already.exit_code == 0 and "already trusted" in already.stdout


def test_trusting_a_re_keyed_host_names_only_files_that_still_list_the_old_key(
        tmp_path: Path, fleet: AsyncsshFleet, client_key: KeyFiles, hub: str,
        isolated_home: Path) -> None:
    import asyncssh

    inv = write_ccm_inventory(tmp_path / "inv.yaml", fleet.hosts()[19:20],
                              identity=client_key.private)
    args = ("--inventory", str(inv), "--hub", hub)
    old = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    ccm_file = isolated_home / ".config" / "ccm" / "known_hosts"
    write_known_hosts(ccm_file, [(fleet.ports[19], old)])  # re-keyed since CCM trusted it
    first = ccm("fleet", "trust", "host-19", "--yes", *args)
    assert first.exit_code == 0 and "differs from the key recorded before" in first.stderr
    assert "note:" not in first.stderr  # CCM's own file was rewritten; ~/.ssh has none
    assert old.split()[1] not in ccm_file.read_text()

    user_file = isolated_home / ".ssh" / "known_hosts"
    write_known_hosts(user_file, [(fleet.ports[19], old)])
    write_known_hosts(ccm_file, [(fleet.ports[19], old)])
    again = ccm("fleet", "trust", "host-19", "--yes", *args)
    assert again.exit_code == 0
    assert f"note: {user_file} still lists the old key" in again.stderr
    assert f"ssh-keygen -R '[127.0.0.1]:{fleet.ports[19]}' -f {user_file}" in again.stderr


def test_fleet_install_on_asyncssh_hosts_defaults_to_the_home_folder(
        tmp_path: Path, fleet: AsyncsshFleet, client_key: KeyFiles, inventory: Path) -> None:
    res = ccm("fleet", "install", "--hosts", "host-1[0-1]", "--inventory", str(inventory),
              "--json")
    assert res.exit_code == 0, res.stdout + res.stderr
    doc = json.loads(res.stdout)
    # Both test servers share one home folder: whichever pushes second may find the
    # same agent already there.
    statuses = sorted(h["status"] for h in doc["hosts"])
    assert statuses in (["installed", "installed"], ["installed", "unchanged"])
    assert fleet.home is not None
    pyz = fleet.home / ".local" / "share" / "ccm-agent" / "agent.pyz"
    assert pyz.stat().st_size == doc["agent"]["bytes"]
    assert not list(pyz.parent.glob("*.tmp-*"))


def test_fleet_install_names_a_refusal_as_ccm_run_does(
        tmp_path: Path, fleet: AsyncsshFleet, client_key: KeyFiles, hub: str) -> None:
    inv = write_ccm_inventory(tmp_path / "inv.yaml", [*fleet.hosts()[18:19],
                                                      ("gone-01", free_port())],
                              identity=client_key.private)  # host-18's key: not trusted
    res = ccm("fleet", "install", "--inventory", str(inv), "--json")
    assert res.exit_code == 1
    got = {h["host"]: (h["status"], h["error_kind"]) for h in json.loads(res.stdout)["hosts"]}
    assert got == {"host-18": ("host key refused", "hostkey"),
                   "gone-01": ("unreachable", "unreachable")}
    text = ccm("fleet", "install", "--inventory", str(inv))
    assert "host key refused" in text.stdout and "ccm fleet trust host-18" in text.stdout


def test_fleet_install_against_real_sshd(tmp_path: Path, sshd: Sshd, client_key: KeyFiles,
                                         hub: str) -> None:
    inv = write_ccm_inventory(tmp_path / "inv.yaml", [("real-01", sshd.port)],
                              identity=client_key.private, user=sshd.user)
    args = ("--inventory", str(inv), "--hub", hub)
    assert ccm("fleet", "trust", "real-01", "--yes", *args).exit_code == 0
    dest = tmp_path / "remote" / "ccm-agent"
    first = ccm("fleet", "install", "--hosts", "all", "--dest", str(dest), *args, "--json")
    assert first.exit_code == 0, first.stdout + first.stderr
    host = json.loads(first.stdout)["hosts"][0]
    assert host["status"] == "installed" and host["agent_version"].startswith("ccm-agent ")
    major, minor = (int(x) for x in host["python"].split(".")[:2])
    assert (major, minor) >= (3, 9) and host["tmux"] not in ("", "missing")
    assert (dest / "agent.pyz").is_file()

    second = ccm("fleet", "install", "--hosts", "all", "--dest", str(dest), *args)
    assert second.exit_code == 0 and "unchanged" in second.stdout


def test_fleet_sync_writes_hosts_to_the_hub(inventory: Path, hub: str) -> None:
    res = ccm("fleet", "sync", "--inventory", str(inventory), "--hub", hub, "--json")
    assert res.exit_code == 0 and json.loads(res.stdout) == {"hosts": 21, "changed": 21}
    again = ccm("fleet", "sync", "--inventory", str(inventory), "--hub", hub)
    assert again.stdout == "21 hosts in the hub match the inventory (0 added or changed now)\n"

    async def hosts() -> list[Any]:
        async with open_hub(hub) as h:
            return await h.list_hosts()

    stored = {h.name: h for h in asyncio.run(hosts())}
    assert len(stored) == 21 and stored["host-01"].groups == ("web",)
    assert stored["host-00"].labels == {"env": "prod"} and stored["host-00"].address == "127.0.0.1"



def test_run_summary_folds_hosts_that_failed_alike(tmp_path: Path, fleet: AsyncsshFleet,
                                                    client_key: KeyFiles, isolated_home: Path,
                                                    hub: str) -> None:
    """Four hosts refusing connections read as one line, their names folded; a fifth
    with its own trouble keeps its own line, address and all."""
    dead = [(f"dead-{i}", free_port()) for i in range(1, 5)]
    stranger = ("stranger", fleet.hosts()[0][1])  # its key is not in known_hosts
    inv = write_ccm_inventory(tmp_path / "inventory.yaml", [*dead, stranger],
                              identity=client_key.private)
    res = ccm("run", "true", "--hosts", "all", "--inventory", str(inv), "--hub", hub,
              "--timeout", "20")
    assert res.exit_code == 1, res.output
    lines = [line.rstrip() for line in res.stdout.splitlines()]
    assert "dead-[1-4]  unreachable: connection refused (4 hosts)" in lines
    refused = [line for line in lines if line.startswith("stranger  ")]
    assert len(refused) == 1 and f":{stranger[1]})" in refused[0]
    assert not any(line.startswith("dead-1 ") for line in lines)
    doc = json.loads(ccm("run", "true", "--hosts", "dead-[1-4]", "--inventory", str(inv),
                         "--hub", hub, "--json", "--timeout", "20").stdout)
    assert [h["host"] for h in doc["hosts"]] == ["dead-1", "dead-2", "dead-3", "dead-4"]
    assert all(f"(127.0.0.1:{port})" in h["error"]  # --json keeps each in full
               for h, (_, port) in zip(doc["hosts"], dead, strict=True))
