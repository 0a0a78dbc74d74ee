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
from ccm_tui.core.text import duration, printable
from ccm_tui.notify.report import MorningReport

MAX_LISTED = 5


def _duration(seconds: float | None) -> str:
    return "-" if seconds is None else duration(seconds, fine=True)


def summary_table(s: Summary, report: MorningReport | None = None) -> Table:
    """The summary as a rich table; with ``report``, ``ccm report``'s MTTR and pages."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()

    def names(tasks: list[Task]) -> Text:
        shown = ", ".join(f"{printable(t.host)} {printable(t.alertname)}"
                          for t in tasks[:MAX_LISTED])
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
    if report is not None:
        table.add_row(f"MTTR {_duration(report.mttr_median_seconds)}",
                      f"p90 {_duration(report.mttr_p90_seconds)} · alerts received "
                      f"{report.alerts_received} · pages avoided {report.pages_avoided} "
                      f"(sent {report.pages_sent} of {report.pages_without_ccm})")
    else:
        mttr = s.mttr.total_seconds() if s.mttr is not None else None
        table.add_row(f"MTTR {_duration(mttr)}", f"pages avoided {s.pages_avoided}")
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

    def __init__(self, summary: Summary, title: str,
                 report: MorningReport | None = None) -> None:
        super().__init__()
        self.summary = summary
        self.title_text = title
        self.report = report

    def compose(self) -> ComposeResult:
        """The table, scrollable."""
        with VerticalScroll() as box:
            box.border_title = self.title_text
            yield Static(summary_table(self.summary, self.report))


__all__ = ["SummaryScreen", "summary_table"]
