"""The main screen: fleet grid, incident timeline, transcript and the approval bar.

It owns the :class:`~ccm_tui.app.model.Snapshot`, starts the hub feed in a
worker, applies the feed's messages and coalesces repaints (at most one every
0.2 s, however many changes arrive). Slow work — loading a transcript, storing
a decision — runs in workers and comes back as messages.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input

from ccm_tui.app import messages as m
from ccm_tui.app.hub_feed import HubFeed, load_snapshot
from ccm_tui.app.jump import attach_command, held, inside_tmux, open_window
from ccm_tui.app.model import Snapshot
from ccm_tui.app.screens.note import NoteScreen
from ccm_tui.app.screens.summary import SummaryScreen
from ccm_tui.app.summary import morning_report, summarize
from ccm_tui.app.widgets.decisions.bar import ApprovalBar
from ccm_tui.app.widgets.fleet.grid import FleetGrid
from ccm_tui.app.widgets.incidents.timeline import IncidentTimeline
from ccm_tui.app.widgets.topbar import TopBar
from ccm_tui.app.widgets.transcript.view import TranscriptView
from ccm_tui.core.errors import CCMError
from ccm_tui.core.model import ApprovalKind, Host, Task, is_endorsable
from ccm_tui.core.text import printable
from ccm_tui.daemon.remote import session_name
from ccm_tui.hub.base import Hub

REPAINT = 0.2
TIMELINE_REFRESH = 30.0  #: s; the timeline is rebuilt when tasks change, else this often
PANES = {"fleet": "#fleet", "incidents": "#incidents", "transcript": "#transcript"}


class MainScreen(Screen[None]):
    """The control centre's one screen."""

    DEFAULT_CSS = """
    #topbar { height: 1; }
    #body { height: 1fr; }
    #fleet { height: 1fr; }
    #lower { height: 1fr; }
    #incidents, #transcript { width: 1fr; height: 1fr; }
    #approval { height: auto; max-height: 9; padding: 0 1; }
    #filter { dock: bottom; display: none; }
    #filter.-shown { display: block; }
    """
    BINDINGS = [
        Binding("slash", "filter", "Filter"),
        Binding("ctrl+f", "search", "Search", show=False),
        Binding("a", "decide('approve')", "Approve"),
        Binding("r", "decide('reject')", "Reject"),
        Binding("e", "decide('escalate')", "Escalate"),
        Binding("t", "jump", "Jump in"),
        Binding("m", "summary", "Summary"),
        Binding("1", "focus_pane('fleet')", "Fleet", show=False),
        Binding("2", "focus_pane('incidents')", "Incidents", show=False),
        Binding("3", "focus_pane('transcript')", "Transcript", show=False),
        Binding("z", "zoom", "Zoom", show=False),
        Binding("x", "all_hosts", "All hosts", show=False),
        Binding("escape", "clear", "Clear", show=False),
    ]

    def __init__(self, hub: Hub, *, actor: str, clock: Callable[[], datetime]) -> None:
        super().__init__()
        self.hub = hub
        self.actor = actor
        self.clock = clock
        self.snap = Snapshot()
        self.selected: str | None = None
        self.input_mode = "hosts"
        self._repaint_pending, self._tasks_dirty, self._timeline_at = False, True, 0.0
        self.loaded = False  # the first full read of the hub is in

    def compose(self) -> ComposeResult:
        """Top bar, grid above, incidents and transcript below, approval bar, footer."""
        yield TopBar(clock=self.clock, id="topbar")
        with Vertical(id="body"):
            yield FleetGrid(id="fleet")
            with Horizontal(id="lower"):
                yield IncidentTimeline(self.clock, id="incidents")
                yield TranscriptView(id="transcript")
        yield ApprovalBar(id="approval")
        yield Input(id="filter")
        yield Footer()

    def on_mount(self) -> None:
        """Title the panes, start following the hub, then load it."""
        for pane_id in ("fleet", "incidents", "transcript"):
            pane = self.query_one(f"#{pane_id}")
            pane.add_class("pane")
            pane.border_title = pane_id
        self.query_one(TranscriptView).show(None)
        self.follow_hub()
        self.load_hub()
        self.query_one(IncidentTimeline).focus()

    def on_resize(self, event: events.Resize) -> None:
        """Small terminals get the compact approval bar."""
        self.query_one(ApprovalBar).compact = event.size.height < 32 or event.size.width < 100
        self.update_bar()

    # -- widgets ---------------------------------------------------------------------
    @property
    def grid(self) -> FleetGrid:
        return self.query_one(FleetGrid)

    @property
    def timeline(self) -> IncidentTimeline:
        return self.query_one(IncidentTimeline)

    @property
    def transcript(self) -> TranscriptView:
        return self.query_one(TranscriptView)

    def selected_task(self) -> Task | None:
        """The task under the timeline's cursor."""
        return self.snap.tasks.get(self.selected or "")

    # -- workers ---------------------------------------------------------------------
    @work(group="feed", exclusive=True)
    async def follow_hub(self) -> None:
        """Follow the hub's subscription for as long as the screen lives."""
        await HubFeed(self.hub, self.post_message).run()

    @work(group="load", exclusive=True)
    async def load_hub(self) -> None:
        """The first full read of the hub."""
        try:
            self.post_message(m.SnapshotLoaded(await load_snapshot(self.hub)))
        except CCMError as exc:
            self.post_message(m.FeedError(str(exc)))

    @work(group="transcript", exclusive=True)
    async def load_transcript(self, task_id: str, after_seq: int = 0) -> None:
        """A task's stored events (after ``after_seq``)."""
        try:
            events = await self.hub.list_events(task_id, after_seq=after_seq)
        except CCMError as exc:
            self.post_message(m.FeedError(str(exc)))
            return
        self.post_message(m.TranscriptLoaded(task_id, events))

    @work(group="decide")
    async def store_decision(self, task_id: str, kind: ApprovalKind, note: str) -> None:
        """Store an approve / reject / escalate in the hub (audited there)."""
        try:
            approval = await self.hub.decide(task_id, kind, actor=self.actor, note=note)
        except CCMError as exc:
            self.post_message(m.DecisionFailed(task_id, kind, str(exc)))
        else:
            self.post_message(m.DecisionDone(approval))

    # -- feed messages ---------------------------------------------------------------
    def on_snapshot_loaded(self, message: m.SnapshotLoaded) -> None:
        """Take the loaded snapshot; changes the feed delivered meanwhile win if newer."""
        fresh, seen = message.snapshot, self.snap
        for task in seen.tasks.values():
            old = fresh.tasks.get(task.id)
            if old is None or old.version <= task.version:
                fresh.put_task(task)
        for name, host in seen.hosts.items():
            fresh.put_host(host, seen.history.get(name, []))
        fresh.approvals.update(seen.approvals)
        self.snap = fresh
        self.loaded = True
        self.grid.set_snapshot(fresh)
        self.timeline.set_snapshot(fresh)
        self.repaint()

    def on_task_updated(self, message: m.TaskUpdated) -> None:
        """A task changed."""
        self.snap.put_task(message.task)
        self._tasks_dirty = True
        self.schedule_repaint()

    def on_event_arrived(self, message: m.EventArrived) -> None:
        """A new transcript event: the transcript follows it."""
        self.transcript.add(message.event)
        if message.event.task_id == self.selected and message.event.type == "approval_requested":
            self.update_bar()

    def on_approvals_updated(self, message: m.ApprovalsUpdated) -> None:
        """Someone decided on a task (here or elsewhere)."""
        self.snap.put_approvals(message.task_id, message.approvals)
        self._tasks_dirty = True
        self.schedule_repaint()

    def on_hosts_updated(self, message: m.HostsUpdated) -> None:
        """Hosts changed or reported health."""
        for host, history in message.hosts:
            self.snap.put_host(host, history)
        self.schedule_repaint()

    def on_control_updated(self, message: m.ControlUpdated) -> None:
        """Pause / resume."""
        self.snap.control = message.switches
        self.schedule_repaint()

    def on_silences_updated(self, message: m.SilencesUpdated) -> None:
        """Silences or maintenance windows were added, expired or ran out."""
        self.snap.silences = message.silences
        self.schedule_repaint()

    def on_feed_error(self, message: m.FeedError) -> None:
        """Say what went wrong with the hub."""
        self.notify(printable(message.error), title="hub", severity="error", markup=False)

    def schedule_repaint(self) -> None:
        """Repaint soon, once, however many changes arrive meanwhile."""
        if not self._repaint_pending:
            self._repaint_pending = True
            self.set_timer(REPAINT, self.repaint)

    def repaint(self, full: bool = False) -> None:
        """Redraw from the snapshot (the timeline if ``full``, if tasks changed, or to age it)."""
        self._repaint_pending = False
        self._tasks_dirty |= full
        self.grid.refresh_data()
        now = time.monotonic()
        if self._tasks_dirty or now - self._timeline_at >= TIMELINE_REFRESH:
            self._tasks_dirty, self._timeline_at = False, now
            self.timeline.rebuild()
        self.update_bar()
        self.query_one(TopBar).show(self.snap, hub_kind=self.hub_kind, actor=self.actor,
                                    theme=str(getattr(self.app, "theme_name", "")))

    @property
    def hub_kind(self) -> str:
        """``sqlite`` or ``postgres``: which adapter (never the URL, which may hold secrets)."""
        return "postgres" if self.hub.url.startswith("postgres") else "sqlite"

    # -- selection -------------------------------------------------------------------
    def on_task_selected(self, message: m.TaskSelected) -> None:
        """Show the selected task's transcript and, if it waits, the approval bar."""
        self.selected = message.task_id
        task = self.selected_task()
        title = f"{task.id} · {task.host} · {task.alertname}" if task else ""
        self.transcript.show(message.task_id, title)
        if message.task_id:
            self.load_transcript(message.task_id)
        self.update_bar()

    def on_transcript_loaded(self, message: m.TranscriptLoaded) -> None:
        """Stored events arrived for the transcript."""
        self.transcript.merge(message.task_id, message.events)
        self.update_bar()

    def on_transcript_view_gap(self, message: TranscriptView.Gap) -> None:
        """The transcript missed events: fetch them."""
        self.load_transcript(message.task_id, message.after_seq)

    def on_host_selected(self, message: m.HostSelected) -> None:
        """Show the incidents of one host (select it again to show all)."""
        tl = self.timeline
        tl.host = None if tl.host == message.host else message.host
        tl.rebuild()
        tl.focus()

    def action_all_hosts(self) -> None:
        """Show every host's incidents again."""
        self.timeline.host = None
        self.timeline.rebuild()

    def approval_request(self) -> Mapping[str, Any] | None:
        """The selected task's latest ``approval_requested`` data, if loaded."""
        found = [e for e in self.transcript.events.values() if e.type == "approval_requested"]
        return max(found, key=lambda e: e.seq).data if found else None

    def update_bar(self) -> None:
        """Show or hide the approval bar for the selected task."""
        task = self.selected_task()
        decided = self.snap.decided_by(task.id) if task else ""
        self.query_one(ApprovalBar).show_task(task, self.approval_request(), decided)

    # -- decisions -------------------------------------------------------------------
    def action_decide(self, kind: str) -> None:
        """``a`` approves at once; ``r`` and ``e`` ask for a short note first."""
        task = self.selected_task()
        if task is None:
            self.notify("select an incident first", severity="warning")
            return
        k = ApprovalKind(kind)
        if k is ApprovalKind.APPROVE:
            self.store_decision(task.id, k, "")
            return
        verb = "Reject" if k is ApprovalKind.REJECT else "Escalate"

        def done(note: str | None) -> None:
            if note is not None:
                self.store_decision(task.id, k, note)

        self.app.push_screen(NoteScreen(f"{verb} {task.id} on {task.host}: why?"), done)

    def on_decision_done(self, message: m.DecisionDone) -> None:
        """Confirm a stored decision."""
        a = message.approval
        verb = {"approve": "approved", "reject": "rejected", "escalate": "escalated"}[a.kind]
        task = self.snap.tasks.get(a.task_id)
        if a.kind == "approve" and task is not None and is_endorsable(task):
            verb = "endorsed (its shadow run's plan, toward leaving shadow mode)"
        elif a.kind == "reject" and task is not None and is_endorsable(task):
            verb = "rejected (its shadow run's plan was wrong: endorsements start again)"
        self.notify(printable(f"{a.task_id} {verb} by {a.actor}"), title="decision",
                    markup=False)

    def on_decision_failed(self, message: m.DecisionFailed) -> None:
        """Say why a decision was refused."""
        self.notify(printable(message.error), title=f"{message.kind} refused", severity="error",
                    markup=False)

    # -- jump ------------------------------------------------------------------------
    def action_jump(self) -> None:
        """Open the selected task's agent session (tmux window, or suspend and attach)."""
        task = self.selected_task()
        if task is None:
            self.notify("select an incident first", severity="warning")
            return
        host = self.snap.hosts.get(task.host) or Host(name=task.host)
        try:  # reached as the daemon reaches it: the inventory's jumps, keys and trust
            argv = attach_command(getattr(self.app, "fleet", None), host, task.id)
        except CCMError as exc:
            self.notify(f"{exc}" + (f" — {exc.hint}" if exc.hint else ""),
                        title="cannot attach", severity="error", markup=False)
            return
        if inside_tmux():
            try:
                open_window(argv, session_name(task.id))
            except Exception as exc:  # libtmux or tmux itself failed
                self.notify(f"tmux: {exc}", severity="error", markup=False)
            return
        try:
            with self.app.suspend():
                subprocess.run(held(argv), check=False)
        except Exception as exc:  # e.g. headless: nothing to suspend
            self.notify(f"cannot attach here: {exc}", severity="error", markup=False)

    # -- filter, search, panes -------------------------------------------------------
    def _open_input(self, mode: str, placeholder: str, value: str) -> None:
        self.input_mode = mode
        box = self.query_one("#filter", Input)
        box.placeholder = placeholder
        box.value = value
        box.add_class("-shown")
        box.focus()

    def action_filter(self) -> None:
        """``/``: filter the fleet grid."""
        self._open_input("hosts", "filter hosts: name, group or status (enter jumps)",
                         self.grid.filter_text)

    def action_search(self) -> None:
        """``ctrl+f``: search the transcript."""
        self._open_input("search", "search the transcript", self.transcript.query_text)

    def on_input_changed(self, event: Input.Changed) -> None:
        """Filter or search as the operator types."""
        if event.input.id != "filter":
            return
        if self.input_mode == "hosts":
            self.grid.set_filter(event.value)
        else:
            self.transcript.set_search(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter: keep the filter, jump to the first match."""
        if event.input.id != "filter":
            return
        event.input.remove_class("-shown")
        if self.input_mode == "hosts":
            if event.value:
                self.grid.jump_to(event.value.strip())
            self.grid.focus()
        else:
            self.transcript.focus()

    def action_clear(self) -> None:
        """Escape: close the filter box and clear what it filtered."""
        box = self.query_one("#filter", Input)
        if box.has_class("-shown") or self.grid.filter_text or self.transcript.query_text:
            box.remove_class("-shown")
            box.value = ""
            self.grid.set_filter("")
            self.transcript.set_search("")
            self.grid.focus()
        elif self.maximized is not None:
            self.minimize()

    def action_focus_pane(self, name: str) -> None:
        """Focus the fleet, the incidents or the transcript."""
        self.query_one(PANES[name]).focus()

    def action_zoom(self) -> None:
        """Maximise the focused pane, or restore."""
        if self.maximized is not None:
            self.minimize()
        elif self.focused is not None:
            self.maximize(self.focused)

    async def action_summary(self) -> None:
        """``m``: the summary of the last 12 hours."""
        await self.show_summary(self.clock() - timedelta(hours=12), "summary · last 12 hours")

    async def show_summary(self, since: datetime, title: str) -> None:
        """Push the summary of what happened since ``since`` (``ccm report``'s figures)."""
        self.app.push_screen(SummaryScreen(summarize(self.snap, since), title,
                                           await morning_report(self.hub, since, self.clock())))
