"""``t``'s ssh command against real OpenSSH: it goes where the daemon goes, trusting
only what CCM trusts.

Each test runs the command :func:`attach_command` builds with real ``ssh`` against real
``sshd`` servers on 127.0.0.1 (a jump host and the agent's host), non-interactively,
with ``tmux attach -t SESSION`` swapped for ``echo SESSION``; so what the test sees is
what an operator's ``t`` would have reached. Hostile values never reach the command
line or a shell; ``ssh -G`` shows how ssh reads the config for IPv6 and odd paths.
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

from ccm_tui.app.fleet_access import FleetAccess
from ccm_tui.app.jump import (
    _ATTACH,
    CONFIG_KEEP_SECONDS,
    AttachError,
    attach_argv,
    attach_command,
    open_window,
)
from ccm_tui.core.errors import CCMError
from ccm_tui.core.model import Host
from ccm_tui.fleet.inventory import FleetHost
from tests.support.ssh import (
    KeyFiles,
    Sshd,
    known_hosts_line,
    make_keypair,
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
def pair(tmp_path: Path, isolated_env: Path) -> Iterator[Pair]:
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


def ssh_g(argv: list[str], alias: str) -> dict[str, str]:
    """What ``ssh -G`` resolves for ``alias`` with the config ``argv`` uses."""
    out = subprocess.run(["ssh", "-G", "-F", argv[2], alias], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    return {k: v for k, _, v in (line.partition(" ") for line in out.splitlines())}


def test_ipv6_ports_keys_and_a_chain(tmp_path: Path, isolated_env: Path) -> None:
    key = tmp_path / "keys 100%" / "id"
    hops = {"bastion": FleetHost("bastion", address="2001:db8::9", user="jb")}
    web = FleetHost("web-01", address="2001:db8::5", port=2222, user="ops",
                    identity_files=(str(key),), jump="bastion,ops@[2001:db8::7]:2200")
    argv = attach_argv(web, "t-5", hops=hops, known_hosts=[tmp_path / "kh"],
                       config_dir=tmp_path / "c")
    target = ssh_g(argv, argv[-2])
    assert (target["hostname"], target["port"], target["user"]) == ("2001:db8::5", "2222", "ops")
    assert target["hostkeyalias"] == "[2001:db8::5]:2222"  # how CCM's known_hosts names it
    assert target["stricthostkeychecking"] == "true"
    assert target["globalknownhostsfile"] == "/dev/null"
    assert target["userknownhostsfile"] == str(tmp_path / "kh")
    assert target["identityfile"] == str(key).replace("%", "%%")  # read back as the path
    second = ssh_g(argv, target["proxyjump"])
    assert (second["hostname"], second["port"], second["user"]) == ("2001:db8::7", "2200", "ops")
    first = ssh_g(argv, second["proxyjump"])
    assert (first["hostname"], first["port"], first["user"]) == ("2001:db8::9", "22", "jb")
    assert "proxycommand" not in first and "proxyjump" not in first  # connected directly
    # a hub row with a bracketed IPv6 address and no inventory
    row = ssh_g(attach_argv(Host("db-1", address="[2001:db8::3]"), "t-6",
                            config_dir=tmp_path / "c"), "db-1")
    assert row["hostname"] == "2001:db8::3" and row["hostkeyalias"] == "2001:db8::3"


@pytest.mark.parametrize("host", [
    Host(name="-oProxyCommand=touch PWNED"),
    Host(name="web-01", address="10.0.0.1;touch PWNED"),
    Host(name="web-01", address="-oProxyCommand=touch PWNED"),
    Host(name="web-01", address="$(touch PWNED)"),
    Host(name="web-01", address="10.0.0.1", user="-oProxyCommand=touch PWNED"),
    Host(name="web-01", address="10.0.0.1", user="ops root"),
    Host(name="web-01", address="10.0.0.1", port=0),
])
def test_hostile_values_are_refused(tmp_path: Path, isolated_env: Path, host: Host) -> None:
    with pytest.raises(AttachError) as caught:
        attach_argv(host, "t-7", config_dir=tmp_path / "c")
    assert caught.value.hint  # says what to fix
    assert not (tmp_path / "c").exists() or not list((tmp_path / "c").iterdir())


def test_a_hosts_own_algorithms(tmp_path: Path, isolated_env: Path) -> None:
    """An old server the pool offers ``+diffie-hellman-group14-sha1``: ssh offers it too."""
    old = FleetHost("db-old", address="10.0.0.4", kex_algs="+diffie-hellman-group14-sha1",
                    ciphers="^aes128-ctr")
    resolved = ssh_g(attach_argv(old, "t-12", config_dir=tmp_path / "c"), "db-old")
    assert resolved["kexalgorithms"].endswith(",diffie-hellman-group14-sha1")
    assert resolved["ciphers"].startswith("aes128-ctr,")
    plain = ssh_g(attach_argv(FleetHost("web", address="10.0.0.5"), "t-12",
                              config_dir=tmp_path / "c"), "web")
    assert "diffie-hellman-group14-sha1" not in plain["kexalgorithms"].split(",")


def test_relative_paths_are_read_from_where_ccm_runs(
        tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``identity_file: keys/id`` and ``--known-hosts kh``, as the daemon started here
    reads them, though a tmux window starts in another folder."""
    monkeypatch.chdir(tmp_path)
    web = FleetHost("web-01", address="10.0.0.1", identity_files=("keys/id",))
    argv = attach_argv(web, "t-11", known_hosts=[Path("kh")], config_dir=tmp_path / "c")
    monkeypatch.chdir(isolated_env)
    resolved = ssh_g(argv, "web-01")
    assert resolved["identityfile"] == str(tmp_path / "keys" / "id")
    assert resolved["userknownhostsfile"] == str(tmp_path / "kh")


def test_odd_names_never_reach_the_command_line(tmp_path: Path, isolated_env: Path) -> None:
    argv = attach_argv(Host(name="-web 01 `id`", address="10.0.0.1"), "t-8",
                       config_dir=tmp_path / "c")
    assert argv[4:6] == ["--", "ccm-hop-0"]
    assert not any("web 01" in a for a in argv)
    assert Path(argv[2]) == tmp_path / "c" / "t-8.ssh_config"
    assert shlex.split(argv[-1]) == ["sh", "-c", _ATTACH, "ccm-attach", "ccm-t-8"]
    assert os.stat(argv[2]).st_mode & 0o077 == 0
    for task in ("../../t-8", "t-1; touch PWNED", "-t", ""):  # no agent runs under such ids
        with pytest.raises(AttachError, match="names no tmux session"):
            attach_argv(Host(name="web", address="10.0.0.1"), task, config_dir=tmp_path / "d")
    assert not (tmp_path / "d").exists()


def test_old_configs_are_cleared(tmp_path: Path, isolated_env: Path) -> None:
    """Each ``t`` writes its task's file; ones not used for a day go when the next is made."""
    folder = tmp_path / "c"
    web = Host(name="web", address="10.0.0.1")
    old = Path(attach_argv(web, "t-13", config_dir=folder)[2])
    recent = Path(attach_argv(web, "t-14", config_dir=folder)[2])
    stale = time.time() - CONFIG_KEEP_SECONDS - 60
    os.utime(old, (stale, stale))
    attach_argv(web, "t-15", config_dir=folder)
    assert sorted(p.name for p in folder.iterdir()) == ["t-14.ssh_config", "t-15.ssh_config"]
    assert recent.exists()


def test_jump_loops_and_bad_inventories_are_said(tmp_path: Path, isolated_env: Path) -> None:
    hops = {"a": FleetHost("a", jump="b"), "b": FleetHost("b", jump="a")}
    with pytest.raises(AttachError, match="loop"):
        attach_argv(FleetHost("web", jump="a"), "t-9", hops=hops, config_dir=tmp_path / "c")
    broken = tmp_path / "inventory.yaml"
    broken.write_text("hosts: [\n")
    with pytest.raises(CCMError, match=r"inventory\.yaml:2"):
        attach_command(FleetAccess(broken), Host(name="web"), "t-9", config_dir=tmp_path / "c")


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


async def test_t_says_why_it_cannot_attach(sqlite_url: str, tmp_path: Path,
                                           isolated_env: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken inventory: ``t`` runs nothing and says which file and what to fix."""
    from ccm_tui.app import CCMApp
    from ccm_tui.hub import open_hub
    from tests.functional.tui.conftest import loaded, wait_for
    from tests.functional.tui.seed import fixed_clock, seed

    broken = tmp_path / "inventory.yaml"
    broken.write_text("hosts: [\n")
    monkeypatch.delenv("TMUX", raising=False)
    async with open_hub(sqlite_url) as hub:
        await seed(hub)
        app = CCMApp(hub, actor="jordan", clock=fixed_clock, fleet=FleetAccess(broken))
        async with app.run_test(size=(160, 48)) as pilot:
            await loaded(pilot)
            await pilot.press("t")
            await wait_for(pilot, lambda: any(n.title == "cannot attach"
                                              for n in app._notifications))
            [note] = [n for n in app._notifications if n.title == "cannot attach"]
            assert str(broken) in note.message and " — " in note.message  # and the hint


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

    attached = window("t-41")
    shown = pane_shows(op, attached, "AGENT-PANE-41")
    assert "AGENT-PANE-41" in shown and "[ccm-t-41]" in shown  # its tmux's status line

    gone = window("t-42")
    text = pane_shows(op, gone, "Press enter")
    assert "no tmux session ccm-t-42" in text and "status 1" in text

    write_known_hosts(kh, pair.entries(pair.bastion))
    refused = window("t-41")
    text = pane_shows(op, refused, "Press enter")
    assert "Host key verification failed" in text and "status 255" in text
    assert "ccm fleet trust web-01" in text  # CCM's remedy, not ssh's "add it yourself"
    tmux(op, "send-keys", "-t", refused, "Enter")
    deadline = time.monotonic() + 30
    while refused in tmux(op, "list-windows", "-a", "-F", "#{window_id}").split():
        assert time.monotonic() < deadline, "the window stays after enter"
        time.sleep(0.2)
