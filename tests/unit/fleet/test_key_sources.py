"""describe_key_sources: what a refused login had to offer, for its error message."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from ccm_tui.fleet.key_sources import default_keys, describe_key_sources


def test_inventory_keys_and_a_live_agent(tmp_path: Path) -> None:
    sock_path = tmp_path / "agent.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(sock_path))
        text, offered = describe_key_sources(["~/keys/ops"], str(sock_path), home=tmp_path)
    assert offered
    assert text == f"{Path('~/keys/ops').expanduser()}, the ssh-agent at {sock_path}"


def test_nothing_to_offer_says_so_for_each_source(tmp_path: Path) -> None:
    text, offered = describe_key_sources([], None, home=tmp_path)
    assert not offered
    assert text == "no key in ~/.ssh, no ssh-agent (SSH_AUTH_SOCK is not set)"


def test_a_stale_agent_socket_is_named_and_offers_nothing(tmp_path: Path) -> None:
    text, offered = describe_key_sources([], str(tmp_path / "gone.sock"), home=tmp_path)
    assert not offered and text.endswith(f"the ssh-agent socket {tmp_path / 'gone.sock'} is gone")
    (tmp_path / "plain").write_text("")
    text, offered = describe_key_sources([], str(tmp_path / "plain"), home=tmp_path)
    assert not offered and text.endswith("(SSH_AUTH_SOCK) is not a socket")


def test_default_keys_in_the_order_openssh_tries_them(tmp_path: Path) -> None:
    ssh = tmp_path / ".ssh"
    ssh.mkdir()
    for name in ("id_rsa", "id_ed25519", "id_ed25519.pub", "config"):
        (ssh / name).write_text("")
    assert default_keys(tmp_path) == [ssh / "id_ed25519", ssh / "id_rsa"]
    text, offered = describe_key_sources([], None, home=tmp_path)
    assert offered and text.startswith(f"{ssh / 'id_ed25519'}, {ssh / 'id_rsa'}, no ssh-agent")


def test_an_unreadable_identity_file_is_named_with_the_remedy(tmp_path: Path) -> None:
    import pytest

    from ccm_tui.core.errors import SSHError
    from ccm_tui.fleet.key_sources import ClientKeys

    (tmp_path / "garbage").write_text("not a key\n")
    keys = ClientKeys(home=tmp_path)
    for name in ("missing", "garbage"):
        with pytest.raises(SSHError) as err:
            keys.for_host((str(tmp_path / name),))
        assert str(err.value).startswith(f"cannot load identity file {tmp_path / name}: ")
        # in the message itself: a broadcast's per-host line shows only the message
        assert str(err.value).endswith("(nothing was sent to the host) — fix identity_file "
                                       "in the inventory, or add the key to ssh-agent")
    assert keys.for_host(()) == []  # no identity file and no default key: asyncssh looks


def test_login_refused_says_whether_anything_was_offered(tmp_path: Path,
                                                         monkeypatch: Any) -> None:
    from ccm_tui.fleet.key_sources import login_refused

    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh keys
    none = login_refused("web-01", "ops", [], None)
    some = login_refused("web-01", "ops", [str(tmp_path / "id")], None)
    assert str(none).startswith("web-01: no key to log in as 'ops' with: ")
    assert str(some) == (f"web-01: the server refused our key for user 'ops' (offered: "
                         f"{tmp_path / 'id'}, no ssh-agent (SSH_AUTH_SOCK is not set))")
