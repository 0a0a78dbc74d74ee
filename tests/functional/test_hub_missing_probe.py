"""``ccm fleet probe`` on a hub path that names no file stops before contacting a host,
naming the file and how to make the hub; it no longer makes a new, empty hub there.

An error rather than ``ccm run``'s warning: the probe's output says its snapshots are
stored (the TUI's fleet grid reads them), and a probe changes nothing on the hosts, so
running it again with the right hub costs only its time; a broadcast may have changed
every host and cannot be taken back, so it must never fail for its record."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.ssh import free_port, write_ccm_inventory
from tests.unit.cli_support import ccm, one_line


def test_probe_on_a_mistyped_hub_stops_before_contacting_a_host(
        isolated_env: Path, tmp_path: Path) -> None:
    typo = tmp_path / "hbu.db"
    inv = write_ccm_inventory(tmp_path / "inv.yaml", [("web-01", free_port())])
    for extra in ((), ("--json",)):
        res = ccm("fleet", "probe", "--inventory", str(inv), "--hub", f"sqlite:///{typo}",
                  *extra)
        assert res.exit_code == 1 and res.stdout == ""
        line = one_line(res.stderr)
        assert line.startswith(f"ccm: error: there is no hub at {typo}"), line
        assert "`ccm init` or `ccm db migrate`" in line
    assert not typo.exists()


@pytest.mark.usefixtures("isolated_env")
def test_probe_on_a_postgres_hub_without_its_schema_says_migrate_first(
        pg_url: str, tmp_path: Path) -> None:
    """Before, every host was probed, then storing failed and the results were lost."""
    inv = write_ccm_inventory(tmp_path / "inv.yaml", [("web-01", free_port())])
    res = ccm("fleet", "probe", "--inventory", str(inv), "--hub", pg_url)
    assert res.exit_code == 1 and res.stdout == ""
    line = one_line(res.stderr)
    assert "has no CCM schema yet" in line and "`ccm db migrate`" in line, line
    assert "then run `ccm fleet probe` again" in line
