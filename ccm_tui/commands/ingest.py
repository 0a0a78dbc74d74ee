"""``ccm ingest record`` and ``replay``: record a night of alerts, play it through ingest."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ccm_tui.commands._common import format_duration, print_json, redact_url, run_hub, settings

if TYPE_CHECKING:

    from ccm_tui.hub.base import Hub
    from ccm_tui.ingest.replay import ReplaySummary

app = typer.Typer(help="Alert ingest tools: record webhook requests to a trace, and replay one.",
                  no_args_is_help=True)

#: Traces longer than this get a progress bar (on a terminal).
PROGRESS_FROM = 200
#: Rows of the tasks-per-host table (the JSON has them all).
HOSTS_SHOWN = 12


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int, int], None] | None]:
    if total <= PROGRESS_FROM or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from ccm_tui.commands._render import console

    with Progress("replaying", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console(stderr=True), transient=True) as bar:
        job = bar.add_task("replay", total=total)
        yield lambda done, _total: bar.update(job, completed=done)


@contextmanager
def _reading(name: str) -> Iterator[None]:
    """A spinner on a terminal while a trace is read and checked (a large one takes a while)."""
    if not sys.stderr.isatty():
        yield
        return
    from ccm_tui.commands._render import console

    with console(stderr=True).status(f"reading {name}…"):
        yield


@contextmanager
def _scratch_hub() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="ccm-replay-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'hub.db'}"


@app.command("replay")
def replay(
    ctx: typer.Context,
    trace: Annotated[str, typer.Argument(
        metavar="TRACE", help="The trace: JSON lines of timestamped webhook requests, "
        "maybe gzip'd; - reads standard input "
        "(format: docs/ingest.md, \"The trace format\").")],
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the summary as JSON (its keys: docs/ingest.md).")] = False,
    sort: Annotated[bool, typer.Option(
        "--sort", help="Replay the lines in time order (stable), for a trace whose ts goes "
        "backwards, e.g. two recordings concatenated; without it such a trace is refused.")
    ] = False,
    scratch: Annotated[bool, typer.Option(
        "--scratch/--into-hub", help="Replay into a throwaway SQLite hub, removed afterwards "
        "(the default), or into the configured hub (--hub, CCM_HUB, config.toml), where "
        "the trace's hosts, silences, alerts and tasks stay — and a daemon on that hub "
        "would start working on those tasks.")] = True,
) -> None:
    """Replay recorded alerts: what was received, tasked, paged and suppressed.

    Each request goes through the receiver's own parsers and noise
    reduction, on the trace's clock, in a throwaway hub: yours is not
    touched. With --into-hub the trace lands in the configured hub instead
    (to seed a test hub; a hub that has seen the trace already counts its
    alerts as duplicates, which make no task).

    The whole trace is checked first: a bad line stops the run, naming the
    line, and nothing is replayed. A request the receiver would refuse is
    not a bad line: it is replayed, and listed as rejected.
    """
    from datetime import timedelta

    from ccm_tui.ingest.pipeline import IngestSettings
    from ccm_tui.ingest.replay import replay as run_replay
    from ccm_tui.ingest.trace import read_trace

    hook = settings(ctx).webhook  # replay as the configured receiver would
    noise = IngestSettings(flap_threshold=hook.flap_threshold,
                           flap_window=timedelta(minutes=hook.flap_window_minutes))
    name = "<stdin>" if trace == "-" else trace
    with _reading(name):
        lines = read_trace(trace, ordered=not sort)
    played = [0]

    def go(url: str) -> ReplaySummary:
        async def play(hub: Hub) -> ReplaySummary:
            with _progress(len(lines)) as bar:
                def progress(done: int, total: int) -> None:
                    played[0] = done
                    if bar is not None:
                        bar(done, total)

                return await run_replay(hub, lines, trace=name, settings=noise,
                                        max_body=hook.max_body_bytes, progress=progress)

        return run_hub(url, play)

    try:
        if scratch:
            with _scratch_hub() as url:
                summary = go(url)
            summary.hub = "scratch (removed)"
        else:
            summary = go(settings(ctx).hub)
            summary.hub = redact_url(summary.hub)
    except KeyboardInterrupt:
        where = f"after {played[0]} of {len(lines)} trace lines"
        if played[0]:
            where += f" (line {lines[played[0] - 1].lineno})"
        typer.echo(f"ccm: interrupted {where}; " + (
            "nothing was kept (the replay used a throwaway hub)" if scratch else
            "the hub keeps what was replayed, and a new replay of this trace into it "
            "counts those alerts as duplicates"), err=True)
        raise typer.Exit(130) from None
    if as_json:
        print_json(as_dict(summary))
    else:
        render(summary)


def as_dict(s: ReplaySummary) -> dict[str, object]:
    """The summary as JSON data, with the derived figures spelled out."""
    from ccm_tui.commands._common import to_jsonable

    data: dict[str, object] = to_jsonable(s)
    data["span_seconds"] = s.span.total_seconds()
    data["suppressed"] = s.suppressed
    data["task_ratio"] = round(s.task_ratio, 4)
    pages = dict(to_jsonable(s.pages))
    pages["avoided"] = s.pages.avoided
    data["pages"] = pages
    return data


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def render(s: ReplaySummary) -> None:
    """The summary as tables, for a person (alert data is escaped: it is not markup, and
    its control characters show as escapes)."""
    from rich.table import Table

    from ccm_tui.commands._render import console
    from ccm_tui.commands._render import markup_safe as e

    out = console()
    span = format_duration(s.span)
    when = "-"
    if s.first_ts and s.last_ts:
        end = "%H:%M" if s.first_ts.date() == s.last_ts.date() else "%Y-%m-%d %H:%M"
        when = f"{s.first_ts:%Y-%m-%d %H:%M}Z → {s.last_ts.strftime(end)}Z"
    out.print(f"[bold]{e(s.trace)}[/]: {_n(s.requests, 'request')} over {span} ({when}) into "
              f"{e(s.hub)}; {_n(s.hosts_registered, 'host')} registered, "
              f"{_n(s.silences_added, 'silence')} added")
    if not s.hosts_known and s.alerts_received:
        out.print("[yellow]the hub knows no hosts, so every alert counted as unmanaged: add an "
                  "inventory line to the trace (`ccm ingest record` writes one from "
                  "--inventory; see docs/ingest.md)[/]")

    def table(title: str, *cols: str, numbers: int = 1) -> Table:
        """A plain table whose last ``numbers`` columns are right-aligned figures."""
        t = Table(title=title, title_justify="left", title_style="bold", box=None,
                  header_style="bold", pad_edge=False)
        for i, c in enumerate(cols):
            t.add_column(c, justify="right" if i >= len(cols) - numbers else "left")
        return t

    pct = f"{s.task_ratio:.1%}"
    flow = table("What came in and what became of it", "", "alerts")
    flow.add_row("received", str(s.alerts_received))
    for k, v in s.received_by_source.items():
        flow.add_row(f"  from {e(k)}", str(v))
    for k, v in s.received_by_status.items():
        flow.add_row(f"  {e(k)}", str(v))
    flow.add_row("rejected requests", str(sum(s.rejected_requests.values())))
    flow.add_row("rejected alerts", str(sum(s.rejected_alerts.values())))
    if s.truncated_by_sender:
        flow.add_row("[yellow]left out by the sender (max_alerts)[/]",
                     f"[yellow]{s.truncated_by_sender}[/]")
    flow.add_row("duplicates (re-sends)", str(s.duplicates))
    flow.add_row("[bold]tasks created[/]", f"[bold]{s.tasks_created}[/] ({pct} of received)")
    flow.add_row("  for unmanaged hosts", str(s.unmanaged_tasks))
    flow.add_row("attached to an open task", str(s.attached))
    flow.add_row("silenced", str(sum(x["alerts"] for x in s.silenced)))
    flow.add_row("held as flapping", str(sum(x["alerts"] for x in s.flapping)))
    flow.add_row("resolved before work started", str(s.resolved_before_start))
    flow.add_row("resolved, noted on a task", str(s.resolved_noted))
    flow.add_row("resolved, no task", str(s.resolved_without_task))
    out.print(flow, "")

    p = s.pages
    pages = table("Pages that would be sent", "", "pages")
    pages.add_row("without CCM (critical firing episodes)", str(p.without_ccm))
    pages.add_row("with CCM, before remediation (unmanaged hosts)", str(p.with_ccm))
    pages.add_row("[bold green]avoided[/]", f"[bold green]{p.avoided}[/]")
    pages.add_row("with CCM if every open task escalated", str(p.with_ccm_if_all_remediation_fails))
    out.print(pages, "")

    if s.silenced or s.flapping:
        held = table("Suppressed, and why", "why", "alerts")
        for x in s.silenced:
            held.add_row(e(f"silence {x['id']}: {' '.join(x['matchers'])}"
                           f"{' — ' + x['reason'] if x['reason'] else ''}"), str(x["alerts"]))
        for x in s.flapping:
            held.add_row(e(f"flapping: {x['alertname']} on {x['host']}"), str(x["alerts"]))
        out.print(held, "")

    if s.top_noisy:
        noisy = table("Noisiest alerts (firing and resolved notifications)", "alert", "host",
                      "received")
        for x in s.top_noisy:
            noisy.add_row(e(x["alertname"]), e(x["host"]), str(x["received"]))
        out.print(noisy, "")

    if s.tasks_by_host:
        hosts = table("Tasks per host", "host", "tasks")
        ranked = list(s.tasks_by_host.items())
        for host, n in ranked[:HOSTS_SHOWN]:
            unmanaged = " [yellow](unmanaged)[/]" if host in s.unmanaged_hosts else ""
            hosts.add_row(e(host) + unmanaged, str(n))
        if len(ranked) > HOSTS_SHOWN:
            rest = ranked[HOSTS_SHOWN:]
            hosts.add_row(f"[dim]… {len(rest)} more hosts[/]",
                          f"[dim]{sum(n for _, n in rest)}[/]")
        out.print(hosts, "")
    if s.rejections:
        total = sum(s.rejected_requests.values()) + sum(s.rejected_alerts.values())
        shown = len(s.rejections)
        bad = table(f"Rejected (the first {shown} of {total}; the counts above have all)"
                    if total > shown else "Rejected",
                    "line", "endpoint", "reason", "error", numbers=0)
        for r in s.rejections:
            bad.add_row(str(r["line"]), e(r["endpoint"]), e(r["reason"]), e(r["error"][:100]))
        out.print(bad, "")
    if s.settings:
        used = s.settings
        limit = f", bodies over {used['max_body_bytes']} bytes refused" \
            if used.get("max_body_bytes") else ""
        out.print(f"[dim]as the configured receiver: held as flapping above "
                  f"{used['flap_threshold']} firings in {used['flap_window_minutes']} min"
                  f"{limit} (webhook.* in the config)[/]")


def _register_record() -> None:
    from ccm_tui.commands.ingest_record import record

    app.command("record")(record)


_register_record()
