"""``m``: the morning summary — what was fixed, what waits for you, what was escalated."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ccm_tui.app.summary import Summary
from ccm_tui.core.model import Task

MAX_LISTED = 5


def _mttr(s: Summary) -> str:
    if s.mttr is None:
        return "-"
    minutes = int(s.mttr.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def summary_table(s: Summary) -> Table:
    """The summary as a rich table."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()

    def names(tasks: list[Task]) -> Text:
        shown = ", ".join(f"{t.host} {t.alertname}" for t in tasks[:MAX_LISTED])
        more = f" … +{len(tasks) - MAX_LISTED}" if len(tasks) > MAX_LISTED else ""
        return Text(shown + more, style="dim")

    rows = [
        ("fixed automatically", s.fixed_auto, "green"),
        ("fixed after approval", s.fixed_approved, "green"),
        ("waiting for you", s.waiting, "bold yellow"),
        ("escalated", s.escalated, "red"),
        ("failed", s.failed, "red"),
    ]
    for label, tasks, style in rows:
        table.add_row(Text(f"{len(tasks):>4}  {label}", style=style), names(tasks))
    table.add_row("", "")
    table.add_row(f"MTTR {_mttr(s)}", f"pages avoided {s.pages_avoided}")
    table.add_row("new runbook drafts", Text("- (drafting comes with the investigator)", style="dim"))
    return table


class SummaryScreen(ModalScreen[None]):
    """The summary of what happened since ``since``; ``escape``, ``m`` or ``q`` close it."""

    DEFAULT_CSS = """
    SummaryScreen { align: center middle; }
    SummaryScreen > VerticalScroll { width: 100; max-width: 100%; height: auto;
        max-height: 100%; border: round $success; background: $surface; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape", "dismiss", "Close"), Binding("m", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def __init__(self, summary: Summary, title: str) -> None:
        super().__init__()
        self.summary = summary
        self.title_text = title

    def compose(self) -> ComposeResult:
        """The table, scrollable."""
        with VerticalScroll() as box:
            box.border_title = self.title_text
            yield Static(summary_table(self.summary))


__all__ = ["SummaryScreen", "summary_table"]
