"""Fixtures for the fleet tests: a client key, asyncssh servers, a real sshd, and an
isolated HOME (so ~/.ssh and ~/.config/ccm are the test's own)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ssh import AsyncsshFleet, KeyFiles, Sshd, SshdUnavailable, make_keypair


@pytest.fixture(scope="session")
def client_key(tmp_path_factory: pytest.TempPathFactory) -> KeyFiles:
    """The key every test client logs in with."""
    return make_keypair(tmp_path_factory.mktemp("client") / "id_ed25519")


@pytest.fixture(scope="session")
def fleet(client_key: KeyFiles, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[AsyncsshFleet]:
    """21 asyncssh servers on 127.0.0.1 for the whole session (host-00 … host-20)."""
    home = tmp_path_factory.mktemp("fleet-home")
    with AsyncsshFleet(21, authorized_keys=[client_key.public_line], home=home) as f:
        yield f


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME, XDG folders and the ssh-agent point nowhere real; no CCM_* settings leak in."""
    for key in list(os.environ):
        if key.startswith("CCM_"):
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.setenv("COLUMNS", "160")
    return home


@pytest.fixture(scope="session")
def sshd(client_key: KeyFiles, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """A real OpenSSH sshd on 127.0.0.1 for the session."""
    try:
        server = Sshd(tmp_path_factory.mktemp("sshd"), [client_key.public_line]).start()
    except SshdUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()
