"""Pilot tests against a real hub (SQLite and PostgreSQL) while events keep arriving.

They prove: ``a``/``r``/``e`` store approve/reject/escalate in the hub with who
and the note (and audit them); a decision made by another client shows in the
app within a second; the transcript follows new events of the selected task.
"""

from __future__ import annotations

import re
from typing import Any

from ccm_tui.app import CCMApp
from ccm_tui.core.model import ApprovalKind
from ccm_tui.core.states import TaskState
from ccm_tui.hub import open_hub
from tests.functional.tui.conftest import events_keep_arriving, loaded, wait_for, wait_hub
from tests.functional.tui.seed import (
    APPROVAL_TASK,
    APPROVAL_TASK_2,
    DIAG_TASK,
    FIXED_TASK,
    fixed_clock,
    seed,
)


async def _select(pilot: Any, screen: Any, task_id: str) -> None:
    assert screen.timeline.select_task(task_id)
    await wait_for(pilot, lambda: screen.selected == task_id)


async def test_a_r_e_change_the_hub_while_events_arrive(hub_url: str, hub: Any) -> None:
    await seed(hub)
    async with open_hub(hub_url) as other, events_keep_arriving(other) as written:
        app = CCMApp(hub, actor="jordan", clock=fixed_clock)
        async with app.run_test(size=(160, 48)) as pilot:
            screen = await loaded(pilot)
            assert screen.selected == APPROVAL_TASK  # awaiting approval comes first
            assert screen.query_one("#approval").display

            await pilot.press("a")
            found = await wait_hub(pilot, lambda: hub.list_approvals(APPROVAL_TASK), bool)
            assert [(a.kind, a.actor) for a in found] == [(ApprovalKind.APPROVE, "jordan")]
            await wait_for(pilot, lambda: screen.snap.decided_by(APPROVAL_TASK)
                           == "approved by jordan")

            await _select(pilot, screen, APPROVAL_TASK_2)
            await pilot.press("r", *"not now", "enter")
            task = await wait_hub(pilot, lambda: hub.get_task(APPROVAL_TASK_2),
                                  lambda t: t.state is TaskState.CANCELLED)
            assert task.outcome == "rejected"
            (rejected,) = await hub.list_approvals(APPROVAL_TASK_2)
            assert (rejected.kind, rejected.actor, rejected.note) == ("reject", "jordan", "not now")

            await _select(pilot, screen, DIAG_TASK)
            await pilot.press("e", *"db team please", "enter")
            await wait_hub(pilot, lambda: hub.get_task(DIAG_TASK),
                           lambda t: t.state is TaskState.ESCALATED)
            (escalated,) = await hub.list_approvals(DIAG_TASK)
            assert escalated.note == "db team please"
            await wait_for(pilot, lambda: screen.snap.tasks[DIAG_TASK].state
                           is TaskState.ESCALATED)

            audit = await hub.list_audit()
            assert {"jordan"} <= {e.actor for e in audit}
            assert len(written) > 5  # events really kept arriving meanwhile


async def test_escape_cancels_and_refusals_leave_the_hub_alone(hub_url: str, hub: Any) -> None:
    await seed(hub)
    app = CCMApp(hub, actor="jordan", clock=fixed_clock)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await loaded(pilot)
        await pilot.press("e", *"never mind", "escape")
        await pilot.pause(0.3)
        assert await hub.list_approvals(APPROVAL_TASK) == []

        await _select(pilot, screen, FIXED_TASK)  # resolved: nothing to approve
        await pilot.press("a")
        await wait_for(pilot, lambda: any("refused" in str(n.title) for n in app._notifications))
        assert await hub.list_approvals(FIXED_TASK) == []


async def test_decisions_elsewhere_show_within_a_second(hub_url: str, hub: Any) -> None:
    await seed(hub)
    async with open_hub(hub_url) as other:
        app = CCMApp(hub, actor="jordan", clock=fixed_clock)
        async with app.run_test(size=(160, 48)) as pilot:
            screen = await loaded(pilot)
            await other.decide(APPROVAL_TASK_2, "reject", actor="sam", note="cli")
            await wait_for(pilot, lambda: screen.snap.decided_by(APPROVAL_TASK_2)
                           == "rejected by sam")
            await wait_for(pilot, lambda: screen.timeline.get_row(APPROVAL_TASK_2)[0].plain
                           == "cancelled")


async def test_transcript_follows_new_events(hub_url: str, hub: Any) -> None:
    await seed(hub)
    async with open_hub(hub_url) as other:
        app = CCMApp(hub, actor="jordan", clock=fixed_clock)
        async with app.run_test(size=(160, 48)) as pilot:
            screen = await loaded(pilot)
            await _select(pilot, screen, DIAG_TASK)
            await wait_for(pilot, lambda: not screen.transcript.loading)
            async with events_keep_arriving(other, DIAG_TASK, every=0.02) as written:
                await wait_for(pilot, lambda: len(written) >= 40)  # more than the pane shows
                await wait_for(pilot, lambda: screen.transcript.last_seq >= written[39])
            last = written[-1]
            await wait_for(pilot, lambda: screen.transcript.last_seq == last)
            assert sorted(screen.transcript.events) == list(range(1, last + 1))  # no gap
            # live lines are written in batches, a tenth of a second apart at most
            await wait_for(pilot, lambda: any(f"marker-{last} " in strip.text
                                              for strip in screen.transcript.lines))
            shown = [int(n) for strip in screen.transcript.lines
                     for n in re.findall(r"marker-(\d+) ", strip.text)]
            assert shown == sorted(set(shown)) and set(written) <= set(shown)  # once, in order
            assert screen.transcript.follow
            # following keeps the newest line in view (once the last repaint has landed)
            await wait_for(pilot, lambda: screen.transcript.scroll_y
                           == screen.transcript.max_scroll_y)
            # longer than its pane: a scrollbar that knows the length and where the view is
            # (the transcript updates it itself, without laying the screen out per line)
            view = screen.transcript
            bar = view.vertical_scrollbar
            assert len(view.lines) > view.scrollable_content_region.height
            await wait_for(pilot, lambda: view.show_vertical_scrollbar
                           and bar.window_virtual_size == len(view.lines)
                           and bar.position == view.scroll_y > 0)
