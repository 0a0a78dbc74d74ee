"""The fleet grid: every host as a compact tile, grouped by role, in ONE widget.

A :class:`~textual.scroll_view.ScrollView` using the line API: it keeps a list of
rows (:mod:`.layout`) and renders only the lines on screen, so 1,000 hosts cost
the same per frame as 10. Colours come from component classes styled by the
theme files.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ccm_tui.app.format import clip, level, pct, sparkline
from ccm_tui.app.messages import HostSelected
from ccm_tui.app.model import Snapshot
from ccm_tui.app.widgets.fleet.layout import GAP, TILE_H, TILE_W, Row, SortKey, build_rows, row_at
from ccm_tui.core.states import TaskState
from ccm_tui.core.text import printable

#: The badge of a host with an open task, by the task's state.
BADGES = {
    TaskState.NEW: "new", TaskState.CLAIMED: "claim", TaskState.DIAGNOSING: "diag",
    TaskState.AWAITING_APPROVAL: "APPROVE", TaskState.REMEDIATING: "fix",
    TaskState.VERIFYING: "verify",
}
SPARK_W = 6


class FleetGrid(ScrollView, can_focus=True):
    """Host tiles grouped by role; arrows move, enter selects, ``s`` sorts."""

    COMPONENT_CLASSES = {
        "fleet--ok", "fleet--warning", "fleet--critical", "fleet--unreachable",
        "fleet--working", "fleet--group", "fleet--cursor", "fleet--dim", "fleet--badge",
        "fleet--approve",
    }
    BINDINGS = [
        Binding("left", "move(-1, 0)", "Left", show=False),
        Binding("right", "move(1, 0)", "Right", show=False),
        Binding("up", "move(0, -1)", "Up", show=False),
        Binding("down", "move(0, 1)", "Down", show=False),
        Binding("enter", "select", "Open host", show=False),
        Binding("s", "sort", "Sort"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.snap = Snapshot()
        self.filter_text = ""
        self.sort_key = SortKey.NAME
        self.rows: list[Row] = []
        self.cursor: str | None = None

    # -- data ----------------------------------------------------------------------
    def set_snapshot(self, snap: Snapshot) -> None:
        """Show ``snap`` (kept by reference: call :meth:`refresh_data` after changes)."""
        self.snap = snap
        self.refresh_data()

    def set_filter(self, text: str) -> None:
        """Show only hosts whose name, group or status contains ``text``."""
        self.filter_text = text.strip()
        self.refresh_data()

    def refresh_data(self) -> None:
        """Rebuild the rows after the snapshot, the filter, the sort or the width changed."""
        width = max(self.scrollable_content_region.width, TILE_W)
        self.rows, height = build_rows(self.snap, width, self.filter_text, self.sort_key)
        order = self.order()
        if self.cursor not in order:
            self.cursor = order[0] if order else None
        self.virtual_size = Size(width, height)
        self.refresh()

    def order(self) -> list[str]:
        """The hosts on the grid, in reading order."""
        return [h for r in self.rows for h in r.hosts]

    def on_resize(self, event: events.Resize) -> None:
        """Reflow the tiles to the new width."""
        self.refresh_data()

    # -- navigation ----------------------------------------------------------------
    def _position(self, name: str) -> tuple[int, int] | None:
        for i, row in enumerate(self.rows):
            if name in row.hosts:
                return i, row.hosts.index(name)
        return None

    def action_move(self, dx: int, dy: int) -> None:
        """Move the cursor by tiles (dx) or by tile rows (dy)."""
        order = self.order()
        if not order or self.cursor is None:
            return
        before = self.cursor
        if dx:
            i = max(0, min(len(order) - 1, order.index(self.cursor) + dx))
            self.cursor = order[i]
        else:
            pos = self._position(self.cursor)
            if pos is None:
                return
            i, col = pos
            step = 1 if dy > 0 else -1
            j = i + step
            while 0 <= j < len(self.rows) and self.rows[j].is_header:
                j += step
            if 0 <= j < len(self.rows):
                hosts = self.rows[j].hosts
                self.cursor = hosts[min(col, len(hosts) - 1)]
        self._cursor_moved(before)

    def jump_to(self, name: str) -> bool:
        """Put the cursor on a host (exact name, else the first whose name contains it)."""
        order = self.order()
        target = name if name in order else next((h for h in order if name in h), None)
        if target is None:
            return False
        before, self.cursor = self.cursor, target
        self._cursor_moved(before)
        return True

    def _cursor_moved(self, before: str | None) -> None:
        """Bring the cursor into view and repaint the name lines of the two tiles.

        Only those lines show the cursor; the rest of the grid stays as rendered (a
        whole-grid repaint per arrow key cost milliseconds at 1,000 hosts). Scrolling
        repaints the whole view anyway.
        """
        self._scroll_to_cursor()
        for name in (before, self.cursor):
            pos = self._position(name) if name else None
            if pos is not None:
                self.refresh_line(self.rows[pos[0]].line)

    def _scroll_to_cursor(self) -> None:
        pos = self._position(self.cursor) if self.cursor else None
        if pos is None:
            return
        top = self.rows[pos[0]].line
        height = self.scrollable_content_region.height
        if top < self.scroll_y:
            self.scroll_to(y=max(0, top - 1), animate=False)
        elif top + TILE_H > self.scroll_y + height:
            self.scroll_to(y=top + TILE_H - height, animate=False)

    def action_select(self) -> None:
        """Tell the app which host is selected."""
        if self.cursor:
            self.post_message(HostSelected(self.cursor))

    def action_sort(self) -> None:
        """Cycle the sort: name, status, cpu, disk."""
        self.sort_key = self.sort_key.next()
        self.border_subtitle = f"sort: {self.sort_key}"
        self.refresh_data()

    def on_click(self, event: events.Click) -> None:
        """Select the tile under the mouse."""
        line = int(self.scroll_y) + event.y
        row = row_at(self.rows, line)
        if row is None or row.is_header:
            return
        col = (int(self.scroll_x) + event.x) // (TILE_W + GAP)
        if col < len(row.hosts):
            self.cursor = row.hosts[col]
            self.refresh()
            self.action_select()

    # -- rendering -----------------------------------------------------------------
    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(name, partial=True)

    def render_line(self, y: int) -> Strip:
        """One screen line: a group header or one line of a row of tiles."""
        width = self.scrollable_content_region.width
        line = int(self.scroll_y) + y
        row = row_at(self.rows, line)
        base = self.rich_style
        if row is None:
            return Strip.blank(width, base)
        if row.is_header:
            count = sum(len(r.hosts) for r in self.rows if r.group == row.group)
            text = clip(f"▌{printable(row.group)} · {count} host{'s' if count != 1 else ''}",
                        width)
            return Strip([Segment(text, base + self._style("fleet--group"))], width)
        sub = line - row.line
        segments: list[Segment] = []
        for name in row.hosts:
            segments.extend(self._tile_line(name, sub, base))
            segments.append(Segment(" " * GAP, base))
        strip = Strip(segments).crop(int(self.scroll_x), int(self.scroll_x) + width)
        return strip.extend_cell_length(width, base)

    def _tile_line(self, name: str, sub: int, base: Style) -> list[Segment]:
        snap = self.snap
        latest = snap.latest(name)
        if sub == 0:
            status = snap.host_status(name)
            style = base + self._style(f"fleet--{status}")
            if name == self.cursor and self.has_focus:
                style += self._style("fleet--cursor")
            elif name == self.cursor:
                style += Style(underline=True)
            task = snap.active_task(name)
            badge = BADGES.get(task.state, "") if task else ""
            badge_style = "fleet--approve" if badge == "APPROVE" else "fleet--badge"
            name_w = TILE_W - 2 - (cell_len(badge) + 1 if badge else 0)
            segs = [Segment("● ", style), Segment(clip(printable(name), name_w), style)]
            if badge:
                segs += [Segment(" ", base), Segment(badge, base + self._style(badge_style))]
            return segs
        hist = snap.history.get(name, [])
        if sub == 1:
            return [*self._metric("cpu", [h.cpu_pct for h in hist], base), Segment(" ", base),
                    *self._metric("mem", [h.mem_pct for h in hist], base), Segment(" ", base)]
        if latest is not None and not latest.reachable:  # say why the figures stopped
            tail = clip(" no login" if latest.access_refused else " unreachable", TILE_W - 13)
            return [*self._metric("dsk", [h.disk_pct for h in hist], base),
                    Segment(tail, base + self._style("fleet--critical"))]
        load = latest.load1 if latest else None
        tail = clip(f" ld {load:5.2f}" if load is not None else "", TILE_W - 13)
        return [*self._metric("dsk", [h.disk_pct for h in hist], base),
                Segment(tail, base + self._style("fleet--dim"))]

    def _metric(self, label: str, values: list[float | None], base: Style) -> list[Segment]:
        value = values[-1] if values else None
        lvl = level(value)
        value_style = base + self._style(f"fleet--{lvl}") if lvl != "ok" else base
        return [Segment(label, base + self._style("fleet--dim")),
                Segment(sparkline(values, SPARK_W), value_style),
                Segment(pct(value), value_style)]
