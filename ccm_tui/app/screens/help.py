"""``?``: every key of the control centre, from the live bindings."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

#: Every key, by area. The test checks each binding of the app appears here.
KEYS: list[tuple[str, list[tuple[str, str]]]] = [
    ("Everywhere", [
        ("?", "this help"), ("q / ctrl+c", "quit"), ("ctrl+t", "next theme (dark, light, high-contrast)"),
        ("ctrl+p", "command palette: broadcast a command, summary, Textual's own"),
        ("m", "morning summary"), ("tab / shift+tab", "next / previous pane"),
        ("1 / 2 / 3", "focus the fleet, the incidents, the transcript"),
        ("z", "maximise the focused pane (again to restore)"),
    ]),
    ("Fleet grid", [
        ("arrows", "move between hosts"), ("enter / click", "show the host's incidents"),
        ("/", "filter hosts by name, group or status; enter jumps to the first match"),
        ("s", "sort: name, status, cpu, disk"), ("escape", "clear the filter"),
    ]),
    ("Incidents", [
        ("up / down", "select an incident (its transcript opens)"),
        ("v", "state filter: all, awaiting approval, active, escalated/failed, resolved"),
        ("o", "overnight view: the last 12 hours"), ("x", "show every host again"),
    ]),
    ("Transcript", [
        ("F", "follow mode on / off"), ("ctrl+f", "search the transcript"),
    ]),
    ("Decisions (selected incident)", [
        ("a", "approve the proposed fix"), ("r", "reject it (with a short note)"),
        ("e", "escalate (with a short note)"),
        ("t", "jump into the agent's tmux session on its host"),
    ]),
    ("Broadcast (ctrl+p, \"Broadcast a command…\")", [
        ("enter", "hosts pattern → command → run"),
        ("up / down", "a host: its output on the right (failed hosts first)"),
        ("escape", "back (stops a run still going)"),
    ]),
]


def keys_table() -> Table:
    """The key reference as a rich table."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for area, keys in KEYS:
        table.add_row(f"[reverse] {area} [/]", "")
        for key, what in keys:
            table.add_row(key, what)
        table.add_row("", "")
    return table


class HelpScreen(ModalScreen[None]):
    """The key reference; any of ``escape``, ``q`` or ``?`` closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90; max-width: 100%; height: auto; max-height: 100%;
                                  border: round $primary; background: $surface; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape", "dismiss", "Close"), Binding("q", "dismiss", "Close", show=False),
        Binding("question_mark", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        """The table, scrollable."""
        with VerticalScroll() as box:
            box.border_title = "keys"
            yield Static(keys_table())
