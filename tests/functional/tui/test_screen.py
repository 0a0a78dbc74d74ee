"""Pilot tests of the screen itself (SQLite hub): keys, filter, themes, scale.

They prove: ``?`` lists every bound key; ``/`` filters the grid live and enter
jumps to the match; ``ctrl+t`` cycles the three themes; the grid is ONE widget
that renders only visible lines, usable with 1,000 hosts; the ssh command ``t``
runs goes to the right host (see test_attach_argv.py).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from ccm_tui.app import CCMApp
from ccm_tui.app.jump import attach_argv
from ccm_tui.app.screens.broadcast import BroadcastPrompt, BroadcastScreen
from ccm_tui.app.screens.help import KEYS, HelpScreen
from ccm_tui.app.screens.main import MainScreen
from ccm_tui.app.widgets.fleet.grid import FleetGrid
from ccm_tui.app.widgets.fleet.layout import TILE_W
from ccm_tui.app.widgets.incidents.timeline import IncidentTimeline
from ccm_tui.app.widgets.transcript.view import TranscriptView
from ccm_tui.core.model import HealthSnapshot, Host
from tests.functional.tui.conftest import loaded, wait_for
from tests.functional.tui.seed import BASE, fixed_clock, seed

ALIASES = {"question_mark": "?", "slash": "/", "left": "arrows", "right": "arrows",
           "up": "arrows", "down": "arrows"}


def test_help_lists_every_key() -> None:
    listed = {part for _, keys in KEYS for k, _ in keys for part in k.split(" / ")}
    for owner in (CCMApp, MainScreen, FleetGrid, IncidentTimeline, TranscriptView,
                  BroadcastScreen, BroadcastPrompt):
        for binding in owner.BINDINGS:
            key = binding.key if hasattr(binding, "key") else binding[0]  # type: ignore[index]
            shown = ALIASES.get(key, key)
            assert shown in listed, f"{owner.__name__}: {key} is not in the help"


def test_jump_command(tmp_path: Path) -> None:
    host = Host(name="web-02", address="10.0.0.2", user="ops", port=2222)
    config = tmp_path / "t-1.ssh_config"
    argv = attach_argv(host, "t-1", config_dir=tmp_path)
    assert argv[:-1] == ["ssh", "-F", str(config), "-t", "--", "web-02"]
    assert shlex.split(argv[-1])[-1] == "ccm-t-1"  # the session, as an argument on the host
    text = config.read_text()  # where it goes (tests/functional/tui/test_attach_argv.py: how)
    assert 'HostName "10.0.0.2"' in text and "Port 2222" in text and "User ops" in text
    assert "StrictHostKeyChecking yes" in text
    assert attach_argv(Host(name="db-1"), "t-2", config_dir=tmp_path)[5] == "db-1"


async def test_filter_theme_and_help_keys(sqlite_url: str) -> None:
    from ccm_tui.hub import open_hub

    async with open_hub(sqlite_url) as hub:
        await seed(hub)
        app = CCMApp(hub, actor="jordan", clock=fixed_clock)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await loaded(pilot)
            grid = screen.grid
            assert len(grid.order()) == 11
            await pilot.press("slash", "d", "b")
            assert grid.order() == ["db-01", "db-02"]
            await pilot.press("enter")
            assert grid.has_focus and grid.cursor == "db-01"
            await pilot.press("right", "enter")  # db-02: its incidents only
            await wait_for(pilot, lambda: screen.timeline.host == "db-02")
            await pilot.press("escape", "x")
            assert len(grid.order()) == 11 and screen.timeline.host is None

            assert app.theme_name == "dark" and app.has_class("theme-dark")
            seen = []
            for _ in range(3):
                await pilot.press("ctrl+t")
                seen.append(app.theme_name)
            assert seen == ["light", "high-contrast", "dark"]
            assert app.has_class("theme-dark") and not app.has_class("theme-light")

            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            assert isinstance(app.screen, MainScreen)


async def test_grid_is_one_virtual_widget_for_1000_hosts(sqlite_url: str) -> None:
    from ccm_tui.hub import open_hub

    async with open_hub(sqlite_url) as hub:
        hosts = [Host(name=f"{g}-{i:04d}", groups=(g,))
                 for g in ("web", "app", "db", "worker") for i in range(250)]
        await hub.upsert_hosts(hosts)
        for h in hosts[::10]:
            await hub.record_health(HealthSnapshot(host=h.name, taken_at=BASE, cpu_pct=95.0,
                                                   mem_pct=50.0, disk_pct=20.0))
        app = CCMApp(hub, actor="jordan", clock=fixed_clock)
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.loaded)
            screen = app.screen
            assert isinstance(screen, MainScreen)
            grid = screen.grid
            assert len(grid.order()) == 1000
            assert len(list(screen.query("*"))) < 60  # not one widget per host
            assert grid.virtual_size.height > 500
            grid.focus()
            for _ in range(20):  # how fast is bench/tui.py's job; here: it moves and scrolls
                await pilot.press("down")
            assert grid.cursor is not None and grid.scroll_y > 0
            await pilot.press("slash", *"0249", "enter")
            assert grid.order() == ["app-0249", "db-0249", "web-0249", "worker-0249"]
            assert grid.cursor == "app-0249"
            await pilot.press("escape")
            assert grid.jump_to("worker-0249")  # far down: scrolled into view
            top = int(grid.scroll_y)
            lines: Any = [grid.render_line(y).text for y in range(grid.size.height)]
            assert top > 500 and any("worker-0249" in line for line in lines)


def _tiles_drawn_as_cursor(grid: FleetGrid) -> list[str]:
    """The host names the grid shows in reverse video, as the screen has them: the lines
    come through the widget's render cache, so a line left stale would show here."""
    from textual.geometry import Region

    strips = grid.render_lines(Region(0, 0, grid.size.width, grid.size.height))
    return [seg.text.strip() for strip in strips for seg in strip
            if seg.style is not None and seg.style.reverse and seg.text.strip() in grid.order()]


async def test_the_cursor_moves_on_screen_without_repainting_the_grid(sqlite_url: str) -> None:
    """An arrow key repaints the two tiles' name lines only; what is on screen is still
    exactly one cursor, on the new tile, whether or not the grid scrolled."""
    from ccm_tui.hub import open_hub

    async with open_hub(sqlite_url) as hub:
        await hub.upsert_hosts(Host(name=f"web-{i:03d}", groups=("web",)) for i in range(300))
        app = CCMApp(hub, actor="jordan", clock=fixed_clock)
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.loaded)
            assert isinstance(app.screen, MainScreen)
            grid = app.screen.grid
            grid.focus()
            await pilot.pause()
            for key in ["right"] * 3 + ["down"] * 12 + ["left", "up", "up"]:  # scrolls, too
                await pilot.press(key)
                await pilot.pause()
                assert _tiles_drawn_as_cursor(grid) == [grid.cursor], key
            assert grid.scroll_y > 0


async def test_the_top_bar_keeps_active_silences_in_sight(sqlite_url: str) -> None:
    """A forgotten silence hides real incidents: the top bar says while any is on, and
    follows silences added or expired from the command line (on the realtime feed)."""
    from datetime import timedelta

    from ccm_tui.app.widgets.topbar import TopBar
    from ccm_tui.core import Silence, parse_matcher, utcnow
    from ccm_tui.hub import open_hub

    async with open_hub(sqlite_url) as hub, open_hub(sqlite_url) as cli:
        await seed(hub)
        app = CCMApp(hub, actor="jordan", clock=fixed_clock)
        async with app.run_test(size=(160, 30)) as pilot:
            screen = await loaded(pilot)
            bar = screen.query_one(TopBar)

            def text() -> str:
                return str(bar.content)

            assert "silence" not in text()
            now = utcnow()
            added = await cli.add_silence(Silence(
                (parse_matcher("host=~web-.*"),), now - timedelta(minutes=1),
                now + timedelta(hours=2), "deploy", "jordan"))
            await cli.add_silence(Silence((parse_matcher("alertname=Backup"),),
                                          now + timedelta(hours=6), now + timedelta(hours=7)))
            await wait_for(pilot, lambda: "1 silence on" in text())  # not the later window
            assert added.id is not None
            await cli.expire_silence(added.id, actor="jordan")
            await wait_for(pilot, lambda: "silence" not in text())


async def test_full_collections_wait_for_a_pause_while_the_app_runs(sqlite_url: str) -> None:
    """The paced collector (see ccm_tui/app/collector.py) is wired in: it takes over full
    collections at start, freezes the first load, hears keys, and gives it all back."""
    import gc

    from ccm_tui.app.collector import NEVER
    from ccm_tui.hub import open_hub

    before = gc.get_threshold()
    async with open_hub(sqlite_url) as hub:
        await hub.upsert_hosts(Host(name=f"web-{i:03d}", groups=("web",)) for i in range(50))
        app = CCMApp(hub, actor="jordan", clock=fixed_clock)
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.loaded)
            assert gc.get_threshold()[2] == NEVER
            await wait_for(pilot, lambda: gc.get_freeze_count() > 0)  # the first load
            await pilot.press("down")
            assert not app.collector.tick()  # someone is typing: not now
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


async def test_a_tile_says_why_its_figures_stopped(sqlite_url: str) -> None:
    from ccm_tui.hub import open_hub

    async with open_hub(sqlite_url) as hub:
        await hub.upsert_hosts([Host(name=n, groups=("web",)) for n in ("web-01", "web-02",
                                                                         "web-03")])
        await hub.record_health(HealthSnapshot(host="web-01", taken_at=BASE, cpu_pct=20.0,
                                               mem_pct=30.0, disk_pct=40.0, load1=0.5))
        for host, kind in (("web-02", "unreachable"), ("web-03", "auth")):
            await hub.record_health(HealthSnapshot(
                host=host, taken_at=BASE, reachable=False,
                data={"error": f"{host}: …", "error_kind": kind}))
        app = CCMApp(hub, actor="jordan", clock=fixed_clock)
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.loaded)
            assert isinstance(app.screen, MainScreen)
            grid = app.screen.grid
            await wait_for(pilot, lambda: len(grid.order()) == 3)
            rows = [grid.render_line(y).text for y in range(grid.size.height)]
    [names] = [line for line in rows if "web-01" in line]  # the first line of three tiles
    [third] = [line for line in rows if "dsk" in line]  # their third line
    said = {n: third[names.index(n) - 2:names.index(n) - 2 + TILE_W] for n in
            ("web-01", "web-02", "web-03")}  # each tile starts 2 cells before its name
    assert "ld  0.50" in said["web-01"]
    assert said["web-02"].rstrip().endswith(" unreachable")
    assert said["web-03"].rstrip().endswith(" no login")


async def test_the_top_bar_flags_a_fleet_nobody_probes_any_more(
        sqlite_url: str, monkeypatch: Any) -> None:
    """A stopped daemon sends no updates: the bar ages on its own and says so."""
    from datetime import timedelta

    from ccm_tui.app.widgets import topbar
    from ccm_tui.hub import open_hub

    monkeypatch.setattr(topbar, "AGE_EVERY", 0.1)  # the bar's own redraw, sped up
    now = [BASE]
    async with open_hub(sqlite_url) as hub:
        await hub.upsert_hosts([Host(name="web-01", groups=("web",))])
        await hub.record_health(HealthSnapshot(host="web-01", taken_at=BASE - timedelta(
            seconds=40), cpu_pct=10.0, mem_pct=20.0, disk_pct=30.0))
        app = CCMApp(hub, actor="jordan", clock=lambda: now[0])
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.loaded)
            bar = app.screen.query_one(topbar.TopBar)

            def said() -> str:
                return str(bar.render())

            fresh = said()
            now[0] = BASE + timedelta(hours=2)  # nothing new arrives from the hub
            await wait_for(pilot, lambda: "no probe for" in said())
            stale = said()
    assert "no probe for" not in fresh
    assert " no probe for 2h " in stale  # 2 h and the probe's 40 s, in hours


async def test_the_transcript_wraps_at_its_panes_width(sqlite_url: str) -> None:
    """Lines are wrapped to the pane, on an 80-column terminal too (RichLog's default
    wrapped at 78 cells whatever the pane, so each line ran off its right edge), and
    wrapped again when the terminal is resized."""
    from ccm_tui.hub import open_hub

    def widest(view: TranscriptView) -> int:
        return max(strip.cell_length for strip in view.lines)

    async with open_hub(sqlite_url) as hub:
        await seed(hub)
        app = CCMApp(hub, actor="jordan", clock=fixed_clock)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await loaded(pilot)
            view = screen.query_one(TranscriptView)
            await wait_for(pilot, lambda: len(view.events) > 3 and len(view.lines) > 3)
            narrow = view.scrollable_content_region.width
            assert narrow < 60
            assert widest(view) <= narrow and view.max_scroll_x == 0
            lines_narrow = len(view.lines)

            await pilot.resize_terminal(160, 48)
            await wait_for(pilot, lambda: view.scrollable_content_region.width > narrow)
            wide = view.scrollable_content_region.width
            await wait_for(pilot, lambda: len(view.lines) < lines_narrow)
            assert narrow < widest(view) <= wide and view.max_scroll_x == 0
