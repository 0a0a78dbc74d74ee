"""describe_key_sources: what a refused login had to offer, for its error message."""

from __future__ import annotations

import socket
from pathlib import Path

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
