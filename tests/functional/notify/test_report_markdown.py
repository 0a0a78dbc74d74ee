"""``ccm report --markdown`` on a real hub whose host, alert, runbook and group names
hold Markdown: rendered by a CommonMark + GFM-tables parser, every table keeps its
columns and every name shows as it is stored (no extra cell, link, HTML or code span)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

from markdown_it import MarkdownIt

from ccm_tui.core import Silence, parse_matcher
from ccm_tui.core.states import TaskState
from ccm_tui.hub import open_hub
from tests.functional.notify.conftest import FIX_PATH, make_task

ROOT = Path(__file__).resolve().parents[3]
HOST = "web|01`x<b>bold</b>"
ALERT = "Disk`Full|<img src=x>"
RUNBOOK = "disk|clean *now* [x](http://evil.example) \\|"
GROUP = "web|edge_ ~~old~~ $x$ &lt;"
REASON = "deploy `v2 <!-- hide the rest"
MATCHER = "alertname=Disk`Full|x"


class _Rendered(HTMLParser):
    """The tables (rows of cell texts), the list items' texts and every tag of the HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.items: list[str] = []
        self.tags: set[str] = set()
        self._cell: list[str] | None = None
        self._item: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "li":
            self._item = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "li" and self._item is not None:
            self.items.append("".join(self._item))
            self._item = None

    def handle_data(self, data: str) -> None:
        for part in (self._cell, self._item):
            if part is not None:
                part.append(data)


def rendered(markdown: str) -> _Rendered:
    html = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)
    out = _Rendered()
    out.feed(html)
    return out


async def _fill(url: str) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    async with open_hub(url) as hub:
        await make_task(hub, HOST, ALERT, path=FIX_PATH, finish_after=60, runbook=RUNBOOK,
                        created_at=now - timedelta(minutes=30))
        await make_task(hub, HOST, "Waits", path=(TaskState.CLAIMED, TaskState.DIAGNOSING,
                                                  TaskState.AWAITING_APPROVAL))
        await make_task(hub, "web_02", "DiskFull", path=FIX_PATH, finish_after=120,
                        runbook="disk_cleanup", created_at=now - timedelta(minutes=30))
        await hub.record_runbook_outcome(RUNBOOK, GROUP, success=True)
        await hub.add_silence(Silence((parse_matcher(MATCHER),), now - timedelta(hours=1),
                                      now + timedelta(days=1), REASON, "jordan|ops"))


async def test_names_holding_markdown_keep_the_tables_whole(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    await _fill(url)
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "CCM_DEBUG": "1"}
    done = subprocess.run([sys.executable, "-m", "ccm_tui", "report", "--hub", url,
                           "--since", "12h", "--markdown"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    page = rendered(done.stdout)

    _counts, mttr, runbooks = page.tables
    assert [RUNBOOK, "1", "1m", "1m"] in mttr
    assert [row[:4] for row in runbooks[1:]] == [[RUNBOOK, GROUP, "1", "0"]]
    assert all(len(row) == len(table[0]) for table in page.tables for row in table)
    assert f"{MATCHER} until " in page.items[0]
    assert page.items[0].endswith(f" — {REASON} (jordan|ops)")
    assert f"{HOST}: 2" in page.items  # the busiest hosts
    assert any(item.endswith(f" Waits on {HOST} (critical)") for item in page.items)
    # nothing the names held became a link, an image, raw HTML or struck-through text
    assert page.tags <= {"h1", "h2", "p", "strong", "table", "thead", "tbody", "tr", "th",
                         "td", "ul", "li", "code"}, page.tags
    # ordinary names read the same in the raw text
    assert "\n| disk_cleanup | 1 | 2m | 2m |\n" in done.stdout


async def test_names_that_open_a_block_stay_in_their_list_item(tmp_path: Path) -> None:
    """A host or alert name starting like a heading or a list (``# edge``, ``1. db``)
    starts the report's list items as plain text, not a heading or a nested list."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    now = datetime.now(UTC).replace(microsecond=0)
    async with open_hub(url) as hub:
        for host, alert in (("# edge-01", "- Loud"), ("1. db-01", "+ Queue")):
            await make_task(hub, host, alert, path=FIX_PATH, finish_after=60,
                            runbook="disk_cleanup", created_at=now - timedelta(minutes=30))
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "CCM_DEBUG": "1"}
    done = subprocess.run([sys.executable, "-m", "ccm_tui", "report", "--hub", url,
                           "--since", "12h", "--markdown"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    html = MarkdownIt("commonmark").enable(["table"]).render(done.stdout)
    assert html.count("<h1>") == 1 and "<ol" not in html and "<ul>\n<li>\n<ul>" not in html
    page = rendered(done.stdout)
    assert "# edge-01: 1" in page.items and "1. db-01: 1" in page.items, page.items
