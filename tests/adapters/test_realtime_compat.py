"""A change of a kind this CCM does not know (written by a newer CCM sharing the hub)
is skipped; it never stops the feed."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path

from ccm_tui.core import ChangeKind, Silence, parse_matcher, utcnow
from ccm_tui.hub import open_hub


async def test_an_unknown_change_kind_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    async with open_hub(f"sqlite:///{path}") as hub:
        raw = sqlite3.connect(path, isolation_level=None)
        try:
            raw.execute("INSERT INTO ccm_changes (kind, task_id, ref, created_at)"
                        " VALUES ('from-the-future', NULL, 'x', '2026-11-28T00:00:00+00:00')")
        finally:
            raw.close()
        now = utcnow()
        s = await hub.add_silence(Silence((parse_matcher("host=web-01"),), now,
                                          now + timedelta(hours=1)))
        seen = []
        async for change in hub.subscribe(since=0):
            seen.append(change.kind)
            if change.kind is ChangeKind.SILENCE:
                assert change.ref == str(s.id)
                break
        assert "from-the-future" not in [k.value for k in seen]
        await asyncio.sleep(0)
