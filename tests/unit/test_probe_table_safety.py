"""``ccm fleet probe``'s table shows what a host reported (mount points, failed unit
names) with control characters escaped: a compromised host cannot drive the terminal."""

from __future__ import annotations

import io

from rich.console import Console

from ccm_tui.commands.probe import probe_row, probe_table
from ccm_tui.core.model import HealthSnapshot, utcnow


def test_hostile_mounts_and_units_print_escaped() -> None:
    snap = HealthSnapshot(host="web-01", taken_at=utcnow(), cpu_pct=5.0, mem_pct=10.0, disk_pct=97.0, data={
        "mounts": [{"mount": "/data\x1b]52;c;eA==\x07", "used_pct": 97.0}],
        "failed_units": ["x\x1b[2J.service", "[bold]y[/].service"], "rtt_ms": 12})
    out = io.StringIO()
    Console(file=out, width=160, color_system=None).print(probe_table([probe_row(snap)]))
    text = out.getvalue()
    assert "\x1b" not in text and "\x07" not in text
    assert "/data\\x1b]52;c;eA==\\x07" in text
    assert "x\\x1b[2J.service, [bold]y[/].service" in text  # literal, not markup
