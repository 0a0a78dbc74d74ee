"""Helpers for the control centre's functional tests."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest
from textual.pilot import Pilot

from ccm_tui.app.screens.main import MainScreen
from ccm_tui.core.model import Event, HealthSnapshot
from ccm_tui.hub.base import Hub
from tests.functional.tui.seed import BASE, BUSY_TASK


async def wait_for(pilot: Pilot[None], check: Callable[[], object], timeout: float = 15.0) -> None:
    """Let the app run until ``check()`` is true (fails the test after ``timeout``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {check}")
        await pilot.pause(0.05)


async def wait_hub(pilot: Pilot[None], fetch: Callable[[], Awaitable[object]],
                   check: Callable[[object], bool], timeout: float = 15.0) -> object:
    """Poll the hub (as a test, not as the app) until ``check(await fetch())``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await fetch()
        if check(value):
            return value
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout}s; last value {value!r}")
        await pilot.pause(0.05)


async def loaded(pilot: Pilot[None]) -> MainScreen:
    """The main screen once it has loaded the hub and selected the first incident."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, MainScreen)
                   and pilot.app.screen.loaded)
    screen = pilot.app.screen
    assert isinstance(screen, MainScreen)
    await wait_for(pilot, lambda: screen.selected is not None and not screen.transcript.loading)
    await pilot.pause(0.3)
    return screen


@contextlib.asynccontextmanager
async def events_keep_arriving(other: Hub, task_id: str = BUSY_TASK,
                               every: float = 0.05) -> AsyncIterator[list[int]]:
    """Another hub client appends ``output`` events and health while the test runs.

    Yields the list of seqs written so far.
    """
    written: list[int] = []

    async def write() -> None:
        start = await other.last_seq(task_id) + 1
        for n in itertools.count(start):
            await other.append_event(Event(task_id, n, "output", BASE + timedelta(seconds=n),
                                           {"step": "top", "stream": "stdout",
                                            "text": f"marker-{n} load is high"}))
            written.append(n)
            if n % 5 == 0:
                await other.record_health(HealthSnapshot(
                    host="worker-02", taken_at=BASE + timedelta(hours=1, seconds=n),
                    cpu_pct=float(50 + n % 50), mem_pct=40.0, disk_pct=50.0))
            await asyncio.sleep(every)

    task = asyncio.create_task(write())
    try:
        yield written
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
