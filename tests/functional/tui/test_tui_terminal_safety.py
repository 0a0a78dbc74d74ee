"""The control centre shows hostile text from the hub literally (pilot, real SQLite hub).

A host, group, alert name, runbook, approval request, operator name and pause reason
holding rich markup (``[b]``, ``[link=…]``, a stray ``[/]``) and control characters
(ESC, BEL, a right-to-left override) render as they are written, with control
characters shown as escapes: nothing reaches the terminal as a control sequence, no
text turns bold or into a link, and the app does not crash.
"""

from __future__ import annotations

import re
from datetime import timedelta

from rich.segment import Segment
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widget import Widget

from ccm_tui.app import CCMApp
from ccm_tui.app.hub_feed import load_snapshot
from ccm_tui.app.screens.summary import SummaryScreen
from ccm_tui.app.widgets.decisions.bar import ApprovalBar
from ccm_tui.app.widgets.incidents.timeline import IncidentTimeline
from ccm_tui.app.widgets.topbar import TopBar
from ccm_tui.core.model import HealthSnapshot, Host, Severity, Task
from ccm_tui.hub import open_hub
from tests.functional.tui.conftest import loaded, wait_for
from tests.functional.tui.seed import BASE, NOW, approval_events, fixed_clock, seed

E = "\x1b"
HOST = f"web-66{E}[2J[b]x[/b]"
GROUP = f"edge{E}[8m[red]"
ALERT = f"Disk[b]B[/b][link=http://evil.example]L[/link]{E}]52;c;eA==\x07\u202eZ"
RUNBOOK = "rb[/]"  # a stray close tag: rich markup refuses it with an exception
ACTOR = f"eve{E}[31m[i]"
REASON = f"[/]maint{E}[2J"
TASK = "t-0000hostile"
#: What must never reach the screen: C0 controls, DEL, C1, the bidi controls.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _segments(widget: Widget) -> list[Segment]:
    width, height = widget.size
    return [seg for strip in widget.render_lines(Region(0, 0, width, height)) for seg in strip]


def _text(widget: Widget) -> str:
    """What ``widget`` shows, line by line; no control character, no markup style."""
    segments = _segments(widget)
    for seg in segments:
        assert not UNSAFE.search(seg.text), repr(seg.text)
        assert seg.style is None or not seg.style.link, seg
    width, height = widget.size
    return "\n".join(strip.text for strip in widget.render_lines(Region(0, 0, width, height)))


async def _seed_hostile(url: str) -> None:
    async with open_hub(url) as hub:
        await seed(hub)
        await hub.upsert_hosts([Host(name=HOST, address="10.9.9.9", groups=(GROUP,))])
        await hub.record_health(HealthSnapshot(host=HOST, taken_at=NOW - timedelta(minutes=1),
                                               cpu_pct=10.0, mem_pct=20.0, disk_pct=95.0))
        # awaiting approval but not the newest such task: the app selects another first
        created = BASE + timedelta(hours=2, minutes=30)
        await hub.create_task(Task(id=TASK, host=HOST, alertname=ALERT,
                                   severity=Severity.CRITICAL, created_at=created,
                                   updated_at=created))
        for state in ("claimed", "diagnosing", "awaiting_approval"):
            extra = {"runbook": RUNBOOK, "confidence": 0.5} if state == "awaiting_approval" else {}
            await hub.transition(TASK, state, **extra)
        events = approval_events(TASK, HOST, created)
        last = events[-1].data
        last["title"] = ALERT
        last["reasons"] = [REASON]
        last["actions"][0]["steps"][0]["params"]["pattern"] = f"*.gz{E}[2J[b]"
        last["dry_run"][0]["steps"][0]["summary"] = f"[link=x]y{E}]0;pwned\x07"
        await hub.append_events(events)
        await hub.set_paused(True, actor=ACTOR, reason=REASON)


async def test_hostile_text_renders_literally_everywhere(sqlite_url: str) -> None:
    await _seed_hostile(sqlite_url)
    async with open_hub(sqlite_url) as hub:
        app = CCMApp(hub, actor=f"jordan{E}[5m", clock=fixed_clock)
        async with app.run_test(size=(200, 50)) as pilot:
            screen = await loaded(pilot)
            assert screen.selected != TASK

            timeline = _text(screen.timeline)
            assert "web-66\\x1b[2J[b]x[/b]" in timeline, timeline
            assert "Disk[b]B[/b][link=http://evil.example]L[/link]\\x1b]52;c;eA==" in timeline
            row = screen.timeline.get_row(TASK)  # the pane is too narrow to show it all
            assert [str(cell) for cell in row][1:3] == ["web-66\\x1b[2J[b]x[/b]",
                                                        ALERT.replace(E, "\\x1b")
                                                        .replace("\x07", "\\x07")
                                                        .replace("\u202e", "\\u202e")]
            assert str(row[5]) == RUNBOOK, row

            top = _text(screen.query_one(TopBar))
            assert "PAUSED  by eve\\x1b[31m[i]: [/]maint\\x1b[2J" in top, top
            assert "jordan\\x1b[5m" in top, top

            screen.grid.set_filter("web-66")
            await pilot.pause()
            grid = _text(screen.grid)
            assert "▌edge\\x1b[8m[red] · 1 host" in grid, grid
            assert "● web-66\\x1b[2J[b]x… APPROVE" in grid, grid  # clipped to the tile
            screen.grid.set_filter("")

            screen.timeline.focus()
            await pilot.press("m")
            await wait_for(pilot, lambda: isinstance(app.screen, SummaryScreen))
            await pilot.pause()
            summary = "\n".join(_text(w) for w in app.screen.query("Static"))
            assert "web-66\\x1b[2J[b]x[/b]" in summary, summary
            assert "Disk[b]B[/b][link=http://evil.example]L[/link]\\x1b]52" in summary, summary
            await pilot.press("escape")
            assert app.is_running  # nothing above crashed it

            # selecting the hostile task titles its transcript and approval bar with it
            assert screen.timeline.select_task(TASK)
            await wait_for(pilot, lambda: screen.selected == TASK)
            await pilot.pause()
            # the Content Textual draws (the public getter re-encodes it as markup)
            drawn = screen.transcript._border_title
            shown = drawn.plain if drawn is not None else ""
            assert not UNSAFE.search(shown), repr(shown)
            assert shown.startswith(f"transcript · {TASK} · web-66\\x1b[2J[b]x[/b] · Disk[b]")
            _text(screen.transcript)
            await pilot.press("a")  # the decision's confirmation names the actor
            await wait_for(pilot, lambda: any(TASK in str(n.message)
                                              for n in app._notifications))
            await pilot.pause()
            assert app.is_running


class _One(App[None]):
    """An app showing one widget (the main screen's other panes left out)."""

    CSS = "IncidentTimeline { border: round white; }"

    def __init__(self, widget: Widget) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


async def test_the_incident_titles_a_hostile_host_literally(sqlite_url: str) -> None:
    await _seed_hostile(sqlite_url)
    async with open_hub(sqlite_url) as hub:
        snap = await load_snapshot(hub)
    timeline = IncidentTimeline(fixed_clock, id="incidents")
    async with _One(timeline).run_test(size=(160, 12)) as pilot:
        timeline.set_snapshot(snap)
        timeline.host = HOST  # as after enter on the host's tile
        timeline.rebuild()
        await pilot.pause()
        assert timeline.selected_task_id() == TASK
        title = _text(timeline).splitlines()[0]  # the border, with the title
        assert "incidents · all · host web-66\\x1b[2J[b]x[/b]" in title, title


async def test_the_approval_bar_shows_a_hostile_request_literally(sqlite_url: str) -> None:
    await _seed_hostile(sqlite_url)
    async with open_hub(sqlite_url) as hub:
        task = await hub.get_task(TASK)
        events = await hub.list_events(TASK)
    assert task is not None
    request = next(e.data for e in events if e.type == "approval_requested")
    bar = ApprovalBar(id="approval")
    async with _One(bar).run_test(size=(200, 12)) as pilot:
        bar.show_task(task, request, decided=f"approved by {ACTOR}")
        await pilot.pause()
        shown = _text(bar)
        assert f"{TASK} on web-66\\x1b[2J[b]x[/b] · Disk[b]B[/b][link=http://evil.example]" in shown
        assert "*.gz\\x1b[2J[b]" in shown and "[link=x]y\\x1b]0;pwned\\x07" in shown, shown
        assert "why: [/]maint\\x1b[2J" in shown, shown
        assert "approved by eve\\x1b[31m[i]" in shown, shown
