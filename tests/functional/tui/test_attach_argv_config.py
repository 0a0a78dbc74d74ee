"""``t``'s ssh config, read back by ``ssh -G`` (no server needed): IPv6, chains,
algorithms and odd paths; hostile values refused; old files cleared; and the TUI
saying why it cannot attach. test_attach_argv.py runs the command for real.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from ccm_tui.app.fleet_access import FleetAccess
from ccm_tui.app.jump import (
    _ATTACH,
    CONFIG_KEEP_SECONDS,
    AttachError,
    attach_argv,
    attach_command,
)
from ccm_tui.core.errors import CCMError
from ccm_tui.core.model import Host
from ccm_tui.fleet.inventory import FleetHost


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
    assert "hostkeyalias" not in target  # ssh looks up [2001:db8::5]:2222, as CCM does
    assert target["stricthostkeychecking"] == "true"
    assert target["globalknownhostsfile"] == "/dev/null"
    assert target["userknownhostsfile"] == str(tmp_path / "kh")
    assert target["identityfile"] == str(key).replace("%", "%%")  # read back as the path
    second = ssh_g(argv, target["proxyjump"])
    assert (second["hostname"], second["port"], second["user"]) == ("2001:db8::7", "2200", "ops")
    first = ssh_g(argv, second["proxyjump"])
    assert (first["hostname"], first["port"], first["user"]) == ("2001:db8::9", "22", "jb")
    assert "proxycommand" not in first and "proxyjump" not in first  # connected directly
    none = ssh_g(attach_argv(web, "t-5", hops=hops, known_hosts=[],
                             config_dir=tmp_path / "c"), "web-01")
    assert none["userknownhostsfile"] == "/dev/null"  # trusting no file: no key
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


def test_a_folder_it_cannot_write_is_passed_over(tmp_path: Path, isolated_env: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """``XDG_RUNTIME_DIR`` left from another user (or a file, here): the cache folder."""
    blocked = tmp_path / "run"
    blocked.write_text("not a folder")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(blocked))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    argv = attach_argv(Host(name="web", address="10.0.0.1"), "t-19")
    assert Path(argv[2]) == tmp_path / "cache" / "ccm" / "attach" / "t-19.ssh_config"
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # as TMPDIR would
    argv = attach_argv(Host(name="web", address="10.0.0.1"), "t-20")  # a folder of its own
    assert Path(argv[2]).name == "t-20.ssh_config" and Path(argv[2]).is_file()
    assert Path(argv[2]).parent.parent == tmp_path / "tmp"
    assert os.stat(Path(argv[2]).parent).st_mode & 0o077 == 0


def test_jump_loops_and_bad_inventories_are_said(tmp_path: Path, isolated_env: Path) -> None:
    hops = {"a": FleetHost("a", jump="b"), "b": FleetHost("b", jump="a")}
    with pytest.raises(AttachError, match="loop"):
        attach_argv(FleetHost("web", jump="a"), "t-9", hops=hops, config_dir=tmp_path / "c")
    broken = tmp_path / "inventory.yaml"
    broken.write_text("hosts: [\n")
    with pytest.raises(CCMError, match=r"inventory\.yaml:2"):
        attach_command(FleetAccess(broken), Host(name="web"), "t-9", config_dir=tmp_path / "c")


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
        async with app.run_test(size=(160, 48), notifications=True) as pilot:
            await loaded(pilot)
            await pilot.press("t")
            await wait_for(pilot, lambda: any(n.title == "cannot attach"
                                              for n in app._notifications))
            [note] = [n for n in app._notifications if n.title == "cannot attach"]
            assert str(broken) in note.message and " — " in note.message  # and the hint

            # an address that is markup to Textual, said as text (and the app lives on)
            broken.write_text('hosts:\n  web-02:\n    address: "[/b]10.0.0.2;x"\n')
            app.clear_notifications()
            await pilot.press("t")
            await wait_for(pilot, lambda: any(n.title == "cannot attach"
                                              for n in app._notifications))
            await pilot.pause(0.2)  # the toast is drawn
            [note] = [n for n in app._notifications if n.title == "cannot attach"]
            assert "'[/b]10.0.0.2;x' is not a host name or address" in note.message
            assert app.is_running and app._exception is None
            assert "[/b]10.0.0.2;x" in str(app.screen.query_one("Toast").render())


