"""``ccm tasks list`` and ``ccm tasks show ID``: what CCM is working on, and why."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ccm_tui.commands._common import parse_duration, print_json, to_jsonable, with_hub
from ccm_tui.core.states import OPEN_STATES, TaskState

if TYPE_CHECKING:
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
        limit=limit,
    )
    found: list[Any] = []
    if wanted is None or wanted:  # `--open --state resolved` matches nothing
        found = with_hub(ctx, lambda hub: hub.list_tasks(query))
    if as_json:
        print_json(found)
        return
    from ccm_tui.commands._render import console, tasks_table

    out = console()
    if not found:
        out.print("[dim]no tasks[/] — alerts become tasks once `ccm webhook` or `ccm up` "
                  "receives them")
        return
    out.print(tasks_table(found))
    more = " (limit reached; --limit shows more)" if len(found) >= limit else ""
    out.print(f"[dim]{len(found)} task{'s' if len(found) != 1 else ''}{more}[/]")


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
    from ccm_tui.commands._render import approvals_table, console, task_detail, transcript

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
        out.print(f"\n[yellow]waiting for you:[/] ccm approve {task.id}  ·  "
                  f"ccm reject {task.id}  ·  ccm escalate {task.id}")


__all__ = ["app", "list_tasks", "show_task"]
