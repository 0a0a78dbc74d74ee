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


def test_an_80_column_terminal_keeps_every_figure_and_rounds_down() -> None:
    now = utcnow()
    units = ["nginx.service", "postgresql@15-main.service", "certbot.timer"]
    snaps = [HealthSnapshot("db-primary-eu-west-1a.prod.example.com", now, cpu_pct=99.6,
                            mem_pct=95.4, disk_pct=91.2,
                            data={"rtt_ms": 1234.5, "failed_units": units, "mounts": [
                                {"mount": "/var/lib/postgresql/15/main", "used_pct": 91.2}]}),
             HealthSnapshot("web-03", now, cpu_pct=5.0, mem_pct=94.6, disk_pct=89.6,
                            data={"rtt_ms": 30.0, "failed_units": [],
                                  "mounts": [{"mount": "/", "used_pct": 89.6}]})]
    console = Console(width=80, record=True)
    console.print(probe_table([probe_row(s) for s in snaps]))
    lines = console.export_text().splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    assert lines[0].split() == ["HOST", "REACHABLE", "CPU", "MEM", "WORST", "DISK", "FAILED",
                                "UNITS", "PROBE", "MS"]
    db = lines[1].split()
    assert db[0].startswith("db-primary") and db[0].endswith("…")
    assert db[2:5] == ["99%", "95%", "91%"] and db[-1] == "1234"
    # Below a threshold reads below it: 89.6 % is not "90%" (the rule fires at 90).
    [web] = [line.split() for line in lines if line.startswith("web-03")]
    assert web[1:6] == ["yes", "5%", "94%", "89%", "/"] and web[-2:] == ["none", "30"]
    text = " ".join(line[56:] for line in lines[1:5])  # the wrapped FAILED UNITS cells
    assert "nginx.service," in text and "certbot.timer" in text
