"""``ccm silence add|list|expire``: silences and maintenance windows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from ccm_tui.commands._common import parse_duration, print_json, settings, with_hub
from ccm_tui.core.errors import ConfigError, DomainError, NotFound
from ccm_tui.core.text import plural, printable

if TYPE_CHECKING:
    from ccm_tui.core.model import Silence
    from ccm_tui.hub.base import Hub

app = typer.Typer(help="Silences and maintenance windows: matching alerts make no task.",
                  no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
ActorOpt = Annotated[str | None, typer.Option(
    "--as", metavar="ACTOR", help="Who is doing this (default: the config's actor).")]


def _start(text: str | None) -> datetime:
    from ccm_tui.core.model import utcnow

    now = utcnow()
    if not text or text == "now":
        return now
    if text.startswith("+"):
        try:
            return now + parse_duration(text[1:])
        except ValueError as exc:
            raise ConfigError(f"--start {text!r}: {exc}", hint="e.g. --start +1h") from None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--start {text!r} is neither +DURATION nor an ISO time",
                          hint="e.g. --start +1h or --start 2026-11-28T02:00:00Z") from None
    return when if when.tzinfo else when.astimezone()


@app.command("add")
def add(
    ctx: typer.Context,
    matchers: Annotated[list[str], typer.Argument(
        metavar="MATCHER...",
        help="Label matchers, all of which must hold: host=~web-.*, alertname=DiskFull, "
             "env!=prod. host and alertname are always available.")],
    duration: Annotated[str, typer.Option(
        "--for", metavar="DURATION", help="How long, e.g. 30m, 2h, 1d.")] = "2h",
    start: Annotated[str | None, typer.Option(
        "--start", metavar="WHEN",
        help="When it starts: now (default), +1h, or an ISO time — a maintenance window.")] = None,
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT",
                                        help="Why; shown with the silence.")] = "",
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Silence matching alerts for a while (or schedule a maintenance window)."""
    from ccm_tui.core.matchers import parse_matcher
    from ccm_tui.core.model import Silence

    try:
        parsed = tuple(parse_matcher(m) for m in matchers)
    except DomainError as exc:
        raise ConfigError(str(exc), hint="quote each matcher: 'host=~web-.*'") from None
    try:
        length = parse_duration(duration)
    except ValueError as exc:
        raise ConfigError(f"--for: {exc}", hint="e.g. --for 2h") from None
    if length <= timedelta(0):
        raise ConfigError(f"--for {duration!r} must be positive", hint="e.g. --for 2h")
    begins = _start(start)
    who = actor or settings(ctx).actor

    async def go(hub: Hub) -> tuple[Silence, Coverage]:
        silence = await hub.add_silence(Silence(parsed, begins, begins + length, reason, who))
        return silence, await _coverage(hub, silence)

    silence, cover = with_hub(ctx, go)
    if as_json:
        print_json({**_as_dict(silence), "hosts_matched": cover.hosts,
                    "hosts_known": cover.known, "open_tasks_matched": cover.tasks})
        return
    kind = "maintenance window" if begins > datetime.now(begins.tzinfo) + timedelta(seconds=5) \
        else "silence"
    typer.echo(f"{kind} {silence.id}: {printable(' '.join(str(m) for m in parsed))} until "
               f"{silence.ends_at.astimezone():%Y-%m-%d %H:%M %Z}"
               f"{f' — {printable(reason)}' if reason else ''}")
    if cover.hosts is not None and cover.known:  # (a hub that knows no hosts: nothing to say)
        typer.echo(f"  matches {len(cover.hosts)} of {plural(cover.known, 'host')}"
                   + (f": {printable(', '.join(cover.hosts[:8]))}{' …' if len(cover.hosts) > 8 else ''}"
                      if cover.hosts else ""))
        if not cover.hosts:
            typer.echo(f"ccm silence: warning: no host the hub knows matches "
                       f"{printable(' '.join(str(m) for m in parsed if m.name == 'host'))}"
                       " — a typo? "
                       f"It stays until expired: `ccm silence expire {silence.id}`", err=True)
    if cover.waiting:
        them = "it" if len(cover.waiting) == 1 else "them"
        typer.echo(f"  matches {plural(len(cover.waiting), 'task')} not started yet "
                   f"({_ids(cover.waiting)}): while the silence lasts, a fix for {them} "
                   "waits for approval")
    if cover.started:
        typer.echo(f"  matches {plural(len(cover.started), 'task')} already under way "
                   f"({_ids(cover.started)}): an agent still diagnosing asks for approval "
                   "instead; a fix already running goes on — `ccm escalate TASK` hands one "
                   "to a human")


def _ids(ids: list[str]) -> str:
    return ", ".join(ids[:8]) + (" …" if len(ids) > 8 else "")


@dataclass
class Coverage:
    """What a new silence matches now: hosts (``None`` without a ``host`` matcher), how
    many hosts the hub knows, and open tasks not started yet or already under way."""

    hosts: list[str] | None
    known: int
    waiting: list[str]
    started: list[str]

    @property
    def tasks(self) -> list[str]:
        return self.waiting + self.started


async def _coverage(hub: Hub, silence: Silence) -> Coverage:
    from ccm_tui.core.matchers import matches_all
    from ccm_tui.core.states import OPEN_STATES, TaskState
    from ccm_tui.hub.base import TaskQuery

    known = [h.name for h in await hub.list_hosts()]
    on_host = [m for m in silence.matchers if m.name == "host"]
    hosts = [h for h in known if matches_all(on_host, {"host": h})] if on_host else None
    open_tasks = await hub.list_tasks(TaskQuery(states=list(OPEN_STATES), limit=10_000))
    matched = [t for t in open_tasks if matches_all(silence.matchers, t.match_labels)]
    return Coverage(hosts, len(known), [t.id for t in matched if t.state is TaskState.NEW],
                    [t.id for t in matched if t.state is not TaskState.NEW])


def _state(s: Silence, now: datetime) -> str:
    """``active``, ``scheduled`` (a maintenance window not begun) or ``expired`` (ended by
    ``ccm silence expire`` or by reaching its end): the STATE column and ``state`` in JSON."""
    if s.expired_at or s.ends_at <= now:
        return "expired"
    return "active" if s.active_at(now) else "scheduled"


def _ended(s: Silence) -> datetime:
    """When the silence ends or ended: its planned end, or the moment it was expired if
    that came first."""
    return min(s.ends_at, s.expired_at) if s.expired_at else s.ends_at


def _as_dict(s: Silence, now: datetime | None = None) -> dict[str, object]:
    from ccm_tui.core.model import utcnow

    return {"id": s.id, "matchers": [str(m) for m in s.matchers],
            "state": _state(s, now or utcnow()),
            "starts_at": s.starts_at.isoformat(), "ends_at": s.ends_at.isoformat(),
            "reason": s.reason, "created_by": s.created_by,
            "expired_at": s.expired_at.isoformat() if s.expired_at else None}


@app.command("list")
def list_(
    ctx: typer.Context,
    show_all: Annotated[bool, typer.Option("--all", help="Include expired silences.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List current silences and upcoming maintenance windows."""

    async def go(hub: Hub) -> list[Silence]:
        return await hub.list_silences(include_expired=show_all)

    from ccm_tui.core.model import utcnow

    silences = with_hub(ctx, go)
    now = utcnow()
    if as_json:
        print_json([_as_dict(s, now) for s in silences])
        return
    from rich.table import Table
    from rich.text import Text

    from ccm_tui.commands._render import console, plain

    if not silences:
        typer.echo("no silences")
        return
    table = Table(box=None, header_style="bold")
    # what a silence is and when it ends never wrap; its matchers (one a line), who made
    # it and why do, so at 80 columns a matcher is not cut to `alertname=D…`
    for col in ("ID", "MATCHERS", "STATE", "FROM", "UNTIL", "BY", "REASON"):
        free = col in {"MATCHERS", "BY", "REASON"}
        table.add_column(col, no_wrap=not free, overflow="fold" if free else "ellipsis")
    for s in silences:
        # UNTIL: when it ends, or for an expired one when it actually ended
        table.add_row(str(s.id), Text("\n").join(plain(m) for m in s.matchers), _state(s, now),
                      f"{s.starts_at.astimezone():%m-%d %H:%M}",
                      f"{_ended(s).astimezone():%m-%d %H:%M}", plain(s.created_by),
                      plain(s.reason))
    console().print(table)


@app.command("expire")
def expire(
    ctx: typer.Context,
    silence_id: Annotated[int, typer.Argument(metavar="ID", help="The silence to end.")],
    actor: ActorOpt = None,
) -> None:
    """End a silence now (audited). One that has already ended is left as it is."""
    from ccm_tui.core.model import utcnow

    who = actor or settings(ctx).actor

    async def go(hub: Hub) -> tuple[Silence, bool]:
        every = await hub.list_silences(include_expired=True)
        known = next((s for s in every if s.id == silence_id), None)
        if known is not None and _state(known, utcnow()) == "expired":
            return known, False
        return await hub.expire_silence(silence_id, actor=who), True

    try:
        silence, now_expired = with_hub(ctx, go)
    except NotFound as exc:
        raise NotFound(str(exc), hint="list them with `ccm silence list --all`") from None
    if now_expired:
        typer.echo(f"silence {silence.id} expired")
        return
    planned = "" if silence.expired_at and silence.expired_at < silence.ends_at \
        else " (its planned end)"
    typer.echo(f"silence {silence.id} was already expired at "
               f"{_ended(silence).astimezone():%Y-%m-%d %H:%M %Z}{planned}")
