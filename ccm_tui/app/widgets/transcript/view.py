"""The agent transcript: the selected task's events, streaming live.

A :class:`~textual.widgets.RichLog` fed event by event. Follow mode (``F``)
keeps the newest line in view; search (``ctrl+f``) shows only the lines that
contain the text. Events are kept by ``seq``: a gap (an event missed between the
first load and the subscription) asks the app to fetch the missing ones.

Live events are written in batches, every :data:`FLUSH_EVERY` seconds: an agent
printing 100 lines a second would otherwise scroll and redraw the pane on every
frame, a third of the app's CPU, for a difference no one can see.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import Reactive
from textual.widgets import RichLog

from ccm_tui.core.model import Event
from ccm_tui.core.text import printable
from ccm_tui.rendering.transcript import render_event

#: A redraw (another task, a search cleared) writes at most this many of the newest events;
#: search still looks at every event. Bounds the cost of a long, busy transcript.
REDRAW_EVENTS = 1000
#: Seconds between writes of the live events that arrived meanwhile.
FLUSH_EVERY = 0.1
#: Narrowest width lines are wrapped at; a narrower pane scrolls sideways.
MIN_WIDTH = 20


class TranscriptView(RichLog):
    """A task's transcript, with follow mode and search."""

    BINDINGS = [Binding("F", "toggle_follow", "Follow")]

    #: RichLog grows its virtual size with every line it writes, and Textual's own
    #: reactive asks for a layout of the whole screen on each change: with events
    #: streaming in, a reflow every frame, which repaints every scrollbar on screen
    #: (the fleet grid's and the timeline's too). A longer transcript only needs its
    #: own scrollbars updated; a scrollbar appearing or going still lays the screen out
    #: (``show_vertical_scrollbar`` is a layout reactive).
    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    def watch_virtual_size(self, size: Size) -> None:
        self._scroll_update(size)

    @dataclass
    class Gap(Message):
        """Events after ``after_seq`` of ``task_id`` are missing: load them."""

        task_id: str
        after_seq: int

    def __init__(self, *, id: str | None = None) -> None:
        # min_width: RichLog's default (78) wraps every line at 78 cells however narrow the
        # pane, so on an 80-column terminal each line ran off the right edge.
        super().__init__(id=id, wrap=True, markup=False, highlight=False, auto_scroll=True,
                         max_lines=20 * REDRAW_EVENTS, min_width=MIN_WIDTH)
        self.task_id: str | None = None
        self.events: dict[int, Event] = {}
        self._last_seq = 0
        self.query_text = ""
        self.loading = False
        self._unwritten: list[Event] = []
        self._wrapped_at = 0

    @property
    def follow(self) -> bool:
        """Whether new lines scroll into view."""
        return self.auto_scroll

    @property
    def last_seq(self) -> int:
        """The highest ``seq`` received (on screen within :data:`FLUSH_EVERY`)."""
        return self._last_seq

    def show(self, task_id: str | None, title: str = "") -> None:
        """Switch to another task (its events arrive with :meth:`merge`)."""
        self.task_id = task_id
        self.events = {}
        self._last_seq = 0
        self.loading = task_id is not None
        # a Text, not a string Textual reads as markup: the title holds an alert's names
        self.border_title = Text(f"transcript · {printable(title)}" if title else "transcript")
        self._redraw()

    def merge(self, task_id: str, events: list[Event]) -> None:
        """Add loaded events (any order, duplicates ignored) and redraw."""
        if task_id != self.task_id:
            return
        self.loading = False
        for e in events:
            self.events[e.seq] = e
        self._last_seq = max(self.events, default=0)
        self._redraw()

    def add(self, event: Event) -> None:
        """One live event; appended if it is the next one, else the transcript catches up."""
        if event.task_id != self.task_id or event.seq in self.events:
            return
        last = self.last_seq
        self.events[event.seq] = event
        self._last_seq = max(last, event.seq)
        if self.loading:
            return
        if event.seq < last:
            self._redraw()
            return
        if event.seq > last + 1:
            self.post_message(self.Gap(event.task_id, last))
        self._unwritten.append(event)
        if len(self._unwritten) == 1:
            self.set_timer(FLUSH_EVERY, self._flush)

    def on_resize(self, event: events.Resize) -> None:
        """Lines are wrapped when written: a new width re-wraps them (at most
        :data:`REDRAW_EVENTS` events). RichLog's own handler runs after this one."""
        width = self.scrollable_content_region.width
        if width != self._wrapped_at and self.events:
            self._redraw()
        self._wrapped_at = width

    def _flush(self) -> None:
        """Write the live events that arrived since the last flush."""
        unwritten, self._unwritten = self._unwritten, []
        for event in unwritten:
            self._write(event)

    def set_search(self, text: str) -> None:
        """Show only lines containing ``text`` (empty: everything)."""
        self.query_text = text.strip()
        self._redraw()

    def action_toggle_follow(self) -> None:
        """Follow mode on or off."""
        self.auto_scroll = not self.auto_scroll
        if self.auto_scroll:
            self.scroll_end(animate=False)
        self._subtitle()

    def _subtitle(self) -> None:
        parts = ["follow" if self.auto_scroll else "paused"]
        if self.query_text:
            parts.append(f"search: {self.query_text}")
        self.border_subtitle = " · ".join(parts)

    def _write(self, event: Event) -> None:
        for line in render_event(event):
            if self.query_text:
                if self.query_text.lower() not in line.plain.lower():
                    continue
                line = line.copy()
                line.highlight_words([self.query_text], style="reverse", case_sensitive=False)
            self.write(line, scroll_end=self.auto_scroll)

    def _redraw(self) -> None:
        self._unwritten = []  # all in self.events: written below
        self.clear()
        self._subtitle()
        if self.task_id is None:
            self.write(Text("select an incident to see its transcript", style="dim"))
            return
        if self.loading and not self.events:
            self.write(Text("loading…", style="dim"))
            return
        seqs = sorted(self.events)
        if not self.query_text and len(seqs) > REDRAW_EVENTS:
            self.write(Text(f"… {len(seqs) - REDRAW_EVENTS} earlier events (ctrl+f searches "
                            "them all)", style="dim"))
            seqs = seqs[-REDRAW_EVENTS:]
        for seq in seqs:
            self._write(self.events[seq])
