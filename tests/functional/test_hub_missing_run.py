"""``ccm run`` on a hub path that names no file still broadcasts and prints the results,
with one warning line saying the run was not recorded and how to make the hub; it no
longer makes a new, empty hub at the mistyped path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ccm_tui.hub import default_hub_path
from tests.support.ssh import (
    AsyncsshFleet,
    KeyFiles,
    make_keypair,
    write_ccm_inventory,
    write_known_hosts,
)
from tests.unit.cli_support import ccm, ccm_proc, one_line


@pytest.fixture(scope="module")
def client_key(tmp_path_factory: pytest.TempPathFactory) -> KeyFiles:
    return make_keypair(tmp_path_factory.mktemp("client") / "id_ed25519")


@pytest.fixture(scope="module")
def fleet(client_key: KeyFiles, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[AsyncsshFleet]:
    with AsyncsshFleet(2, authorized_keys=[client_key.public_line],
                       home=tmp_path_factory.mktemp("fleet-home")) as f:
        yield f


@pytest.fixture
def inventory(isolated_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
              fleet: AsyncsshFleet, client_key: KeyFiles) -> Path:
    """Two real hosts, their keys trusted, at the default inventory path (so `ccm run`
    on a fresh machine finds them with no option at all)."""
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    write_known_hosts(isolated_env / ".ssh" / "known_hosts", fleet.known_hosts_entries())
    path = isolated_env / ".config" / "ccm" / "inventory.yaml"
    path.parent.mkdir(parents=True)
    return write_ccm_inventory(path, fleet.hosts(), identity=client_key.private)


def test_run_on_a_mistyped_hub_broadcasts_and_says_it_was_not_recorded(
        inventory: Path, tmp_path: Path) -> None:
    typo = tmp_path / "hbu.db"
    res = ccm("run", "echo hi", "--hosts", "all", "--hub", f"sqlite:///{typo}")
    assert res.exit_code == 0, res.output
    assert "2 identical" in res.stdout and "host-[00-01]" in res.stdout
    line = one_line(res.stderr)
    assert line.startswith(f"warning: this run was not recorded in the hub: there is no hub "
                           f"at {typo} (from --hub)"), line
    assert f"ccm --hub sqlite:///{typo} db migrate" in line

    doc = json.loads((js := ccm("run", "echo hi", "--hosts", "all", "--json",
                                "--hub", f"sqlite:///{typo}")).stdout)
    assert js.exit_code == 0
    assert doc["recorded"] is False and doc["summary"] == "2 identical"
    assert f"there is no hub at {typo}" in doc["not_recorded_because"]
    assert not typo.exists() and not typo.parent.joinpath("hbu.db-wal").exists()


def test_run_on_an_existing_hub_is_recorded(inventory: Path, url: str) -> None:
    res = ccm("run", "echo hi", "--hosts", "all", "--json", "--hub", url)
    assert res.exit_code == 0 and res.stderr == ""
    doc = json.loads(res.stdout)
    assert doc["recorded"] is True and doc["not_recorded_because"] is None


def test_a_failed_host_still_exits_1_when_the_run_is_not_recorded(
        inventory: Path, tmp_path: Path) -> None:
    res = ccm("run", "exit 3", "--hosts", "host-00", "--hub", f"sqlite:///{tmp_path / 'x.db'}")
    assert res.exit_code == 1 and "exit 3: host-00" in res.stdout
    assert "not recorded" in res.stderr


def test_retry_failed_needs_the_hub_it_reads(inventory: Path, tmp_path: Path) -> None:
    typo = tmp_path / "hbu.db"
    res = ccm("run", "--retry-failed", "--hub", f"sqlite:///{typo}")
    assert res.exit_code == 1 and res.stdout == ""
    assert one_line(res.stderr).startswith(f"ccm: error: there is no hub at {typo}")
    assert not typo.exists()


def test_run_before_ccm_init_works_and_points_at_ccm_init(inventory: Path) -> None:
    """A fresh machine: no config, no hub. The broadcast runs; the warning says how to
    start recording, and nothing is made under the data folder."""
    proc = ccm_proc("run", "echo first", "--hosts", "all")
    assert proc.returncode == 0, proc.stderr
    assert "2 identical" in proc.stdout
    line = one_line(proc.stderr)
    assert f"there is no hub yet: {default_hub_path()} does not exist" in line
    assert "run `ccm init`" in line
    assert not default_hub_path().parent.exists()
