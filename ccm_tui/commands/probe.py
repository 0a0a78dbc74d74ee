"""``ccm fleet probe`` and the bridge from health alerts to the ingest pipeline.

The daemon's health monitor may not import ingest (they are sibling layers), so
the command layer hands it :func:`health_alert_sink`: health alerts become
:class:`~ccm_tui.ingest.parsers.ParsedAlert` (source ``ccm-probe``) and go through
:meth:`Ingestor.ingest` like any webhook's — silences, dedupe, one task per
(host, alert name).
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ccm_tui.core.model import HealthSnapshot
    from ccm_tui.daemon.health import AlertSink
    from ccm_tui.daemon.health_rules import HealthAlert
    from ccm_tui.fleet.inventory import FleetHost, Inventory
    from ccm_tui.fleet.ssh_types import PoolOptions
    from ccm_tui.ingest.parsers import ParsedAlert
    from ccm_tui.ingest.pipeline import Ingestor


def parsed_alert(a: HealthAlert) -> ParsedAlert:
    """A health alert as the ingest pipeline's input."""
    from ccm_tui.ingest.parsers import ParsedAlert

    return ParsedAlert(source=a.source, status=a.status, alertname=a.alertname,
                       labels=dict(a.labels), annotations=dict(a.annotations),
                       starts_at=a.starts_at, ends_at=a.ends_at, fingerprint=a.fingerprint,
                       severity=a.severity, hosts=(a.host,))


def health_alert_sink(ingestor: Ingestor) -> AlertSink:
    """An alert sink for :class:`~ccm_tui.daemon.health.HealthMonitor` feeding ``ingestor``."""

    async def sink(alerts: list[HealthAlert]) -> object:
        return await ingestor.ingest([parsed_alert(a) for a in alerts])

    return sink


# -- ccm fleet probe ---------------------------------------------------------------------
def probe_row(snap: HealthSnapshot) -> dict[str, Any]:
    """One host's line of ``ccm fleet probe`` (also its JSON, with the full data)."""
    d = snap.data
    mounts = d.get("mounts") or []
    worst = max((m for m in mounts if m.get("used_pct") is not None),
                key=lambda m: m["used_pct"], default=None)
    return {
        "host": snap.host, "reachable": snap.reachable,
        "access_refused": snap.access_refused, "ok": snap.reachable
        and not d.get("error"), "taken_at": snap.taken_at, "cpu_pct": snap.cpu_pct,
        "mem_pct": snap.mem_pct, "disk_pct": snap.disk_pct,
        "disk_mount": worst.get("mount") if worst else None, "load1": snap.load1,
        "failed_units": d.get("failed_units"), "probe_ms": d.get("rtt_ms"),
        "error": d.get("error"), "invalid": list(d.get("invalid") or ()), "data": d,
    }


async def probe_fleet(hub_url: str, inventory: Inventory, hosts: list[FleetHost], *,
                      forks: int = 50, timeout: float = 20.0, ssh: PoolOptions | None = None,
                      ) -> list[HealthSnapshot]:
    """Probe ``hosts`` in parallel (at most ``forks`` at once) and store the snapshots.

    The hub must exist: it is opened before any host is contacted, so a mistyped path
    (or an unreachable database, or one with migrations pending) is a
    :class:`~ccm_tui.core.errors.HubError` at once, neither a new, empty hub nor a probe
    of the whole fleet whose results cannot be kept. A probe changes nothing on the
    hosts, so running it again once the hub is named right costs only its time.
    """
    from ccm_tui.commands.db import require_current_schema
    from ccm_tui.core.model import HealthSnapshot, utcnow
    from ccm_tui.daemon.health import probe_host
    from ccm_tui.daemon.options import DaemonOptions
    from ccm_tui.fleet.ssh import SSHPool
    from ccm_tui.hub import open_hub

    options = DaemonOptions()
    sem = asyncio.Semaphore(forks)
    async with open_hub(hub_url, create=False) as hub, SSHPool(inventory, options=ssh) as pool:
        await require_current_schema(hub, hub_url, then="ccm fleet probe")

        async def one(h: FleetHost) -> HealthSnapshot:
            async with sem:
                try:
                    return await probe_host(pool, h, options, timeout=timeout)
                except Exception as exc:  # one host's trouble never hides the others'
                    return HealthSnapshot(h.name, utcnow(), data={
                        "error": f"probe failed: {type(exc).__name__}: {exc}"[:500]})

        snaps = list(await asyncio.gather(*(one(h) for h in hosts)))
        for s in snaps:
            await hub.record_health(s, keep=options.health_keep)
    return snaps


def _fmt(v: float | None, suffix: str = "%") -> str:
    # Whole percent, rounded down: 89.6 % reads "89%" — rounded it read "90%" beside
    # disks at 90 % that are red (the rule fires at ≥ 90, not at 89.6).
    return "-" if v is None else f"{math.floor(v):.0f}{suffix}"


_HEADERS = ("HOST", "REACHABLE", "CPU", "MEM", "WORST DISK", "FAILED UNITS", "PROBE MS")
_RIGHT = {"CPU", "MEM", "PROBE MS"}
#: What gives way on a narrow terminal, in turn, and how far: FAILED UNITS wraps,
#: HOST and WORST DISK are cut with an ellipsis.
_GIVE_WAY = (("FAILED UNITS", 24), ("HOST", 20), ("WORST DISK", 20), ("FAILED UNITS", 14),
             ("HOST", 12), ("WORST DISK", 12), ("FAILED UNITS", 8), ("HOST", 8),
             ("WORST DISK", 8))


def _cells(r: dict[str, Any]) -> list[Any]:
    """One host's row; what the host reported (mount points, unit names) shown with
    control characters escaped: a compromised host cannot drive the terminal."""
    from rich.text import Text

    from ccm_tui.core.text import printable

    if r["access_refused"]:
        reach = Text("no login", style="yellow")  # it answered; CCM's access is refused
    elif not r["reachable"]:
        reach = Text("no", style="red")
    elif r["error"]:
        reach = Text("probe failed", style="yellow")
    elif r["invalid"]:  # some figures came in the wrong shape: ``--json`` names them
        reach = Text("yes, partial", style="yellow")
    else:
        reach = Text("yes", style="green")
    disk = r["disk_pct"]
    disk_text = Text(f"{_fmt(disk)} {printable(r['disk_mount'])}" if disk is not None else "-",
                     style="red" if disk is not None and disk >= 90 else "")
    units = r["failed_units"]
    units_text = Text(printable(", ".join(units)) if units else ("-" if units is None else "none"),
                      style="red" if units else "")
    if r["error"]:
        units_text = Text("-")  # the error follows the table, in full
    mem = r["mem_pct"]
    return [Text(printable(r["host"])), reach, Text(_fmt(r["cpu_pct"])),
            Text(_fmt(mem), style="red" if mem is not None and mem >= 95 else ""),
            disk_text, units_text,
            Text("-" if r["probe_ms"] is None else f"{r['probe_ms']:.0f}")]


class _ProbeTable:
    """Sized when printed: every figure column keeps its width on an 80-column terminal
    (rich would drop CPU, MEM and FAILED UNITS whole for one long host name)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.cells = [_cells(r) for r in rows]

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.table import Table

        widths = {h: len(h) for h in _HEADERS}
        for row in self.cells:
            for h, cell in zip(_HEADERS, row, strict=True):
                widths[h] = max(widths[h], cell.cell_len)
        excess = sum(widths.values()) + 2 * (len(_HEADERS) - 1) - options.max_width
        for col, floor in _GIVE_WAY:
            if excess <= 0:
                break
            cut = min(excess, max(0, widths[col] - floor))
            widths[col] -= cut
            excess -= cut
        table = Table(box=None, header_style="bold", pad_edge=False)
        for h in _HEADERS:
            wraps = h == "FAILED UNITS"
            table.add_column(h, width=widths[h], no_wrap=not wraps,
                             overflow="fold" if wraps else "ellipsis",
                             justify="right" if h in _RIGHT else "left")
        for row in self.cells:
            table.add_row(*row)
        yield table


def probe_table(rows: list[dict[str, Any]]) -> Any:
    """The rich table of ``ccm fleet probe`` (a renderable sized to the terminal)."""
    return _ProbeTable(rows)
