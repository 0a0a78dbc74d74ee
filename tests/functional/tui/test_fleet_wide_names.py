"""Fleet tiles hold host and group names in wide characters (CJK, emoji, full-width
Latin) in their width: every tile starts on its column and every line of the grid is
exactly as wide as the grid (a name measured in characters took two cells a character,
pushing the next tiles right and the line past the edge)."""

from __future__ import annotations

from rich.cells import cell_len

from ccm_tui.app import CCMApp
from ccm_tui.app.screens.main import MainScreen
from ccm_tui.app.widgets.fleet.layout import GAP, TILE_H, TILE_W
from ccm_tui.core.model import HealthSnapshot, Host, Task
from ccm_tui.core.states import TaskState
from tests.functional.tui.conftest import wait_for
from tests.functional.tui.seed import BASE, fixed_clock

GROUP = "本番グループ・東京データセンター・第二ラック"
NAMES = ("a-東京ウェブサーバー本番環境01", "b-🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥", "c-ｗｅｂ０３", "d-web-04")


async def test_wide_host_and_group_names_keep_the_grid_aligned(sqlite_url: str) -> None:
    from ccm_tui.hub import open_hub

    async with open_hub(sqlite_url) as hub:
        await hub.upsert_hosts([Host(name=n, groups=(GROUP,)) for n in NAMES])
        for name in NAMES:
            await hub.record_health(HealthSnapshot(host=name, taken_at=BASE, cpu_pct=20.0,
                                                   mem_pct=30.0, disk_pct=40.0, load1=0.5))
        task = await hub.create_task(Task(id="t-wide", host=NAMES[0], alertname="DiskFull"))
        for state in (TaskState.CLAIMED, TaskState.DIAGNOSING, TaskState.AWAITING_APPROVAL):
            await hub.transition(task.id, state)  # the tile shows the APPROVE badge too
        app = CCMApp(hub, actor="jordan", clock=fixed_clock)
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.loaded)
            assert isinstance(app.screen, MainScreen)
            grid = app.screen.grid
            await wait_for(pilot, lambda: len(grid.order()) == len(NAMES))
            width = grid.scrollable_content_region.width
            strips = [grid.render_line(y) for y in range(1 + TILE_H)]
    header, *tile_lines = [strip.text for strip in strips]
    assert all(strip.cell_length == width for strip in strips)
    assert cell_len(header) == width and header.rstrip().endswith("第二ラック · 4 hosts")
    names_line = tile_lines[0]
    starts = [cell_len(names_line[:i]) for i, c in enumerate(names_line) if c == "●"]
    assert starts == [i * (TILE_W + GAP) for i in range(len(NAMES))]
    for i, line in enumerate(tile_lines):  # each tile's lines end where the next begins
        cells = [cell_len(line[:j]) for j in range(len(line) + 1)]
        assert {k * (TILE_W + GAP) for k in range(1, len(NAMES))} <= set(cells), (i, line)
    tile = names_line[:names_line.index("●", 1)]
    assert tile.startswith("● a-東京") and "…" in tile and "APPROVE" in tile
