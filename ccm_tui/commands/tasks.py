"""``ccm tasks list`` and ``ccm tasks show ID``: what CCM is working on, and why."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ccm_tui.commands._common import parse_duration, print_json, to_jsonable, with_hub
from ccm_tui.core.errors import CCMError
from ccm_tui.core.states import OPEN_STATES, TaskState

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from ccm_tui.hub.base import Hub

app = typer.Typer(
    help="Tasks: one per alert on a host, from `new` to `resolved` or `escalated`.",
    no_args_is_help=True,
)


@app.command("list")
def list_tasks(
    ctx: typer.Context,
    state: Annotated[
        list[TaskState] | None,
        typer.Option(
            "--state", "-s", metavar="STATE",
            help="Only tasks in this state; repeat for several "
            f"({', '.join(s.value for s in TaskState)}).",
        ),
    ] = None,
    open_: Annotated[
        bool,
        typer.Option("--open", help="Only tasks still in progress (new or active)."),
    ] = False,
    host: Annotated[
        str | None, typer.Option("--host", metavar="HOST", help="Only tasks on this host.")
    ] = None,
    alertname: Annotated[
        str | None,
        typer.Option("--alert", metavar="NAME", help="Only tasks for this alert name."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", metavar="DURATION",
            help="Only tasks created within this long, e.g. 30m, 12h, 2d.",
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", metavar="N", min=1, help="Show at most this many tasks.")
    ] = 50,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array instead of a table.")
    ] = False,
) -> None:
    """List tasks, newest first."""
    from ccm_tui.core.model import utcnow
    from ccm_tui.hub.base import TaskQuery

    cutoff = None
    if since is not None:
        try:
            cutoff = utcnow() - parse_duration(since)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--since") from None
    wanted: set[TaskState] | None = set(state) if state else None
    if open_:
        wanted = (wanted & OPEN_STATES) if wanted is not None else set(OPEN_STATES)
    query = TaskQuery(
        states=sorted(wanted) if wanted else None,
        host=host,
        alertname=alertname,
        since=cutoff,
        limit=limit + 1,  # one more than shown: whether there are more to show
    )
    filters = _filters(state, open_, host, alertname, since)

    async def go(hub: Hub) -> tuple[list[Any], bool]:
        found: list[Any] = []
        if wanted is None or wanted:  # `--open --state resolved` matches nothing
            found = await hub.list_tasks(query)
        # with nothing found, say why: no task at all, or none that passes the filters
        any_task = bool(found) or (bool(filters) and bool(await hub.count_tasks()))
        return found, any_task

    found, any_task = with_hub(ctx, go)
    more = len(found) > limit
    found = found[:limit]
    if as_json:
        print_json(found)
        return
    from ccm_tui.commands._render import console, tasks_table

    out = console()
    if not found:
        if any_task:
            from ccm_tui.core.text import printable

            typer.echo(f"no tasks match {printable(' '.join(filters))}")
        else:
            out.print("[dim]no tasks[/] — alerts become tasks once `ccm webhook` or `ccm up` "
                      "receives them")
        return
    table = tasks_table(found)
    _fit(table, out)
    out.print(table)
    tail = f" (more than {limit}; --limit N shows more)" if more else ""
    out.print(f"[dim]{len(found)} task{'s' if len(found) != 1 else ''}{tail}[/]")


def require_task_id(task_id: str) -> str:
    """``task_id`` as given, or a :class:`CCMError` when it is empty (every id would
    start with it, so the hub would call it ambiguous)."""
    if not task_id.strip():
        raise CCMError("the task id is empty",
                       hint="give a task id or a unique prefix of one; `ccm tasks list` "
                       "shows them")
    return task_id


def _filters(state: list[TaskState] | None, open_: bool, host: str | None,
             alertname: str | None, since: str | None) -> list[str]:
    """The filters of ``tasks list`` as they were given, e.g. ``["--open", "--host web-01"]``."""
    from shlex import quote

    given = [f"--state {s.value}" for s in state or []]
    given += ["--open"] if open_ else []
    given += [f"{flag} {quote(value)}" for flag, value in
              (("--host", host), ("--alert", alertname), ("--since", since)) if value is not None]
    return given


#: The columns that give way, in this order, when the table is wider than the terminal,
#: and the width each keeps at that step (the summary, then the host name, are cut
#: first; on a narrow terminal the summary goes down to its ellipsis).
_GIVE_WAY = (("SUMMARY", 10), ("HOST", 12), ("SUMMARY", 1), ("HOST", 6))


def _fit(table: Table, out: Console) -> None:
    """Narrow SUMMARY, then HOST (ellipsised), then the gaps, until ``table`` fits ``out``.

    Every column of the tasks table is ``no_wrap``; rich shrinks all of them evenly when
    such a table is too wide, so a long host name cut ALERT to ``A…`` and hid ID and
    STATE. The ids, the state and the alert name are what a row is read for.
    """
    from rich.measure import Measurement

    wide = out.options.update_width(100_000)

    def natural() -> int:
        return Measurement.get(out, wide, table).maximum

    excess = natural() - out.width
    columns = {str(c.header): c for c in table.columns}
    for header, floor in _GIVE_WAY:
        if excess <= 0:
            break
        column = columns.get(header)
        if column is None:
            continue
        before, kept = natural(), column.max_width
        column.max_width = floor if kept is None else min(floor, kept)
        saved = before - natural()
        if saved > excess:  # narrower than needed: give back what is not needed
            column.max_width += saved - excess
        excess -= min(saved, excess)
    summary = columns.get("SUMMARY")
    if summary is not None and summary.max_width is not None and summary.max_width <= 1:
        table.columns.remove(summary)  # a lone "…" says nothing; `ccm tasks show` has it
        excess = natural() - out.width
    if excess > 0:  # still too wide (80 columns, awaiting_approval): one space between
        table.collapse_padding = True
        excess = natural() - out.width
    alert = columns.get("ALERT")
    if excess > 0 and alert is not None:  # and last, the alert name, down to 12
        longest = max((len(str(c)) for c in alert.cells), default=0)
        alert.max_width = max(12, longest - excess)


@app.command("show")
def show_task(
    ctx: typer.Context,
    task_id: Annotated[
        str, typer.Argument(metavar="ID", help="Task id, or a unique prefix of it.")
    ],
    events: Annotated[
        bool,
        typer.Option("--events/--no-events", help="Include the transcript of agent events."),
    ] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of a rich view.")
    ] = False,
) -> None:
    """Show one task: its state, the decision and its inputs, approvals and transcript."""
    require_task_id(task_id)

    async def fetch(hub: Hub) -> tuple[Any, list[Any], list[Any]]:
        task = await hub.get_task(task_id)
        evs = await hub.list_events(task.id) if events else []
        approvals = await hub.list_approvals(task.id)
        return task, evs, approvals

    task, evs, approvals = with_hub(ctx, fetch)
    if as_json:
        data = to_jsonable(task)
        data["approvals"] = to_jsonable(approvals)
        if events:
            data["events"] = to_jsonable(evs)
        print_json(data)
        return
    from ccm_tui.commands._render import (
        approvals_table,
        console,
        markup_safe,
        task_detail,
        transcript,
    )

    out = console()
    out.print(task_detail(task))
    if approvals:
        out.print("\n[bold]approvals[/]")
        out.print(approvals_table(approvals))
    if events:
        out.print(f"\n[bold]transcript[/] [dim]({len(evs)} events)[/]")
        if evs:
            out.print(transcript(evs))
    if task.state is TaskState.AWAITING_APPROVAL:
        tid = markup_safe(task.id)
        out.print(f"\n[yellow]waiting for you:[/] ccm approve {tid}  ·  "
                  f"ccm reject {tid}  ·  ccm escalate {tid}")


__all__ = ["app", "list_tasks", "require_task_id", "show_task"]
