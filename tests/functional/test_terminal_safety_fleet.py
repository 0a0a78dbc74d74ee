"""``ccm fleet trust`` shows an inventory's host name with its control characters as
escapes: the line an engineer compares a fingerprint on cannot be rewritten by the name
(a real asyncssh server on 127.0.0.1, a real SQLite hub)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.ssh import LOOPBACK, AsyncsshFleet, KeyFiles, make_keypair
from tests.unit.cli_support import ccm

pytestmark = pytest.mark.usefixtures("isolated_env")

#: A name that would clear the screen, return to the start of the line and print a
#: fingerprint of its own over the real one.
NAME = "web-01\x1b[2J\rweb-01 (web-01) presents ssh-ed25519 key SHA256:fake"


@pytest.fixture
def key(tmp_path: Path) -> KeyFiles:
    return make_keypair(tmp_path / "id_ed25519")


@pytest.fixture
def server(key: KeyFiles, tmp_path: Path) -> Iterator[AsyncsshFleet]:
    with AsyncsshFleet(1, authorized_keys=[key.public_line], home=tmp_path) as fleet:
        yield fleet


def test_trust_shows_a_hostile_inventory_name_escaped(server: AsyncsshFleet, key: KeyFiles,
                                                     url: str, tmp_path: Path) -> None:
    [(_, port)] = server.hosts()
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump({"hosts": {NAME: {
        "address": LOOPBACK, "port": port, "identity_file": str(key.private)}}}))
    args = ("--inventory", str(inventory), "--hub", url)
    asked = ccm("fleet", "trust", NAME, *args)  # no terminal to confirm on: refused
    assert asked.exit_code == 1
    first = asked.stderr.splitlines()[0]
    assert first.startswith("web-01\\x1b[2J\\rweb-01 (web-01) presents ssh-ed25519 key "
                            "SHA256:fake ("), asked.stderr
    assert "\x1b" not in asked.stderr and "\r" not in asked.stderr
    assert "presents ssh-ed25519 key SHA256:" in first.split("SHA256:fake", 1)[1]
    trusted = ccm("fleet", "trust", NAME, "--yes", *args)
    assert trusted.exit_code == 0, trusted.output
    assert trusted.stdout.startswith("trusted web-01\\x1b[2J\\rweb-01 (web-01) presents")
    again = ccm("fleet", "trust", NAME, "--json", *args)
    assert json.loads(again.stdout)["host"] == NAME  # --json keeps the name as it is
