"""Where the login key comes from: a real ssh-agent, ~/.ssh defaults, the inventory.

Issue 5, part 2: "Keys from ssh-agent, ``IdentityFile`` or the inventory". Each test
logs in to a real OpenSSH ``sshd`` (and the agent one also to an asyncssh server)
with the key held in one place only, so a login proves that place was used.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ccm_tui.cli import app
from ccm_tui.fleet.inventory import FleetHost
from ccm_tui.fleet.known_hosts import TrustStore
from ccm_tui.fleet.ssh import PoolOptions, SSHPool
from tests.support.ssh import (
    LOOPBACK,
    AsyncsshFleet,
    KeyFiles,
    Sshd,
    write_ccm_inventory,
    write_known_hosts,
)


class Agent:
    """A real ``ssh-agent`` on its own socket, killed at the end."""

    def __init__(self) -> None:
        exe = shutil.which("ssh-agent")
        if exe is None:
            pytest.skip("ssh-agent is not installed (package openssh-client)")
        # a short folder: a UNIX socket path must fit in 108 bytes
        self.folder = Path(tempfile.mkdtemp(prefix="ccm-agent-", dir="/tmp"))
        self.socket = self.folder / "agent.sock"
        self.proc = subprocess.Popen([exe, "-D", "-a", str(self.socket)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("ssh-agent did not create its socket")
            time.sleep(0.02)

    def add(self, key: KeyFiles) -> None:
        subprocess.run(["ssh-add", "-q", str(key.private)], check=True, capture_output=True,
                       env={**os.environ, "SSH_AUTH_SOCK": str(self.socket)})

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def agent() -> Iterator[Agent]:
    a = Agent()
    yield a
    a.stop()


def trust(tmp_path: Path, entries: list[tuple[int, str]]) -> TrustStore:
    return TrustStore([write_known_hosts(tmp_path / "known_hosts", entries)],
                      write_to=tmp_path / "ccm_known_hosts")


async def test_the_key_held_only_by_ssh_agent_logs_in(
        agent: Agent, client_key: KeyFiles, sshd: Sshd, fleet: AsyncsshFleet,
        isolated_home: Path, tmp_path: Path) -> None:
    agent.add(client_key)
    assert not any((isolated_home / ".ssh").glob("id_*"))  # no key on disk to fall back on
    real = FleetHost("real", LOOPBACK, sshd.port, sshd.user)
    simulated = FleetHost("sim", LOOPBACK, fleet.ports[12])
    store = trust(tmp_path, [(sshd.port, sshd.host_public_line), *fleet.known_hosts_entries()])
    async with SSHPool([real, simulated], options=PoolOptions(agent_path=str(agent.socket)),
                       trust=store) as pool:
        results = [await pool.run(h, "echo via-agent", timeout=20) for h in (real, simulated)]
    assert [(r.ok, r.stdout.strip()) for r in results] == [(True, "via-agent")] * 2


async def test_without_the_agent_the_same_login_is_refused_with_the_remedy(
        client_key: KeyFiles, sshd: Sshd, tmp_path: Path) -> None:
    real = FleetHost("real", LOOPBACK, sshd.port, sshd.user)
    async with SSHPool([real], options=PoolOptions(agent_path=None),
                       trust=trust(tmp_path, [(sshd.port, sshd.host_public_line)])) as pool:
        r = await pool.run(real, "true", timeout=20)
    assert r.error_kind == "auth"
    assert (r.error or "").startswith(
        f"real: no key to log in as {sshd.user!r} with: no key in ~/.ssh, "
        "no ssh-agent (SSH_AUTH_SOCK is not set) — load the key into ssh-agent (ssh-add)")


async def test_a_dead_agent_socket_does_not_stop_the_inventory_key(
        client_key: KeyFiles, sshd: Sshd, tmp_path: Path) -> None:
    real = FleetHost("real", LOOPBACK, sshd.port, sshd.user,
                     identity_files=(str(client_key.private),))
    gone = str(tmp_path / "no-agent.sock")  # SSH_AUTH_SOCK left over from a closed session
    async with SSHPool([real], options=PoolOptions(agent_path=gone),
                       trust=trust(tmp_path, [(sshd.port, sshd.host_public_line)])) as pool:
        r = await pool.run(real, "echo file-key", timeout=20)
    assert r.ok and r.stdout.strip() == "file-key"


async def test_the_default_key_in_home_ssh_is_used_like_openssh_does(
        client_key: KeyFiles, sshd: Sshd, isolated_home: Path, tmp_path: Path) -> None:
    shutil.copy(client_key.private, isolated_home / ".ssh" / "id_ed25519")
    real = FleetHost("real", LOOPBACK, sshd.port, sshd.user)
    async with SSHPool([real], options=PoolOptions(agent_path=None),
                       trust=trust(tmp_path, [(sshd.port, sshd.host_public_line)])) as pool:
        r = await pool.run(real, "echo default-key", timeout=20)
    assert r.ok and r.stdout.strip() == "default-key"


def test_ccm_run_uses_the_agent_named_by_ssh_auth_sock(
        agent: Agent, client_key: KeyFiles, sshd: Sshd, isolated_home: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    agent.add(client_key)
    write_known_hosts(isolated_home / ".ssh" / "known_hosts",
                      [(sshd.port, sshd.host_public_line)])
    inventory = write_ccm_inventory(tmp_path / "inventory.yaml", [("real", sshd.port)],
                                    user=sshd.user)  # no identity_file anywhere
    hub = f"sqlite:///{tmp_path / 'hub.db'}"
    args = ["run", "echo agent-ok", "--hosts", "all", "--inventory", str(inventory),
            "--hub", hub, "--json"]

    refused = CliRunner().invoke(app, args)
    told = CliRunner().invoke(app, args[:-1])  # the human summary
    monkeypatch.setenv("SSH_AUTH_SOCK", str(agent.socket))
    allowed = CliRunner().invoke(app, args)

    assert refused.exit_code == 1 and '"error_kind": "auth"' in refused.stdout
    assert '"summary": "1 login refused"' in refused.stdout
    lines = told.stdout.splitlines()
    assert told.exit_code == 1 and "1 login refused" in lines[-2] and lines[-1] == (
        "  login refused: real")
    assert "real  no key to log in as" in told.stdout
    assert allowed.exit_code == 0, allowed.output
    assert '"summary": "1 identical"' in allowed.stdout and "agent-ok" in allowed.stdout


async def test_default_keys_are_loaded_once_skip_encrypted_ones_and_follow_changes(
        client_key: KeyFiles, sshd: Sshd, isolated_home: Path, tmp_path: Path) -> None:
    import asyncssh

    from tests.support.ssh import make_keypair

    ssh_dir = isolated_home / ".ssh"
    locked = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
    locked.write_private_key(str(ssh_dir / "id_ecdsa"), "pkcs8-pem", passphrase="not given")
    stranger = make_keypair(tmp_path / "stranger")
    shutil.copy(stranger.private, ssh_dir / "id_ed25519")
    real = FleetHost("real", LOOPBACK, sshd.port, sshd.user)
    async with SSHPool([real], options=PoolOptions(agent_path=None),
                       trust=trust(tmp_path, [(sshd.port, sshd.host_public_line)])) as pool:
        before = await pool.run(real, "echo no", timeout=20)  # a stranger's key, one locked
        shutil.copy(client_key.private, ssh_dir / "id_ed25519")  # replaced by the right one
        after = await pool.run(real, "echo yes", timeout=20)  # only if the pool re-read it
    assert before.error_kind == "auth"
    assert f"offered: {ssh_dir / 'id_ed25519'}, {ssh_dir / 'id_ecdsa'}, no ssh-agent" in (
        before.error or "")
    assert after.ok and after.stdout.strip() == "yes"
