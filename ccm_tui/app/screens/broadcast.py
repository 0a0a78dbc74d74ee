"""Broadcast from the palette: ask for a host pattern and a command, run it, group the outputs.

:class:`BroadcastPrompt` asks; :class:`BroadcastScreen` runs the command with the
engine of ``ccm run`` (:func:`ccm_tui.fleet.broadcast.broadcast` over an
:class:`~ccm_tui.fleet.ssh.SSHPool`) in a worker, shows each host as it finishes,
then the grouped summary (``47 identical · 2 differ · 1 unreachable``) with failed
hosts first. The highlighted host's output shows on the right. The run is recorded
in the hub's audit log like ``ccm run``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Label, ProgressBar, Static

from ccm_tui.app import messages as m
from ccm_tui.app.fleet_access import AUDIT_ACTION, FleetAccess, audit_detail
from ccm_tui.core.errors import CCMError
from ccm_tui.core.text import plural, printable
from ccm_tui.fleet.broadcast import BroadcastReport, broadcast
from ccm_tui.fleet.hostlist import fold
from ccm_tui.fleet.ssh_types import RunResult
from ccm_tui.hub.base import Hub

PREVIEW_LINES = 3
PENDING = Text("running…", style="dim")


@dataclass(frozen=True, slots=True)
class BroadcastRequest:
    """What to run, where."""

    pattern: str
    command: str


class BroadcastPrompt(ModalScreen[BroadcastRequest | None]):
    """Two fields: the host pattern and the command; ``enter`` runs, ``escape`` cancels."""

    DEFAULT_CSS = """
    BroadcastPrompt { align: center middle; }
    BroadcastPrompt > Vertical { width: 80; max-width: 95%; height: auto;
        border: thick $warning; background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        """A title, the pattern and the command."""
        with Vertical():
            yield Label("Broadcast a command")
            yield Input(placeholder="hosts: web-*, group:db, label:env=prod, all",
                        id="bc-pattern")
            yield Input(placeholder="command, as you would type it on each host",
                        id="bc-command")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter on the pattern moves to the command; on the command, runs (if both are set)."""
        event.stop()
        pattern = self.query_one("#bc-pattern", Input).value.strip()
        command = self.query_one("#bc-command", Input).value.strip()
        if event.input.id == "bc-pattern" and not command:
            self.query_one("#bc-command", Input).focus()
        elif pattern and command:
            self.dismiss(BroadcastRequest(pattern, command))
        else:
            self.query_one("#bc-pattern" if not pattern else "#bc-command", Input).focus()

    def action_cancel(self) -> None:
        """Nothing runs."""
        self.dismiss(None)


def result_text(r: RunResult) -> Text:
    """``ok``, ``exit 3``, ``unreachable``… coloured."""
    if r.error is not None:
        return Text(r.error_label, style="bold red")
    if r.exit_status == 0:
        return Text("ok", style="green")
    if r.exit_status is None:
        return Text("no exit status", style="bold red")
    label = f"signal {-r.exit_status}" if r.exit_status < 0 else f"exit {r.exit_status}"
    return Text(label, style="bold red")


def output_text(r: RunResult) -> Text:
    """A host's whole result: status line, stdout, stderr and the error."""
    out = Text.assemble((r.host, "bold"), " · ", result_text(r), f" · {r.duration:.2f}s\n")
    if r.stdout:
        out.append(r.stdout.rstrip("\n") + "\n")
    for line in r.stderr.rstrip("\n").splitlines():
        out.append(f"stderr: {line}\n", style="red")
    if r.error:
        out.append(r.error + "\n", style="red")
    return out


def _hosts(names: Sequence[str], most: int = 6) -> str:
    """Host names folded into ranges (web-[01-40]), the first ``most`` terms of them."""
    terms = fold(names)
    more = f" … ({len(names)} hosts)" if len(terms) > most else ""
    return ", ".join(terms[:most]) + more


def summary_text(report: BroadcastReport, unrecorded: str) -> Text:
    """The summary line, then each output group with a short preview."""
    out = Text(report.summary_line(), style="bold")
    out.append(f"  ({report.duration:.1f}s, {plural(len(report.results), 'host')})\n", style="dim")
    for i, g in enumerate(report.groups):
        label = "identical" if i == 0 and report.identical else "differs"
        status = "no exit status" if g.exit_status is None else f"exit {g.exit_status}"
        style = "green" if g.exit_status == 0 else "yellow"
        out.append(f"{g.size} × {status} · {label}: ", style=style)
        out.append(_hosts(g.hosts) + "\n")
        for line in g.stdout.rstrip("\n").splitlines()[:PREVIEW_LINES]:
            out.append(f"    {line}\n", style="dim")
    problems = (report.unreachable + report.refused + report.timed_out + report.cut_off
                + report.not_started)
    if problems:
        out.append(f"{len(problems)} not run to completion: ", style="red")
        out.append(_hosts([r.host for r in problems]) + "\n")
    out.append("not recorded in the hub: " + unrecorded if unrecorded else
               "recorded in the hub's audit log (ccm run --retry-failed reruns the failed)",
               style="red" if unrecorded else "dim")
    return out


class BroadcastScreen(Screen[None]):
    """Live per-host progress, then the grouped summary; the highlighted host's output."""

    DEFAULT_CSS = """
    BroadcastScreen #bc-head { height: 1; padding: 0 1; background: $panel; }
    BroadcastScreen #bc-bar { height: 1; padding: 0 1; }
    BroadcastScreen #bc-body { height: 1fr; }
    BroadcastScreen #bc-hosts { width: 1fr; height: 1fr; }
    BroadcastScreen #bc-output-box { width: 2fr; height: 1fr; }
    BroadcastScreen #bc-summary { height: auto; max-height: 40%; padding: 0 1;
        border-top: solid $primary; }
    """
    BINDINGS = [Binding("escape", "close", "Close (stops a run)")]

    def __init__(self, hub: Hub, access: FleetAccess, request: BroadcastRequest, *,
                 actor: str) -> None:
        super().__init__()
        self.hub = hub
        self.access = access
        self.request = request
        self.actor = actor
        self.results: dict[str, RunResult] = {}
        self.report: BroadcastReport | None = None
        self.unrecorded = ""
        self.error = ""

    def compose(self) -> ComposeResult:
        """Header, progress, hosts and output side by side, summary, footer."""
        yield Static(Text.assemble(("broadcast ", "bold"), (self.request.command, "bold cyan"),
                                   " on ", (self.request.pattern, "bold")), id="bc-head")
        yield ProgressBar(id="bc-bar", show_eta=False)
        with Horizontal(id="bc-body"):
            yield DataTable[Text | str](id="bc-hosts", cursor_type="row")
            with VerticalScroll(id="bc-output-box"):
                yield Static(Text("select a host to see its output", style="dim"),
                             id="bc-output")
        yield Static(Text("connecting…", style="dim"), id="bc-summary")
        yield Footer()

    def on_mount(self) -> None:
        """Columns, then start the run."""
        table = self.table
        for label, key in (("host", "host"), ("result", "result"), ("time", "time"),
                           ("group", "group")):
            table.add_column(label, key=key)
        table.focus()
        self.run_broadcast()

    @property
    def table(self) -> DataTable[Text | str]:
        return self.query_one("#bc-hosts", DataTable)

    @property
    def done(self) -> bool:
        """The run finished (or could not start)."""
        return self.report is not None or bool(self.error)

    @work(group="broadcast", exclusive=True)
    async def run_broadcast(self) -> None:
        """Load the inventory, run on the matching hosts, record the run in the hub."""
        req, access = self.request, self.access
        try:
            inventory = await asyncio.to_thread(access.load)
            hosts = inventory.select(req.pattern)
        except CCMError as exc:
            self.post_message(m.BroadcastFailed(f"{exc} — {exc.hint}" if exc.hint else str(exc)))
            return
        if not hosts:
            self.post_message(m.BroadcastFailed(
                f"no host matches {req.pattern!r} ({plural(len(inventory), 'host')} in the inventory)"))
            return
        self.post_message(m.BroadcastStarted([h.name for h in hosts]))

        def progress(result: RunResult) -> None:
            self.post_message(m.BroadcastProgress(result))

        async with access.pool(inventory) as pool:
            report = await broadcast(pool, hosts, req.command, forks=access.forks,
                                     timeout=access.timeout, pattern=req.pattern,
                                     on_result=progress)
        unrecorded = ""
        try:
            await self.hub.audit(self.actor, AUDIT_ACTION, req.pattern,
                                 audit_detail(report, access.forks, access.timeout))
        except CCMError as exc:
            unrecorded = str(exc)
        self.post_message(m.BroadcastFinished(report, unrecorded))

    def on_broadcast_started(self, message: m.BroadcastStarted) -> None:
        """One row per host, all running."""
        self.query_one(ProgressBar).update(total=len(message.hosts), progress=0)
        for name in message.hosts:
            self.table.add_row(name, PENDING, "", "", key=name)
        self.query_one("#bc-summary", Static).update(
            Text(f"running on {plural(len(message.hosts), 'host')}…", style="dim"))

    def on_broadcast_progress(self, message: m.BroadcastProgress) -> None:
        """A host finished: its row, the bar, and its output if it is highlighted."""
        r = message.result
        self.results[r.host] = r
        self.table.update_cell(r.host, "result", result_text(r))
        self.table.update_cell(r.host, "time", f"{r.duration:.1f}s")
        self.query_one(ProgressBar).advance(1)
        failed = sum(1 for x in self.results.values() if not x.ok)
        total = self.query_one(ProgressBar).total or 0
        self.query_one("#bc-summary", Static).update(Text.assemble(
            f"{len(self.results)}/{total:.0f} done", (f" · {failed} failed" if failed else "",
                                                      "bold red")))
        if self._highlighted() == r.host:
            self._show(r.host)

    def on_broadcast_finished(self, message: m.BroadcastFinished) -> None:
        """The summary; failed hosts first, the first one's output shown."""
        report = self.report = message.report
        self.unrecorded = message.unrecorded
        for i, g in enumerate(report.groups):
            label = "identical" if i == 0 and report.identical else f"differs #{i}"
            for host in g.hosts:
                self.table.update_cell(host, "group", label)
        rank = {r.host: (r.ok, i) for i, r in enumerate(report.results)}
        self.table.sort("host", key=lambda host: rank.get(str(host), (True, 0)))
        self.table.move_cursor(row=0, animate=False)
        self.query_one("#bc-summary", Static).update(summary_text(report, message.unrecorded))
        if (first := self._highlighted()) is not None:
            self._show(first)
        self.notify(report.summary_line(), title="broadcast",
                    severity="information" if report.ok else "warning")

    def on_broadcast_failed(self, message: m.BroadcastFailed) -> None:
        """Say why nothing ran."""
        self.error = message.error
        self.query_one("#bc-summary", Static).update(Text(message.error, style="bold red"))
        self.notify(printable(message.error), title="broadcast", severity="error", markup=False)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Show the highlighted host's output."""
        if event.row_key is not None and event.row_key.value is not None:
            self._show(str(event.row_key.value))

    def _highlighted(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return str(key) if key is not None else None

    def _show(self, host: str) -> None:
        r = self.results.get(host)
        self.query_one("#bc-output", Static).update(
            output_text(r) if r else Text(f"{host}: still running…", style="dim"))
        self.query_one("#bc-output-box").border_title = Text(printable(host))

    def action_close(self) -> None:
        """Back to the main screen (a run still going is cancelled)."""
        self.app.workers.cancel_group(self, "broadcast")
        self.dismiss(None)


__all__ = ["BroadcastPrompt", "BroadcastRequest", "BroadcastScreen", "output_text",
           "summary_text"]
