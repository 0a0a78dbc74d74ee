"""The table of ``ccm fleet probe``: why a host has no figures reads at a glance."""

from __future__ import annotations

from rich.console import Console

from ccm_tui.commands.probe import probe_row, probe_table
from ccm_tui.core.model import HealthSnapshot, utcnow


def test_reachable_column_tells_no_login_from_unreachable() -> None:
    now = utcnow()
    snaps = [HealthSnapshot("web-01", now, cpu_pct=12.0, mem_pct=40.0, disk_pct=20.0,
                            data={"rtt_ms": 30.0, "mounts": []}),
             HealthSnapshot("web-02", now, reachable=False,
                            data={"error": "web-02: connection refused",
                                  "error_kind": "unreachable"}),
             HealthSnapshot("web-03", now, reachable=False,
                            data={"error": "web-03: no key to log in", "error_kind": "auth"}),
             HealthSnapshot("web-04", now, reachable=False,
                            data={"error": "web-04: host key CHANGED", "error_kind": "hostkey"})]
    console = Console(width=120, record=True)
    console.print(probe_table([probe_row(s) for s in snaps]))
    reach = {line.split()[0]: line.split()[1:3] for line in console.export_text().splitlines()[1:]}
    assert reach["web-01"][0] == "yes" and reach["web-02"][0] == "no"
    assert reach["web-03"] == ["no", "login"] and reach["web-04"] == ["no", "login"]
