"""``ccm runbooks stats [ID]`` and ``ccm runbooks mode ID MODE``: what the daemon has
learned of each runbook, and an operator's override of it.

The daemon keeps a track record per (runbook, host group) in the hub — successes,
failures, approvals, rejections and the mode it has promoted or demoted the runbook to
(see :mod:`ccm_tui.daemon.rails`). ``stats`` shows it, with the circuit breakers that
make a runbook escalate instead of fixing right now; ``mode`` sets the mode by hand
(``file`` hands it back to the runbook file), audited as ``runbook.set``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ccm_tui.commands._common import print_json, settings, with_hub
from ccm_tui.core.errors import CCMError, InventoryError, NotFound
from ccm_tui.core.text import plural

if TYPE_CHECKING:
    from ccm_tui.core.records import RunbookStats
    from ccm_tui.hub.base import Hub
    from ccm_tui.runbooks.loader import Catalog

#: The promotion ladder (as :mod:`ccm_tui.daemon.rails` climbs it) and what ``mode`` takes.
LADDER = ("shadow", "suggest", "auto")
MODES = (*LADDER, "file")

GroupOpt = Annotated[
    list[str] | None,
    typer.Option("--group", "-g", metavar="GROUP",
                 help="Only this host group (a host's first group); repeat for several."),
]
DirsOpt = Annotated[
    list[Path] | None,
    typer.Option("--dir", "-d", metavar="DIR",
                 help="Also load runbooks from this folder (or file); repeat for several."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@dataclass(frozen=True)
class Breaker:
    """A circuit breaker that is open now: the runbook escalates instead of fixing."""

    runbook: str
    scope: str  # "host" or "fleet"
    host: str
    reason: str


@dataclass
class Record:
    """``ccm runbooks stats``: the track records and the open breakers."""

    promote_after: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    breakers: list[Breaker] = field(default_factory=list)
    without_record: list[str] = field(default_factory=list)


def _catalog(ctx: typer.Context, dirs: list[Path] | None) -> Catalog:
    from ccm_tui.commands.runbooks import runbook_dirs
    from ccm_tui.runbooks import load_catalog

    return load_catalog(runbook_dirs(ctx, dirs))


def _file_mode(catalog: Catalog, runbook: str) -> str:
    rb = catalog.get(runbook)
    return str((rb.data or {}).get("mode", "suggest")) if rb is not None and rb.data else "suggest"


def _unknown(runbook: str, catalog: Catalog) -> NotFound:
    known = ", ".join(sorted(r.id for r in catalog.valid()))
    return NotFound(f"no runbook {runbook!r} (known: {known})",
                    hint="list them with `ccm runbooks list`; a runbook of your own must be in "
                    "a configured runbook_dirs folder or named with --dir")


def _row(s: RunbookStats, file_mode: str, promote_after: int) -> dict[str, Any]:
    mode = s.mode.value if s.mode else file_mode
    level = LADDER.index(mode) if mode in LADDER else 1
    next_mode = LADDER[level + 1] if level + 1 < len(LADDER) else None
    # A shadow run only dry-runs (its task escalates): it earns no success; endorsements
    # of its plans (`ccm approve` on those tasks) take it out of shadow instead.
    earned = next_mode is not None and mode != "shadow"
    return {
        "runbook": s.runbook, "host_group": s.host_group, "mode": mode,
        "mode_source": "hub" if s.mode else "file", "file_mode": file_mode,
        "successes": s.successes, "failures": s.failures, "approvals": s.approvals,
        "rejections": s.rejections, "prior": round(s.success_rate, 4), "streak": s.streak,
        "promotes_to": next_mode,
        "successes_to_promotion": max(promote_after - s.streak, 0) if earned else None,
        "endorsements_to_promotion": promote_after if mode == "shadow" else None,
        "updated_at": s.updated_at,
    }


async def _breakers(hub: Hub, runbooks: set[str] | None, now: datetime) -> list[Breaker]:
    """The circuit breakers open now: the daemon's own rules
    (:func:`ccm_tui.daemon.rails.host_breaker` and :func:`~ccm_tui.daemon.rails.fleet_breaker`)
    for each runbook and each host it ran on in the last 24 h."""
    from ccm_tui.daemon.options import DaemonOptions
    from ccm_tui.daemon.rails import fleet_breaker, host_breaker, recent_runbook_tasks

    o = DaemonOptions()
    recent = [t for t in await recent_runbook_tasks(hub, now)
              if runbooks is None or t.runbook in runbooks]
    out: list[Breaker] = []
    for rb, host in sorted({(str(t.runbook), t.host) for t in recent}):
        why = host_breaker(recent, rb, host, o)
        if why:
            out.append(Breaker(rb, "host", host, f"{why.removeprefix('circuit breaker: ')}"
                               f" — the next alert on {host} escalates"))
    for rb in sorted({str(t.runbook) for t in recent}):
        why = fleet_breaker(recent, rb, o, now)
        if why:
            out.append(Breaker(rb, "fleet", "", f"{why.removeprefix('circuit breaker: ')}"
                               " — every alert escalates"))
    return out


def stats(
    ctx: typer.Context,
    runbook_id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="Only this runbook.")] = None,
    groups: GroupOpt = None,
    dirs: DirsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show what the daemon has learned of each runbook, per host group.

    Successes, failures, approvals and rejections; the prior the agent's confidence is
    multiplied by; the mode in effect (promoted or demoted by the daemon, or set with
    `ccm runbooks mode`) and how many successes in a row promote it; and the circuit
    breakers open now, which make a runbook escalate instead of fixing.
    """
    from ccm_tui.core.model import utcnow
    from ccm_tui.daemon.options import DaemonOptions

    catalog = _catalog(ctx, dirs)
    promote_after = DaemonOptions().promote_after

    async def fetch(hub: Hub) -> Record:
        records = await hub.runbook_stats(runbook_id)
        if runbook_id is not None and not records and catalog.get(runbook_id) is None:
            raise _unknown(runbook_id, catalog)
        wanted = set(groups or [])
        rec = Record(promote_after)
        rec.rows = [_row(s, _file_mode(catalog, s.runbook), promote_after) for s in records
                    if not wanted or s.host_group in wanted]
        rec.rows.sort(key=lambda r: (r["runbook"], r["host_group"]))
        seen = {r["runbook"] for r in rec.rows}
        ids = [runbook_id] if runbook_id else sorted(r.id for r in catalog.valid())
        rec.without_record = [i for i in ids if i not in seen]
        rec.breakers = await _breakers(hub, {runbook_id} if runbook_id else None, utcnow())
        return rec

    rec = with_hub(ctx, fetch)
    if as_json:
        print_json(rec)
        return
    _render(rec)


def _render(rec: Record) -> None:
    from rich.table import Table
    from rich.text import Text

    from ccm_tui.commands._render import console, fit_widths, markup_safe, plain
    from ccm_tui.commands.runbooks import MODE_STYLES

    out = console()
    if rec.rows:
        # no box, as every other listing: at 80 columns its 28 columns of lines left the
        # runbook names 8
        table = Table(title="Runbook track records", title_justify="left", box=None,
                      header_style="bold", pad_edge=False)
        rows = []
        for r in rec.rows:
            style = MODE_STYLES.get(r["mode"], "")
            mode = plain(r["mode"], style) + ("" if r["mode_source"] == "hub" else " (file)")
            nxt = ("-" if not r["promotes_to"] else
                   f"{r['promotes_to']} in {r['successes_to_promotion']}"
                   if r["successes_to_promotion"] is not None else
                   f"{r['promotes_to']}: {r['endorsements_to_promotion']} endorsed")
            rows.append([plain(r["runbook"]), plain(r["host_group"]), mode,
                         *(Text(str(r[k])) for k in ("successes", "failures", "approvals",
                                                     "rejections")),
                         Text(f"{r['prior']:.0%}"), plain(nxt)])
        heads = ("runbook", "group", "mode", "ok", "fail", "appr", "rej", "prior", "next")
        natural = [max([len(h)] + [row[i].cell_len for row in rows])
                   for i, h in enumerate(heads)]
        # the figures never shrink (at 80 columns rich dropped all five); names give way
        widths = fit_widths(natural, out.width, 2 * (len(heads) - 1), (0, 1, 8))
        for i, (h, n, w) in enumerate(zip(heads, natural, widths, strict=True)):
            table.add_column(h, style="bold cyan" if h == "runbook" else "", no_wrap=True,
                             justify="right" if 3 <= i <= 7 else "left",
                             min_width=w, max_width=w if w < n else None)
        for row in rows:
            table.add_row(*row)
        out.print(table)
    if rec.without_record:
        names = markup_safe(", ".join(rec.without_record))
        out.print(f"[dim]No outcomes yet for {names}: "
                  f"{'it runs' if len(rec.without_record) == 1 else 'they run'} in the file's "
                  "mode with a prior of 95%.[/]")
    if rec.breakers:
        out.print("[bold red]Circuit breakers open[/] (escalate instead of fixing):")
        for b in rec.breakers:
            out.print(f"  {markup_safe(b.runbook)}: {markup_safe(b.reason)}")
    elif rec.rows:
        out.print("[green]No circuit breaker is open.[/]")
    out.print(f"[dim]{plural(rec.promote_after, 'success', 'successes')} in a row (automatic or "
              "approved) promote a runbook one mode on a host group (next: the mode it climbs "
              "to, in that many successes); one failure demotes it. A shadow runbook only "
              "dry-runs and escalates: `ccm approve TASK` on such a task endorses its plan, "
              "and that many endorsements since its last mode change (and since the last "
              "plan rejected with `ccm reject TASK`) promote it.[/]")


async def _inventory_groups(ctx: typer.Context) -> set[str]:
    """The host groups of the inventory (a host's first group, as the daemon keys them)."""
    from ccm_tui.commands.fleet import load_fleet

    try:
        inventory = load_fleet(ctx)
    except (InventoryError, OSError):
        return set()
    return {h.groups[0] if h.groups else "ungrouped" for h in inventory}


def mode(
    ctx: typer.Context,
    runbook_id: Annotated[str, typer.Argument(metavar="ID", help="The runbook id.")],
    new_mode: Annotated[str, typer.Argument(
        metavar="MODE", help="shadow, suggest, auto, or file (back to the runbook file's mode).")],
    groups: GroupOpt = None,
    reason: Annotated[
        str, typer.Option("--reason", "-r", metavar="TEXT", help="Why; kept in the audit log.")
    ] = "",
    actor: Annotated[
        str | None, typer.Option("--as", metavar="ACTOR",
                                 help="Record it under this name (default: `actor`).")] = None,
    dirs: DirsOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Set a runbook's mode by hand: shadow (dry run), suggest, auto, or file.

    Without --group it applies to every host group of the inventory and every group the
    runbook has a track record on; a group added to the inventory later follows the
    runbook file's mode (edit its `mode:` to change that). The daemon goes on promoting
    and demoting from here; each change is in the audit log as runbook.set.
    """
    from ccm_tui.core.model import RunbookMode

    chosen = new_mode.strip().lower()
    if chosen not in MODES:
        raise typer.BadParameter(f"{new_mode!r} is not a mode: use one of {', '.join(MODES)}",
                                 param_hint="MODE")
    if any(not g.strip() for g in groups or []):
        raise typer.BadParameter("a host group name cannot be empty", param_hint="--group")
    catalog = _catalog(ctx, dirs)
    if catalog.get(runbook_id) is None:
        raise _unknown(runbook_id, catalog)
    file_mode = _file_mode(catalog, runbook_id)
    who = actor or settings(ctx).actor
    target = None if chosen == "file" else RunbookMode(chosen)

    async def apply(hub: Hub) -> list[dict[str, Any]]:
        before = {s.host_group: s for s in await hub.runbook_stats(runbook_id)}
        names = sorted(set(groups or []) or (set(before) | await _inventory_groups(ctx)))
        if not names:
            raise CCMError(f"no host group to set {runbook_id} on: the inventory has none and "
                           "the runbook has no track record yet",
                           hint="name one with --group GROUP, or edit the runbook's `mode:`")
        changes = []
        for g in names:
            old = before.get(g)
            was = old.mode.value if old is not None and old.mode else f"{file_mode} (file)"
            after = await hub.set_runbook_mode(runbook_id, g, target)
            now = after.mode.value if after.mode else f"{file_mode} (file)"
            await hub.audit(who, "runbook.set", f"{runbook_id}@{g}",
                            {"from": was, "to": now, "reason": reason})
            changes.append({"runbook": runbook_id, "host_group": g, "from": was, "to": now})
        return changes

    changes = with_hub(ctx, apply)
    if as_json:
        print_json({"changes": changes, "actor": who, "reason": reason})
        return
    from ccm_tui.commands._render import console, markup_safe

    out = console()
    for c in changes:
        same = " (unchanged)" if c["from"] == c["to"] else ""
        out.print(f"{markup_safe(c['runbook'])} on [bold]{markup_safe(c['host_group'])}[/]: "
                  f"{c['from']} → {c['to']}{same}")
    out.print(f"[dim]Recorded in the audit log as runbook.set by {markup_safe(who)}. "
              "`ccm runbooks stats` shows the track records.[/]")
