"""Broadcast from the command palette, against real SSH servers (asyncssh) and a real hub.

It proves: ``ctrl+p`` finds "Broadcast a command…"; the prompt takes a host pattern
and a command typed with keys; the command runs over SSH on every matching host
with per-host rows filling in while a slow host is still running; the grouped
summary reads ``2 identical · 1 differ · 1 unreachable`` with failed hosts listed
first, and highlighting a failed host shows its stdout/stderr/exit; the run is in
the hub's audit log exactly as ``ccm run`` records it (action ``run``, the failed
hosts for ``--retry-failed``); a pattern matching nothing says so and runs nothing.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import Static

from ccm_tui.app import CCMApp
from ccm_tui.app.fleet_access import FleetAccess
from ccm_tui.app.screens.broadcast import BroadcastPrompt, BroadcastScreen
from ccm_tui.app.screens.main import MainScreen
from ccm_tui.hub import open_hub
from tests.functional.tui.conftest import loaded, wait_for
from tests.functional.tui.seed import fixed_clock, seed
from tests.support.ssh import (
    AsyncsshFleet,
    free_port,
    make_keypair,
    write_ccm_inventory,
    write_known_hosts,
)

#: Host 0 and 2 print the same; host 1 fails with stderr; host 2 is slow.
PROBE = """\
case "$CCM_TEST_HOST_INDEX" in
  1) echo other; echo boom >&2; exit 3 ;;
  2) sleep 1.5 ;;
esac
echo same
"""


def shown(screen: BroadcastScreen, widget_id: str) -> str:
    """The plain text of one of the screen's Static widgets."""
    content = screen.query_one(widget_id, Static).content
    return content.plain if isinstance(content, Text) else str(content)


async def open_broadcast(pilot: Pilot[None], pattern: str, command: str) -> BroadcastScreen:
    """``ctrl+p``, "broadcast", enter; type the pattern and the command with keys."""
    await pilot.press("ctrl+p")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, CommandPalette))
    await pilot.press(*"broadcast")
    await pilot.pause(0.3)  # the palette searches in the background
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, BroadcastPrompt))
    await pilot.press(*pattern, "enter")
    await pilot.press(*[k if k != " " else "space" for k in command], "enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, BroadcastScreen))
    screen = pilot.app.screen
    assert isinstance(screen, BroadcastScreen)
    return screen


async def test_broadcast_from_the_palette(tmp_path: Path, sqlite_url: str) -> None:
    key = make_keypair(tmp_path / "client")
    home = tmp_path / "home"
    home.mkdir()
    (home / "probe").write_text(PROBE)
    with AsyncsshFleet(3, authorized_keys=[key.public_line], home=home) as fleet:
        ports = [p for _n, p in fleet.hosts()]
        names = [("web-01", ports[0]), ("web-02", ports[1]), ("db-01", ports[2]),
                 ("web-03", free_port())]  # nothing listens: unreachable
        inv = write_ccm_inventory(tmp_path / "inventory.yaml", names, identity=key.private,
                                  groups={"db-01": ["db"]})
        kh = write_known_hosts(tmp_path / "known_hosts", fleet.known_hosts_entries())
        access = FleetAccess(inv, (kh,), trust_write_to=tmp_path / "ccm_known_hosts",
                             ssh_config=None, timeout=10)
        async with open_hub(sqlite_url) as hub:
            await seed(hub)
            app = CCMApp(hub, actor="jordan", clock=fixed_clock, fleet=access)
            async with app.run_test(size=(120, 36)) as pilot:
                await loaded(pilot)
                screen = await open_broadcast(pilot, "all", "sh probe")
                assert screen.request.pattern == "all" and screen.request.command == "sh probe"

                # live: rows fill in while db-01 still sleeps
                await wait_for(pilot, lambda: len(screen.results) >= 2, timeout=10)
                assert screen.report is None and "db-01" not in screen.results
                assert "done" in shown(screen, "#bc-summary")
                await wait_for(pilot, lambda: screen.report is not None, timeout=15)
                report = screen.report
                assert report is not None
                assert report.summary_line() == "2 identical · 1 differ · 1 unreachable"
                await pilot.pause(0.1)
                summary = shown(screen, "#bc-summary")
                assert "2 identical · 1 differ · 1 unreachable" in summary
                assert "recorded in the hub" in summary and "not recorded" not in summary
                assert "2 × exit 0 · identical: web-01, db-01" in summary

                # failed hosts first; highlighting one shows its output
                table = screen.table
                first_two = {str(table.coordinate_to_cell_key((i, 0)).row_key.value)
                             for i in range(2)}
                assert first_two == {"web-02", "web-03"}
                row = table.get_row_index("web-02")
                table.focus()
                await pilot.press(*(["down"] * row))
                await pilot.pause(0.1)
                out = shown(screen, "#bc-output")
                assert "web-02 · exit 3" in out and "other" in out and "stderr: boom" in out
                await pilot.press("down" if row == 0 else "up")
                await pilot.pause(0.1)
                assert "unreachable" in shown(screen, "#bc-output")

                entry = next(e for e in await hub.list_audit() if e.action == "run")
                assert (entry.actor, entry.target) == ("jordan", "all")
                assert sorted(entry.detail["failed"]) == ["web-02", "web-03"]
                assert entry.detail["summary"] == "2 identical · 1 differ · 1 unreachable"
                assert entry.detail["command"] == "sh probe"

                await pilot.press("escape")
                await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))

                # a pattern that matches nothing: said, nothing run, nothing recorded
                screen = await open_broadcast(pilot, "group:nosuch", "uptime")
                await wait_for(pilot, lambda: bool(screen.error))
                assert "no host matches 'group:nosuch'" in screen.error
                assert screen.table.row_count == 0
                runs = [e for e in await hub.list_audit() if e.action == "run"]
                assert len(runs) == 1
                await pilot.press("escape")
