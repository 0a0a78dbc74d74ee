"""``t``'s ssh command against real OpenSSH: it goes where the daemon goes, trusting
only what CCM trusts.

Each test runs the command :func:`attach_command` builds with real ``ssh`` against real
``sshd`` servers on 127.0.0.1 and ::1 (a jump host and the agent's host),
non-interactively, with the command for the host swapped for ``echo SESSION``; so what
the test sees is where an operator's ``t`` would have gone. The last test runs it all
in real tmux: the operator's window, the agent's session on a private tmux server.
``test_attach_argv_config.py`` reads the config back with ``ssh -G``.
"""
from __future__ import annotations

import os
import pwd
import secrets
import shlex
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ccm_tui.app.fleet_access import FleetAccess
from ccm_tui.app.jump import _ATTACH, attach_command, open_window
from ccm_tui.core.model import Host
from tests.support.ssh import (
    KeyFiles,
    Sshd,
    known_hosts_line,
    make_keypair,
    write_ansible_ini,
    write_ccm_inventory,
    write_known_hosts,
)

#: sshd lets in the user running the tests (isolated_env sets USER to someone else).
ME = pwd.getpwuid(os.getuid()).pw_name


@dataclass
class Pair:
    """A jump host and the agent's host behind it, both real sshd, one client key."""

    key: KeyFiles
    bastion: Sshd
    web: Sshd

    def entries(self, *which: Sshd) -> list[tuple[int, str]]:
        return [(s.port, s.host_public_line) for s in which]


@pytest.fixture
def pair(tmp_path: Path, isolated_env: Path,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[Pair]:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)  # only the inventory's key gets in
    key = make_keypair(tmp_path / "client" / "id_ed25519")
    with Sshd(tmp_path / "bastion", [key.public_line]) as bastion, \
            Sshd(tmp_path / "web", [key.public_line]) as web:
        yield Pair(key, bastion, web)


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``argv`` as tmux runs it (one shell command line), with the remote command made
    ``echo SESSION`` and no prompt possible (test_tmux_pane: the real remote command)."""
    assert argv[0] == "ssh" and shlex.split(argv[-1])[:3] == ["sh", "-c", _ATTACH]
    argv = [argv[0], "-o", "BatchMode=yes", *argv[1:-1],
            shlex.join(["echo", shlex.split(argv[-1])[-1]])]
    return subprocess.run(["sh", "-c", shlex.join(argv)], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60, cwd=cwd, check=False)


def inventory(tmp_path: Path, p: Pair) -> Path:
    return write_ccm_inventory(tmp_path / "inventory.yaml",
                               [("bastion", p.bastion.port), ("web-01", p.web.port)],
                               identity=p.key.private, user=ME, jump={"web-01": "bastion"})


def test_reaches_the_host_through_its_jump_host(tmp_path: Path, pair: Pair) -> None:
    # a path ssh must read as one file, not expand: a space and a '%'
    kh = write_known_hosts(tmp_path / "trust 100%" / "known hosts",
                           pair.entries(pair.bastion, pair.web))
    fleet = FleetAccess(inventory(tmp_path, pair), known_hosts=(kh,))
    # the hub knows the host by name only (say a webhook saw it first)
    argv = attach_command(fleet, Host(name="web-01"), "t-1", config_dir=tmp_path / "c")
    assert argv[:2] == ["ssh", "-F"] and argv[3:6] == ["-t", "--", "web-01"]

    done = run(argv, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ccm-t-1"
    assert any("Accepted publickey" in line for line in pair.bastion.log)  # went through it
    assert any("Accepted publickey" in line for line in pair.web.log)


@pytest.mark.parametrize("missing", ["web", "bastion"])
def test_an_unknown_key_is_refused_never_accepted(tmp_path: Path, pair: Pair,
                                                 isolated_env: Path, missing: str) -> None:
    known = pair.bastion if missing == "web" else pair.web
    kh = write_known_hosts(tmp_path / "kh", pair.entries(known))
    before = kh.read_text()
    # ssh's own file trusts both, but CCM was told to trust only kh: ssh must not look
    user_kh = write_known_hosts(isolated_env / ".ssh" / "known_hosts",
                                pair.entries(pair.bastion, pair.web))
    fleet = FleetAccess(inventory(tmp_path, pair), known_hosts=(kh,))
    done = run(attach_command(fleet, Host(name="web-01"), "t-2", config_dir=tmp_path / "c"),
               tmp_path)
    assert done.returncode == 255 and "ccm-t-2" not in done.stdout
    assert "Host key verification failed" in done.stderr
    assert kh.read_text() == before  # nothing learnt on the way
    assert user_kh.exists()


def test_default_trust_is_the_daemons_own_files(tmp_path: Path, pair: Pair,
                                               isolated_env: Path) -> None:
    """No --known-hosts: ~/.ssh/known_hosts and CCM's own file, ``[host]:port`` lines."""
    ccm_kh = isolated_env / ".config" / "ccm" / "known_hosts"
    write_known_hosts(ccm_kh, pair.entries(pair.web))
    write_known_hosts(isolated_env / ".ssh" / "known_hosts", pair.entries(pair.bastion))
    assert known_hosts_line(pair.web.port, pair.web.host_public_line) in ccm_kh.read_text()
    fleet = FleetAccess(inventory(tmp_path, pair))
    done = run(attach_command(fleet, Host(name="web-01"), "t-3"), tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ccm-t-3"


def test_a_host_from_ssh_config(tmp_path: Path, pair: Pair, isolated_env: Path) -> None:
    """The inventory is ~/.ssh/config; its ``Host *`` says to trust anything, which the
    command overrides (CCM's trust), while the chain and keys come from the config."""
    ssh_dir = isolated_env / ".ssh"
    ssh_dir.mkdir(exist_ok=True)
    config = ssh_dir / "config"
    config.write_text(
        f"Host bastion\n  HostName 127.0.0.1\n  Port {pair.bastion.port}\n"
        f"  IdentityFile {pair.key.private}\n  User {ME}\n"
        f"Host web-01\n  HostName 127.0.0.1\n  Port {pair.web.port}\n"
        f"  IdentityFile {pair.key.private}\n  ProxyJump bastion\n  User {ME}\n"
        "Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n")
    kh = write_known_hosts(tmp_path / "kh", pair.entries(pair.bastion))
    fleet = FleetAccess(config, known_hosts=(kh,))
    refused = run(attach_command(fleet, Host(name="web-01"), "t-4"), tmp_path)
    assert refused.returncode == 255 and "Host key verification failed" in refused.stderr

    write_known_hosts(kh, pair.entries(pair.bastion, pair.web))
    done = run(attach_command(fleet, Host(name="web-01"), "t-4"), tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ccm-t-4"
    assert any("Accepted publickey" in line for line in pair.bastion.log)


def test_an_ansible_hosts_key_file(tmp_path: Path, pair: Pair) -> None:
    """``ansible_ssh_private_key_file``: the only key that gets in, and t uses it."""
    inv = write_ansible_ini(tmp_path / "hosts.ini", [("web-01", pair.web.port)],
                            identity=pair.key.private, user=ME)
    kh = write_known_hosts(tmp_path / "kh", pair.entries(pair.web))
    done = run(attach_command(FleetAccess(inv, known_hosts=(kh,)), Host(name="web-01"),
                              "t-17"), tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ccm-t-17"


def test_a_host_certificate_signed_by_a_trusted_ca(tmp_path: Path, pair: Pair) -> None:
    """``@cert-authority`` in CCM's known_hosts: a host on port N with a certificate for
    its address is let in, as the daemon lets it in."""
    ca, home = tmp_path / "ca", tmp_path / "certified"
    home.mkdir()
    for key in (ca, home / "ssh_host_ed25519_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                       check=True)
    subprocess.run(["ssh-keygen", "-q", "-s", str(ca), "-h", "-I", "web", "-n", "127.0.0.1",
                    str(home / "ssh_host_ed25519_key.pub")], check=True)
    cert = f"HostCertificate {home / 'ssh_host_ed25519_key-cert.pub'}"
    with Sshd(home, [pair.key.public_line], extra_config=cert) as web:
        inv = write_ccm_inventory(tmp_path / "inventory.yaml", [("web-01", web.port)],
                                  identity=pair.key.private, user=ME)
        kh = tmp_path / "kh"
        kh.write_text("@cert-authority * " + " ".join(
            (tmp_path / "ca.pub").read_text().split()[:2]) + "\n")
        done = run(attach_command(FleetAccess(inv, known_hosts=(kh,)), Host(name="web-01"),
                                  "t-18"), tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "ccm-t-18"


def test_an_ipv6_host_through_the_jump_host(tmp_path: Path, pair: Pair) -> None:
    """The host at ``::1``: ``[::1]:PORT`` in known_hosts, reached through the jump host."""
    with Sshd(tmp_path / "web6", [pair.key.public_line], extra_config="ListenAddress ::1") as web6:
        inv = tmp_path / "inventory.yaml"
        inv.write_text(yaml.safe_dump({"defaults": {"user": ME, "identity_file":
                                                    str(pair.key.private)}, "hosts": {
            "bastion": {"address": "127.0.0.1", "port": pair.bastion.port},
            "web-6": {"address": "::1", "port": web6.port, "jump": "bastion"}}}))
        kh = tmp_path / "kh"
        kh.write_text(known_hosts_line(pair.bastion.port, pair.bastion.host_public_line) + "\n"
                      + known_hosts_line(web6.port, web6.host_public_line, "::1") + "\n")
        assert f"[::1]:{web6.port} " in kh.read_text()
        fleet = FleetAccess(inv, known_hosts=(kh,))
        done = run(attach_command(fleet, Host(name="web-6"), "t-16"), tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "ccm-t-16"
        assert any("Accepted publickey" in line and "from ::1" in line for line in web6.log)
        assert any("Accepted publickey" in line for line in pair.bastion.log)


def test_no_inventory_here_uses_the_hubs_view(tmp_path: Path, pair: Pair) -> None:
    """The daemon runs elsewhere (a shared hub): the hub's address, port and user, with
    CCM's trust all the same."""
    kh = write_known_hosts(tmp_path / "kh", pair.entries(pair.web))
    fleet = FleetAccess(tmp_path / "no-inventory.yaml", known_hosts=(kh,))
    row = Host(name="web-01", address="127.0.0.1", port=pair.web.port, user=ME)
    argv = attach_command(fleet, row, "t-10", config_dir=tmp_path / "c")
    text = Path(argv[2]).read_text()
    assert text.replace(str(pair.key.private), "") == text  # no key of its own: ssh's
    done = run([argv[0], "-i", str(pair.key.private), *argv[1:]], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ccm-t-10"
    assert not any("Accepted" in line for line in pair.bastion.log)


@pytest.fixture
def tmux_servers(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """Two private tmux servers: the operator's (where the app runs) and the host's, on
    which a daemon with ``--tmux-socket`` runs its agents; their ``-L`` names."""
    monkeypatch.delenv("TMUX_TMPDIR", raising=False)  # where the host's ssh looks too
    names = (f"ccm-op-{secrets.token_hex(4)}", f"ccm-agents-{secrets.token_hex(4)}")
    try:
        yield names
    finally:
        for name in names:
            subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True, check=False)


def tmux(name: str, *args: str) -> str:
    return subprocess.run(["tmux", "-L", name, "-f", "/dev/null", *args], capture_output=True,
                          text=True, timeout=10, check=True).stdout


def pane_shows(name: str, window: str, *needles: str) -> str:
    deadline = time.monotonic() + 30
    while True:
        text = tmux(name, "capture-pane", "-p", "-J", "-t", window)
        if all(n in text for n in needles) or time.monotonic() > deadline:
            return text
        time.sleep(0.2)


def test_t_in_tmux_attaches_to_the_agents_session(
        tmp_path: Path, pair: Pair, tmux_servers: tuple[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole path: open_window in the operator's tmux → ssh through the jump host →
    the agent's session on the host's private tmux server; a missing session and a
    refused key keep their message on screen."""
    op, agents = tmux_servers
    tmux(agents, "new-session", "-d", "-s", "ccm-t-41", "echo AGENT-PANE-41; exec sleep 600")
    tmux(op, "new-session", "-d", "-s", "ops", "-x", "200", "-y", "50", "exec sleep 600")
    socket = tmux(op, "display-message", "-p", "#{socket_path}").strip()
    monkeypatch.setenv("TMUX", f"{socket},1,0")
    monkeypatch.setenv("TMUX_PANE", tmux(op, "display-message", "-p", "#{pane_id}").strip())
    kh = write_known_hosts(tmp_path / "kh", pair.entries(pair.bastion, pair.web))
    fleet = FleetAccess(inventory(tmp_path, pair), known_hosts=(kh,))

    def window(task: str) -> str:
        argv = attach_command(fleet, Host(name="web-01"), task, config_dir=tmp_path / "c")
        return open_window(argv, f"ccm-{task}")

    def names() -> list[str]:
        return tmux(op, "list-windows", "-a", "-F", "#{window_name}").splitlines()

    attached = window("t-41")
    shown = pane_shows(op, attached, "AGENT-PANE-41")
    assert "AGENT-PANE-41" in shown and "[ccm-t-41]" in shown  # its tmux's status line
    assert window("t-41") == attached and names().count("ccm-t-41") == 1  # t again: there

    gone = window("t-42")
    text = pane_shows(op, gone, "Press enter")
    assert "no tmux session ccm-t-42" in text and "status 1" in text
    tmux(agents, "new-session", "-d", "-s", "ccm-t-42", "echo AGENT-PANE-42; exec sleep 600")
    retried = window("t-42")  # t again once it runs: a fresh try, not the old message
    assert retried != gone and names().count("ccm-t-42") == 1
    assert "ccm-t-42 (failed)" in names()  # the old one, until enter
    assert "AGENT-PANE-42" in pane_shows(op, retried, "AGENT-PANE-42")

    write_known_hosts(kh, pair.entries(pair.bastion))
    refused = window("t-43")
    text = pane_shows(op, refused, "Press enter")
    assert "Host key verification failed" in text and "status 255" in text
    assert "ccm fleet trust web-01" in text  # CCM's remedy, not ssh's "add it yourself"
    tmux(op, "send-keys", "-t", refused, "Enter")
    deadline = time.monotonic() + 30
    while refused in tmux(op, "list-windows", "-a", "-F", "#{window_id}").split():
        assert time.monotonic() < deadline, "the window stays after enter"
        time.sleep(0.2)
