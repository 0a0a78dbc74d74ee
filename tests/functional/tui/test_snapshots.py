"""SVG snapshots of the control centre at 80×24 and 160×48 (pytest-textual-snapshot).

A fixed fleet (``seed.py``), fixed ids and a fixed clock: nothing rendered
depends on the real time, so the snapshots are stable. Update them with
``pytest tests/functional/tui --snapshot-update`` and review the SVGs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from ccm_tui.app import CCMApp
from ccm_tui.hub import open_hub
from tests.functional.tui.conftest import loaded, wait_for
from tests.functional.tui.seed import fixed_clock, seed

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


@pytest.fixture
def seeded_url(tmp_path: Path) -> str:
    """An SQLite hub holding the fixed fleet."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"

    async def go() -> None:
        async with open_hub(url) as hub:
            await seed(hub)

    asyncio.run(go())
    return url


def make_app(url: str, theme: str = "dark") -> CCMApp:
    """The app on its own connection to the seeded hub, with the fixed clock."""
    return CCMApp(open_hub(url), actor="jordan", theme=theme, clock=fixed_clock, own_hub=True)


def then(*keys: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    """A ``run_before``: wait for the hub to load, press ``keys``, settle."""
    async def run_before(pilot: Pilot[None]) -> None:
        await loaded(pilot)
        for key in keys:
            await pilot.press(key)
        await pilot.pause(0.3)
        await wait_for(pilot, lambda: True)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_main_screen_with_approval_bar(snap_compare: Any, seeded_url: str,
                                       size: tuple[int, int]) -> None:
    """Grid, timeline, transcript and the approval bar of the first (waiting) incident."""
    assert snap_compare(make_app(seeded_url), terminal_size=size, run_before=then())


@pytest.mark.parametrize("size", SIZES)
def test_transcript_zoomed(snap_compare: Any, seeded_url: str, size: tuple[int, int]) -> None:
    """The transcript maximised: steps, output, evidence, decision inputs, approval."""
    assert snap_compare(make_app(seeded_url), terminal_size=size, run_before=then("3", "z"))


@pytest.mark.parametrize("size", SIZES)
def test_summary(snap_compare: Any, seeded_url: str, size: tuple[int, int]) -> None:
    """``m``: the morning summary."""
    assert snap_compare(make_app(seeded_url), terminal_size=size, run_before=then("m"))


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare: Any, seeded_url: str, size: tuple[int, int]) -> None:
    """``?``: every key."""
    assert snap_compare(make_app(seeded_url), terminal_size=size, run_before=then("?"))


@pytest.mark.parametrize("theme", ["dark", "light", "high-contrast"])
@pytest.mark.parametrize("size", SIZES)
def test_themes(snap_compare: Any, seeded_url: str, size: tuple[int, int], theme: str) -> None:
    """The main screen in each theme, incident state colours included (set by the theme)."""
    assert snap_compare(make_app(seeded_url, theme), terminal_size=size, run_before=then())
