"""``sqlite:///hub.db?synchronous=full``: every commit fsync'ed, without stalling the loop."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from ccm_tui.core.errors import HubURLError
from ccm_tui.hub import open_hub
from ccm_tui.hub.sqlite import SqliteHub
from tests.support.hub_builders import alert, task


def _pragma(path: Path) -> int:
    hub_conn = sqlite3.connect(path)
    try:
        return int(hub_conn.execute("PRAGMA synchronous").fetchone()[0])
    finally:
        hub_conn.close()


@pytest.mark.parametrize(("query", "mode"), [("", "normal"), ("?synchronous=full", "full"),
                                             ("?synchronous=NORMAL", "normal")])
async def test_the_url_picks_the_mode(tmp_path: Path, query: str, mode: str) -> None:
    hub = open_hub(f"sqlite:///{tmp_path}/hub.db{query}")
    assert isinstance(hub, SqliteHub) and hub.synchronous == mode
    async with hub:
        assert hub._conn is not None
        level = hub._conn.execute("PRAGMA synchronous").fetchone()[0]
        assert level == {"normal": 1, "full": 2}[mode]
    assert _pragma(tmp_path / "hub.db") in (0, 1, 2)  # the file opens on its own again


@pytest.mark.parametrize("query", ["?synchronous=off", "?journal=delete", "?synchronous=2"])
def test_other_options_are_refused_with_the_choices(tmp_path: Path, query: str) -> None:
    with pytest.raises(HubURLError) as err:
        open_hub(f"sqlite:///{tmp_path}/hub.db{query}")
    assert err.value.hint and "synchronous" in err.value.hint


async def test_concurrent_writers_all_land_in_full_mode(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/hub.db?synchronous=full"
    async with open_hub(url) as hub:
        async def one(i: int) -> None:
            a = alert(f"fp{i:03d}", host=f"web-{i % 7:02d}", alertname=f"A{i % 5}")
            await hub.record_firing(a, lambda a=a: task(a.host, a.alertname))

        await asyncio.gather(*(one(i) for i in range(120)))
        assert len(await hub.list_alerts(limit=1000)) == 120
        assert sum((await hub.count_tasks()).values()) == 35
    async with open_hub(url) as again:
        assert len(await again.list_alerts(limit=1000)) == 120


async def test_a_writer_cancelled_mid_commit_leaves_the_hub_usable(tmp_path: Path) -> None:
    async with open_hub(f"sqlite:///{tmp_path}/hub.db?synchronous=full") as hub:
        for turns in range(0, 12):
            a = alert(f"fp-c{turns}", host="web-01", alertname=f"C{turns}")
            writing = asyncio.ensure_future(hub.record_firing(a, task("web-01", f"C{turns}")))
            for _ in range(turns):
                await asyncio.sleep(0)
            writing.cancel()
            await asyncio.gather(writing, return_exceptions=True)
            stored = {x.fingerprint for x in await hub.list_alerts(limit=100)}
            tasks = await hub.list_tasks()
            # all or nothing: the alert and its task were committed together, or neither
            assert (a.fingerprint in stored) == any(t.alertname == f"C{turns}" for t in tasks)
        b = alert("fp-after", host="web-02", alertname="After")
        assert (await hub.record_firing(b, task("web-02", "After"))).created
