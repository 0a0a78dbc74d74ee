"""Rich renderings of tasks, events and approvals for the human-facing commands.

Every value that came from outside CCM (alert labels and text, host names, notes,
transcripts) reaches rich through :func:`plain` or :func:`markup_safe`: control
characters shown as escapes, square brackets never taken for markup.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ccm_tui.commands._common import format_duration
from ccm_tui.core.model import Approval, Event, Task, utcnow
from ccm_tui.core.states import TaskState
from ccm_tui.core.text import printable

STATE_STYLES: dict[TaskState, str] = {
    TaskState.NEW: "cyan",
    TaskState.CLAIMED: "blue",
    TaskState.DIAGNOSING: "blue",
    TaskState.AWAITING_APPROVAL: "bold yellow",
    TaskState.REMEDIATING: "magenta",
    TaskState.VERIFYING: "magenta",
    TaskState.RESOLVED: "green",
    TaskState.RESOLVED_UPSTREAM: "green",
    TaskState.ESCALATED: "bold red",
    TaskState.FAILED: "red",
    TaskState.CANCELLED: "dim",
}
SEVERITY_STYLES = {"critical": "bold red", "warning": "yellow", "info": "dim"}


def console(stderr: bool = False) -> Console:
    """A console for human output (colour only on a terminal)."""
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def plain(value: object, style: str = "", *, block: bool = False) -> Text:
    """``value`` (from outside CCM) as rich text: printed literally, ``[bold]`` and all,
    with control characters shown as escapes (:func:`~ccm_tui.core.text.printable`)."""
    return Text(printable(value, block=block), style=style)


def markup_safe(value: object) -> str:
    """``value`` (from outside CCM) for a string that rich reads as markup: control
    characters shown as escapes and square brackets escaped."""
    return escape(printable(value))


def fit_widths(natural: Sequence[int], width: int, overhead: int,
               narrowable: Iterable[int], floor: int = 8) -> list[int]:
    """Column widths that fit ``width`` (``overhead``: the borders and padding): the
    widest column of ``narrowable`` gives way first, down to ``floor``; the others keep
    their ``natural`` width. Rich shrinks every ``no_wrap`` column alike, and drops
    whole columns (the ids, the figures) rather than cut a long host name."""
    widths = list(natural)
    can = list(narrowable)
    excess = sum(widths) + overhead - width
    while excess > 0:
        left = [i for i in can if widths[i] > floor]
        if not left:
            break
        widest = max(left, key=lambda i: widths[i])
        others = [widths[i] for i in left if i != widest]
        cut = min(excess, widths[widest] - floor,
                  max(1, widths[widest] - max(others, default=floor)))
        widths[widest] -= cut
        excess -= cut
    return widths


def without_host(host: str, error: str) -> str:
    """``error`` without the host name it starts with, for a line that names the host."""
    if error.startswith(host) and error[len(host):len(host) + 1] in (" ", ":"):
        return error[len(host):].lstrip(": ")
    return error


#: Hosts sharing one error from which a summary folds them into one line.
FOLD_FROM = 3

_ADDRESS = re.compile(r"^\([^()]*\)\s*")  # "(10.0.0.7:22 via bastion) " after the name


def host_problems(title: str, problems: Sequence[tuple[str, str]]) -> list[RenderableType]:
    """A rule titled ``title``, then ``HOST  error`` lines, the error in full.

    Hosts whose errors read the same once their own name and address are left out
    (a subnet down, a key every host refuses) share one line, their names folded
    (``web-[01-40]  unreachable: connection refused (40 hosts)``), so a hundred
    failures read as the few problems they are; ``--json`` keeps each in full.
    """
    from rich.rule import Rule

    from ccm_tui.fleet.hostlist import folded

    lines: list[RenderableType] = [Rule(Text(title, style="red"), align="left")]
    alike: dict[str, list[str]] = {}
    for host, error in problems:
        alike.setdefault(_ADDRESS.sub("", without_host(host, error)), []).append(host)
    for host, error in problems:
        shared = _ADDRESS.sub("", without_host(host, error))
        hosts = alike.get(shared)
        if hosts is None:  # printed with the first of its hosts
            continue
        if len(hosts) < FOLD_FROM:
            lines.append(Text.assemble(plain(host, "bold"), "  ",
                                       plain(without_host(host, error), "red")))
            continue
        del alike[shared]
        lines.append(Text.assemble(plain(folded(hosts), "bold"), "  ", plain(shared, "red"),
                                   (f" ({len(hosts)} hosts)", "dim")))
    return lines


def state_text(state: TaskState | str) -> Text:
    """A task state in its colour."""
    s = TaskState(state)
    return Text(s.value, style=STATE_STYLES.get(s, ""))


def ago(when: datetime | None, now: datetime | None = None) -> str:
    """``5m ago`` style age of a timestamp ('-' when unknown)."""
    if when is None:
        return "-"
    return format_duration((now or utcnow()) - when) + " ago"


def _stamp(when: datetime | None) -> str:
    if when is None:
        return "-"
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def tasks_table(tasks: Sequence[Task]) -> Table:
    """One row per task: id, state, host, alert, severity, confidence, age, summary."""
    table = Table(box=None, header_style="bold", pad_edge=False, expand=False)
    # Ids, states and numbers never shrink; on a narrow terminal the summary gives way first.
    table.add_column("ID", no_wrap=True, min_width=max((len(t.id) for t in tasks), default=2))
    table.add_column("STATE", no_wrap=True, min_width=max(
        (len(t.state.value) for t in tasks), default=5))
    table.add_column("HOST", no_wrap=True, overflow="ellipsis", min_width=min(20, max(
        (len(t.host) for t in tasks), default=4)))
    table.add_column("ALERT", no_wrap=True, overflow="ellipsis", min_width=min(24, max(
        (len(t.alertname) for t in tasks), default=5)))
    table.add_column("SEV", no_wrap=True, min_width=8)
    table.add_column("CONF", justify="right", no_wrap=True, min_width=4)
    table.add_column("AGE", justify="right", no_wrap=True, min_width=5)
    table.add_column("SUMMARY", overflow="ellipsis", no_wrap=True, max_width=60, ratio=1)
    now = utcnow()
    for t in tasks:
        table.add_row(
            plain(t.id),
            state_text(t.state),
            plain(t.host),
            plain(t.alertname),
            Text(t.severity.value, style=SEVERITY_STYLES.get(t.severity.value, "")),
            f"{t.confidence:.2f}" if t.confidence is not None else "-",
            format_duration(now - t.created_at),
            plain(t.summary or t.note or ""),
        )
    return table


def _kv(rows: Iterable[tuple[str, Any]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for key, value in rows:
        if value in (None, "", {}, []):
            continue
        grid.add_row(key, value if isinstance(value, Text) else plain(value))
    return grid


def task_detail(task: Task) -> RenderableType:
    """A panel with everything about one task, including why it was decided so."""
    rows: list[tuple[str, Any]] = [
        ("state", state_text(task.state)),
        ("host", printable(task.host) + ("" if task.managed else "  (unmanaged)")),
        ("alert", task.alertname),
        ("severity", task.severity.value),
        ("summary", task.summary),
        ("runbook", task.runbook),
        ("confidence", f"{task.confidence:.2f}" if task.confidence is not None else None),
        ("risk", task.risk.value if task.risk else None),
        ("outcome", task.outcome),
        ("note", task.note),
        ("lease", f"{printable(task.lease_owner)} until {_stamp(task.lease_expires_at)}"
         if task.lease_owner else None),
        ("attempts", task.attempts or None),
        ("repeats", task.repeat_count or None),
        ("created", f"{_stamp(task.created_at)}  ({ago(task.created_at)})"),
        ("started", _stamp(task.started_at) if task.started_at else None),
        ("finished", _stamp(task.finished_at) if task.finished_at else None),
        ("version", task.version),
    ]
    parts: list[RenderableType] = [_kv(rows)]
    if task.decision is not None:
        d = task.decision
        why = Text()
        why.append(f"{d.kind.value}", style="bold")
        why.append(f"  confidence {d.confidence:.2f} = evidence {d.evidence_match:.2f}"
                   f" × prior {d.prior:.2f} × {d.risk.value} cap {d.risk_cap:.2f}")
        for reason in d.reasons:
            why.append(f"\n  · {printable(reason)}")
        parts += [Text(""), Text("decision", style="bold"), why]
    return Panel(Group(*parts), title=plain(task.id, "bold"), title_align="left", expand=False)


def transcript(events: Sequence[Event]) -> Group:
    """The transcript as the TUI's transcript pane shows it, one event after another."""
    from ccm_tui.rendering.transcript import render_event

    return Group(*(line for e in events for line in render_event(e)))


def approvals_table(approvals: Sequence[Approval]) -> Table:
    """Who decided what, and when."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("WHEN", no_wrap=True)
    table.add_column("DECISION", no_wrap=True)
    table.add_column("BY", no_wrap=True)
    table.add_column("NOTE")
    for a in approvals:
        table.add_row(_stamp(a.created_at), a.kind.value, plain(a.actor), plain(a.note))
    return table


__all__ = [
    "ago",
    "approvals_table",
    "console",
    "fit_widths",
    "host_problems",
    "markup_safe",
    "plain",
    "state_text",
    "task_detail",
    "tasks_table",
    "transcript",
    "without_host",
]
