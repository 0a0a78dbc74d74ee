"""The incident timeline: tasks, awaiting approval first, then newest first.

A :class:`~textual.widgets.DataTable` keyed by task id. ``v`` cycles the state
filter, ``o`` toggles the overnight view (the last 12 hours). Rebuilds are
coalesced so a burst of task changes costs one repaint.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from ccm_tui.app.format import age
from ccm_tui.app.messages import TaskSelected
from ccm_tui.app.model import Snapshot
from ccm_tui.core.model import Task
from ccm_tui.core.states import ACTIVE_STATES, TaskState
from ccm_tui.core.text import printable

S = TaskState
#: The state filters ``v`` cycles through: (label, states or None for all).
FILTERS: list[tuple[str, frozenset[TaskState] | None]] = [
    ("all", None),
    ("awaiting approval", frozenset({S.AWAITING_APPROVAL})),
    ("active", frozenset(ACTIVE_STATES | {S.NEW})),
    ("escalated/failed", frozenset({S.ESCALATED, S.FAILED})),
    ("resolved", frozenset({S.RESOLVED, S.RESOLVED_UPSTREAM})),
]
OVERNIGHT = timedelta(hours=12)

#: The component class of each state's label; the theme files colour them.
STATE_CLASS = {
    S.AWAITING_APPROVAL: "incident--awaiting", S.ESCALATED: "incident--failed",
    S.FAILED: "incident--failed", S.RESOLVED: "incident--resolved",
    S.RESOLVED_UPSTREAM: "incident--resolved", S.CANCELLED: "incident--cancelled",
    S.DIAGNOSING: "incident--active", S.REMEDIATING: "incident--active",
    S.VERIFYING: "incident--active", S.CLAIMED: "incident--active", S.NEW: "incident--new",
}
STATE_LABEL = {S.AWAITING_APPROVAL: "AWAITING", S.RESOLVED_UPSTREAM: "upstream"}


class IncidentTimeline(DataTable[Text | str]):
    """Tasks with state, host, alert, runbook, confidence, age and outcome."""

    COMPONENT_CLASSES = {
        "incident--awaiting", "incident--failed", "incident--resolved", "incident--cancelled",
        "incident--active", "incident--new",
    }
    #: Fallback colours; ``themes/*.tcss`` override them per theme.
    DEFAULT_CSS = """
    IncidentTimeline > .incident--awaiting { color: ansi_yellow; text-style: bold; }
    IncidentTimeline > .incident--failed { color: ansi_red; text-style: bold; }
    IncidentTimeline > .incident--resolved { color: ansi_green; }
    IncidentTimeline > .incident--cancelled { text-style: dim; }
    IncidentTimeline > .incident--active { color: ansi_cyan; }
    """
    BINDINGS = [
        Binding("v", "cycle_filter", "State filter"),
        Binding("o", "overnight", "Overnight"),
    ]

    def __init__(self, clock: Callable[[], datetime], *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.clock = clock
        self.snap = Snapshot()
        self.filter_index = 0
        self.overnight = False
        self.host: str | None = None
        self._pending = False
        self._selected: str | None = None

    def on_mount(self) -> None:
        """Set up the columns."""
        for label, key in (("state", "state"), ("host", "host"), ("alert", "alert"),
                           ("age", "age"), ("conf", "conf"), ("runbook", "runbook"),
                           ("outcome", "outcome"), ("task", "id")):
            self.add_column(label, key=key)
        self._update_title()

    # -- data ----------------------------------------------------------------------
    def set_snapshot(self, snap: Snapshot) -> None:
        """Show the tasks of ``snap``."""
        self.snap = snap
        self.rebuild()

    def schedule_rebuild(self) -> None:
        """Rebuild soon, once, however many changes arrive meanwhile."""
        if not self._pending:
            self._pending = True
            self.set_timer(0.2, self.rebuild)

    def visible_tasks(self) -> list[Task]:
        """The tasks the current filters show, in display order."""
        states = FILTERS[self.filter_index][1]
        tasks = self.snap.incidents(states, self.host)
        if self.overnight:
            since = self.clock() - OVERNIGHT
            tasks = [t for t in tasks if t.created_at >= since or (t.finished_at or since) > since]
        return tasks

    def rebuild(self) -> None:
        """Redraw every row, keeping the selected task under the cursor."""
        self._pending = False
        keep = self.selected_task_id()
        now = self.clock()
        self.clear()
        for t in self.visible_tasks():
            conf = f"{t.confidence:.2f}" if t.confidence is not None else "-"
            outcome = self.snap.decided_by(t.id) or t.outcome or ""
            # Text, not str: DataTable reads a str as markup, and these come from alerts
            self.add_row(
                Text(STATE_LABEL.get(t.state, str(t.state)), style=self._state_style(t.state)),
                *(Text(printable(v)) for v in (t.host, t.alertname)), age(t.created_at, now),
                conf, *(Text(printable(v)) for v in (t.runbook or "-", outcome, t.id)),
                key=t.id,
            )
        if keep is not None and keep in self.rows:
            self.move_cursor(row=self.get_row_index(keep), animate=False)
        self._update_title()

    def _state_style(self, state: TaskState) -> Style:
        cls = STATE_CLASS.get(state)
        return self.get_component_rich_style(cls, partial=True) if cls else Style()

    def _update_title(self) -> None:
        parts = [f"incidents · {FILTERS[self.filter_index][0]}"]
        if self.overnight:
            parts.append("overnight")
        if self.host:
            parts.append(f"host {printable(self.host)}")
        self.border_title = Text(" · ".join(parts))  # Text: a str title is read as markup
        waiting = sum(1 for t in self.snap.tasks.values() if t.state is S.AWAITING_APPROVAL)
        self.border_subtitle = f"{waiting} awaiting approval" if waiting else ""

    def selected_task_id(self) -> str | None:
        """The task under the cursor."""
        if self.row_count == 0:
            return None
        try:
            return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
        except Exception:  # the table is being rebuilt
            return None

    def select_task(self, task_id: str) -> bool:
        """Move the cursor to a task if it is shown."""
        if task_id not in self.rows:
            return False
        self.move_cursor(row=self.get_row_index(task_id), animate=False)
        return True

    # -- actions -------------------------------------------------------------------
    def action_cycle_filter(self) -> None:
        """Next state filter."""
        self.filter_index = (self.filter_index + 1) % len(FILTERS)
        self.rebuild()

    def action_overnight(self) -> None:
        """Toggle the overnight view: only the last 12 hours."""
        self.overnight = not self.overnight
        self.rebuild()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Tell the app which task is selected (only when it changed)."""
        event.stop()
        # the row under the cursor now, not the event's: a rebuild clears the table (the
        # cursor passes row 0) and then restores the selection, and both highlights are
        # handled afterwards; reading the cursor keeps the selection (and the transcript)
        task_id = self.selected_task_id()
        if task_id != self._selected:
            self._selected = task_id
            self.post_message(TaskSelected(task_id))
