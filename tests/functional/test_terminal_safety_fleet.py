"""An inventory host name with control characters cannot rewrite the line on which
``ccm fleet trust`` shows a fingerprint: the inventory refuses it, escaped (a real
asyncssh server on 127.0.0.1, a real SQLite hub)."""

from __future__ import annotations

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


def test_a_hostile_inventory_name_never_reaches_fleet_trust(
        server: AsyncsshFleet, key: KeyFiles, url: str, tmp_path: Path) -> None:
    """The inventory refuses the name at its line, so the line an engineer compares a
    fingerprint on can never show it; the refusal itself shows it escaped."""
    [(_, port)] = server.hosts()
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump({"hosts": {NAME: {
        "address": LOOPBACK, "port": port, "identity_file": str(key.private)}}}))
    args = ("--inventory", str(inventory), "--hub", url)
    for extra in ((), ("--yes",), ("--json",)):
        refused = ccm("fleet", "trust", "web-01", *extra, *args)
        assert refused.exit_code != 0
        assert "\x1b" not in refused.output and "\r" not in refused.output
        assert "control character" in refused.output and str(inventory) in refused.output
    assert not (tmp_path / "home" / ".ssh" / "known_hosts").exists() or \
        "SHA256" not in (tmp_path / "home" / ".ssh" / "known_hosts").read_text()
