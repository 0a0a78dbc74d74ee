"""Waiting for a hub: a local SQLite file that cannot open is configuration, not an
outage, whatever the case of the URL's scheme (``SQLITE:///…`` waited forever)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from ccm_tui.core.errors import HubUnavailable
from ccm_tui.hub import open_hub
from ccm_tui.hub.patience import connect_patiently


@pytest.mark.parametrize("scheme", ["sqlite", "SQLite", "SQLITE"])
def test_an_sqlite_file_that_cannot_open_is_not_waited_for(tmp_path: Path,
                                                            scheme: str) -> None:
    notes = tmp_path / "notes.db"
    notes.write_text("not a database\n")
    hub = open_hub(f"{scheme}:///{notes}")

    async def go() -> bool:
        return await asyncio.wait_for(connect_patiently(
            hub, asyncio.Event(), log=logging.getLogger("test"), shown=hub.url,
            first_delay=0.01), 30)

    with pytest.raises(HubUnavailable, match="not a usable SQLite database"):
        asyncio.run(go())
