"""``ccm pause``, ``ccm resume`` and ``ccm status``: the fleet-wide emergency stop."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ccm_tui.commands._common import print_json, redact_url, settings, to_jsonable, with_hub
from ccm_tui.core.states import ACTIVE_STATES, OPEN_STATES, TaskState
from ccm_tui.core.text import duration, plural, printable

if TYPE_CHECKING:
    from ccm_tui.core.model import HealthSnapshot, Silence, Task
    from ccm_tui.core.records import Control
    from ccm_tui.hub.base import Hub

ActorOpt = Annotated[
    str | None,
    typer.Option("--as", metavar="ACTOR", help="Record it under this name (default: `actor`)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]

#: An open task no daemon has held for this long means no daemon runs against this hub
#: (a live one claims new tasks within seconds and renews its leases well before expiry).
UNHELD_AFTER = timedelta(seconds=60)


def unheld_tasks(tasks: list[Task], now: datetime) -> list[Task]:
    """Open tasks no daemon is working on: new ones left unclaimed (on a host with no
    task running) and started ones whose lease was released or expired, for longer
    than :data:`UNHELD_AFTER`. Approvals of these wait until a daemon runs."""
    held = {t.host for t in tasks if t.state in ACTIVE_STATES
            and t.lease_expires_at is not None and t.lease_expires_at > now}
    out = []
    for t in tasks:
        if t.state is TaskState.NEW:
            stale = t.host not in held and now - t.created_at > UNHELD_AFTER
        elif t.state in ACTIVE_STATES:
            since = t.lease_expires_at or t.updated_at
            stale = now - since > UNHELD_AFTER
        else:
            stale = False
        if stale:
            out.append(t)
    return sorted(out, key=lambda t: t.created_at)


def _describe(c: Control) -> str:
    """The pause state as rich markup; who paused and why are shown literally."""
    from ccm_tui.commands._render import markup_safe

    if not c.paused:
        return "[green]running[/] — automatic fixes are on"
    since = c.updated_at.astimezone().strftime("%Y-%m-%d %H:%M") if c.updated_at else "?"
    why = f": {markup_safe(c.reason)}" if c.reason else ""
    return (f"[bold red]PAUSED[/] by {markup_safe(c.actor or '?')} since {since}{why} — "
            "fixes wait for approval; `ccm resume` turns them back on")


async def _pause(hub: Hub, who: str, reason: str, take_over: bool,
                 ) -> tuple[Control, bool]:
    """Pause, unless already paused: then the pause keeps who started it, when and why
    (what on-call needs to find the person), and this attempt goes to the audit log.
    ``take_over``: make the running pause this person's, with this reason, without a
    moment of automatic fixes in between (as resume-then-pause would)."""
    current = await hub.get_control()
    if current.paused:
        detail = {"reason": reason, "paused_by": current.actor,
                  "paused_reason": current.reason, "paused_since":
                  current.updated_at.isoformat() if current.updated_at else None}
        if take_over:
            await hub.audit(who, "pause.taken_over", "fleet", detail)
            return await hub.set_paused(True, actor=who, reason=reason), False
        await hub.audit(who, "pause.repeated", "fleet", detail)
        return current, True
    return await hub.set_paused(True, actor=who, reason=reason), False


async def _resume(hub: Hub, who: str) -> tuple[Control, bool]:
    """Resume; a hub that is not paused is left as it is (nothing to audit)."""
    current = await hub.get_control()
    if not current.paused:
        return current, False
    return await hub.set_paused(False, actor=who), True


def pause(
    ctx: typer.Context,
    reason: Annotated[
        str, typer.Option("--reason", "-r", metavar="TEXT", help="Why; shown to everyone.")
    ] = "",
    actor: ActorOpt = None,
    take_over: Annotated[bool, typer.Option(
        "--take-over", help="Already paused: make the pause yours, with your reason "
        "(fixes stay paused throughout).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Stop every automatic fix at once; proposed fixes wait for approval instead.

    Pausing a paused fleet changes nothing: it stays paused by whoever paused it
    first, since then, for their reason (your attempt is kept in the audit log);
    --take-over makes it yours.
    """
    who = actor or settings(ctx).actor
    control, already = with_hub(ctx, lambda hub: _pause(hub, who, reason, take_over))
    if as_json:
        print_json({**to_jsonable(control), "already_paused": already})
        return
    from ccm_tui.commands._render import console

    if already:
        typer.echo(f"ccm: fixes were already paused; the pause stays "
                   f"{printable(control.actor or '?')}'s "
                   "(yours is noted in the audit log; --take-over makes it yours)", err=True)
    console().print(_describe(control))


def resume(
    ctx: typer.Context,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Turn automatic fixes back on after `ccm pause`."""
    who = actor or settings(ctx).actor
    control, resumed = with_hub(ctx, lambda hub: _resume(hub, who))
    if as_json:
        print_json({**to_jsonable(control), "was_paused": resumed})
        return
    from ccm_tui.commands._render import console

    if not resumed:
        typer.echo("ccm: fixes were not paused; nothing to resume", err=True)
    console().print(_describe(control))


def status(
    ctx: typer.Context,
    as_json: JsonOpt = False,
) -> None:
    """Show the hub, whether fixes are paused, the fleet's health and tasks by state.

    The fleet's health comes from the latest probe of each host. Open tasks that no
    daemon has held for over a minute are named: nothing works on them, and their
    approvals wait, until `ccm up` or `ccm daemon` runs against this hub.
    """
    url = settings(ctx).hub

    async def fetch(hub: Hub) -> tuple[Control, dict[TaskState, int], list[Silence],
                                       set[str], dict[str, HealthSnapshot], list[Task]]:
        from ccm_tui.hub.base import TaskQuery

        return (await hub.get_control(), await hub.count_tasks(), await hub.list_silences(),
                {h.name for h in await hub.list_hosts()}, await hub.latest_health(),
                await hub.list_tasks(TaskQuery(states=sorted(OPEN_STATES), limit=10_000)))

    from ccm_tui.commands import _fleet_health
    from ccm_tui.core.model import utcnow

    control, counts, silences, hosts, latest, open_tasks = with_hub(ctx, fetch)
    now = utcnow()
    unheld = unheld_tasks(open_tasks, now)
    active = [x for x in silences if x.active_at(now)]
    scheduled = [x for x in silences if x.starts_at > now]
    fleet = _fleet_health.summarise(len(hosts | set(latest)), latest, now)  # probed, unsynced
    if as_json:
        data: dict[str, Any] = {
            "hub": redact_url(url),
            "paused": control.paused,
            "control": control,
            "fleet": fleet,
            "tasks": {s.value: counts.get(s, 0) for s in TaskState},
            "silences": {"active": len(active), "scheduled": len(scheduled)},
            "unheld": {"count": len(unheld), "tasks": [t.id for t in unheld[:20]],
                       "oldest_seconds": round((now - unheld[0].created_at)
                                               .total_seconds()) if unheld else None},
        }
        print_json(data)
        return
    from rich.table import Table

    from ccm_tui.commands._render import console, markup_safe, state_text

    out = console()
    out.print(f"[bold]hub[/]      {markup_safe(redact_url(url))}")
    out.print(f"[bold]fixes[/]    {_describe(control)}")
    if hosts or latest:
        out.print(f"[bold]fleet[/]    {_fleet_health.describe(fleet)}")
    if active or scheduled:
        first = (active or scheduled)[0]  # soonest-ending active, else the next window
        what = markup_safe(" ".join(str(m) for m in first.matchers))
        end = first.ends_at.astimezone()  # a 3-day silence "until 11:27" would read as today's
        when = f"until {end:%H:%M}" if end.date() == now.astimezone().date() \
            else f"until {end:%Y-%m-%d %H:%M}"
        if first not in active:
            when = f"from {first.starts_at.astimezone():%Y-%m-%d %H:%M}"
        more = len(active) + len(scheduled) - 1
        out.print(f"[bold]silences[/] {len(active)} active, {len(scheduled)} scheduled — "
                  f"{what} {when}{f' ({markup_safe(first.reason)})' if first.reason else ''}"
                  f"{f' and {more} more' if more else ''}: `ccm silence list`")
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("STATE")
    table.add_column("TASKS", justify="right")
    for s in TaskState:
        n = counts.get(s, 0)
        table.add_row(state_text(s), str(n) if n else "[dim]0[/]")
    total = sum(counts.values())
    table.add_row("[bold]total[/]", f"[bold]{total}[/]")
    out.print(table)
    waiting = counts.get(TaskState.AWAITING_APPROVAL, 0)
    if waiting:
        out.print(f"[yellow]{waiting} waiting for approval[/] — "
                  "`ccm tasks list --state awaiting_approval`")
    if unheld:
        ids = ", ".join(t.id for t in unheld[:3]) + (" …" if len(unheld) > 3 else "")
        out.print(f"[bold yellow]{plural(len(unheld), 'open task')} held by no daemon[/] "
                  f"({ids}; the oldest {duration((now - unheld[0].created_at).total_seconds())}"
                  " old) — nothing claims them, and approvals wait, until `ccm up` or "
                  "`ccm daemon` runs against this hub")


__all__ = ["pause", "resume", "status"]
